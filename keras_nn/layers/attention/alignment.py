"""What the attentions of recurrent encoder-decoders share: `BahdanauAttention` (additive) and
`LuongAttention` (multiplicative) score a decoder query against the encoder outputs differently, then align
the same way.

Both take a decoder query, one step `(batch, query_dim)` or many `(batch, Tq, query_dim)`, and the encoder
outputs `values` `(batch, Tv, value_dim)` (with optional separate `keys`), score every (query, key) pair,
turn the scores into weights with a softmax over the `Tv` axis (masked positions get exactly zero weight) and
return `(context, attention_weights)`: the weighted sum of the values and the weights themselves.
"""

from keras import ops

from keras_nn.errors import ShapeError


def alignment_softmax(scores, value_mask):
    """Softmax over the last (value) axis, in float32; masked values get weight 0 exactly."""
    dtype = scores.dtype
    scores = ops.cast(scores, "float32")
    if value_mask is None:
        return ops.cast(ops.softmax(scores, axis=-1), dtype)
    keep = ops.expand_dims(ops.cast(value_mask, "bool"), axis=-2)  # (batch, 1, Tv) against (batch, Tq, Tv)
    weights = ops.softmax(ops.where(keep, scores, ops.full_like(scores, -1e9)), axis=-1)
    # A row whose every value is masked would get a uniform softmax; zero it instead, as no value is valid.
    weights = ops.where(keep, weights, ops.zeros_like(weights))
    return ops.cast(weights, dtype)


def check_alignment_ranks(owner, query, values, keys):
    """Raises `ShapeError` unless the query is 2-D or 3-D and the values and keys are 3-D."""
    if len(query.shape) not in (2, 3):
        raise ShapeError(f"{owner}: query must be (batch, units) or (batch, Tq, units); got shape {query.shape}")
    for name, tensor in (("values", values), ("keys", keys)):
        if len(tensor.shape) != 3:
            raise ShapeError(f"{owner}: {name} must be (batch, Tv, units); got shape {tensor.shape}")


def align(scores, values, value_mask, single_query):
    """`(context, weights)` from `(batch, Tq, Tv)` scores; `single_query` drops the `Tq` axis of both."""
    weights = alignment_softmax(scores, value_mask)
    context = ops.matmul(weights, values)
    if single_query:
        return ops.squeeze(context, axis=1), ops.squeeze(weights, axis=1)
    return context, weights


def alignment_output_shapes(query_shape, values_shape):
    """The shapes of `(context, weights)` for a 2-D or 3-D query."""
    if len(query_shape) == 2:
        return (query_shape[0], values_shape[-1]), (query_shape[0], values_shape[1])
    return (*query_shape[:2], values_shape[-1]), (*query_shape[:2], values_shape[1])
