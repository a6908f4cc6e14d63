"""Scaled dot-product and multi-head attention (Vaswani et al. 2017), with the padding and look-ahead masks
and the key/value cache of step-by-step decoding.

Masks are booleans, True where a query may attend to a key. `make_padding_mask` marks the real tokens of a
sequence, `make_causal_mask` the keys at or before each query's position (the decoder's look-ahead mask, also
for a query block that starts at `start_index` of a cache) and `merge_masks` combines them into one mask
broadcastable to `[batch, Tq, Tk]`. Masked keys get exactly zero weight; a query whose every key is masked
gets all-zero weights (and a zero context), never NaN. The softmax runs in float32 under mixed precision.
"""

import math

import keras
from keras import ops

from keras_nn.errors import ConfigError, ShapeError

# Added to masked scores before the softmax: far below any real score, and finite, so a fully masked row gives
# a uniform softmax (zeroed afterwards) rather than NaN.
_MASKED_SCORE = -1e9


def make_padding_mask(token_ids, pad_id=0):
    """`[batch, T]` booleans, True at the real tokens (those that are not `pad_id`)."""
    return ops.not_equal(ops.convert_to_tensor(token_ids), pad_id)


def make_causal_mask(query_length, key_length=None, start_index=0):
    """The look-ahead mask: `[Tq, Tk]` booleans, True where key `j <= start_index + i` for query `i`.

    Args:
        query_length: queries `Tq` (an int or a scalar tensor).
        key_length: keys `Tk`; default `query_length`.
        start_index: absolute position of the first query, for a block of queries decoded against a cache
            whose key `j` is position `j` (an int or a scalar tensor).
    """
    key_length = query_length if key_length is None else key_length
    rows = ops.arange(query_length, dtype="int32") + ops.cast(start_index, "int32")
    columns = ops.arange(key_length, dtype="int32")
    return ops.greater_equal(ops.expand_dims(rows, 1), ops.expand_dims(columns, 0))


def merge_masks(padding_mask=None, attention_mask=None, causal_mask=None):
    """One boolean mask broadcastable to `[batch, Tq, Tk]` from any of the three kinds, or None for none.

    Args:
        padding_mask: `[batch, Tk]`, True at the real keys (`make_padding_mask` of the key tokens).
        attention_mask: `[batch, Tq, Tk]` (or broadcastable), True where query `i` may see key `j`.
        causal_mask: `[Tq, Tk]` from `make_causal_mask`.
    """
    masks = []
    if padding_mask is not None:
        masks.append(ops.expand_dims(ops.cast(padding_mask, "bool"), -2))
    for mask in (attention_mask, causal_mask):
        if mask is not None:
            masks.append(ops.cast(mask, "bool"))
    if not masks:
        return None
    merged = masks[0]
    for mask in masks[1:]:
        merged = ops.logical_and(merged, mask)
    return merged


def masked_softmax(scores, mask=None):
    """Softmax over the last axis in float32, cast back to the scores' dtype; masked entries are exactly 0.

    Args:
        scores: `[..., Tq, Tk]` attention logits.
        mask: booleans broadcastable to `scores`, True where attention is allowed.
    """
    dtype = scores.dtype
    scores = ops.cast(scores, "float32")
    if mask is not None:
        mask = ops.cast(mask, "bool")
        scores = ops.where(mask, scores, _MASKED_SCORE)
    # Over one key (a decoder's first step) the softmax is 1, and Keras warns about a softmax over one item.
    weights = ops.ones_like(scores) if scores.shape[-1] == 1 else ops.softmax(scores, axis=-1)
    if mask is not None:
        # Only a fully masked row still has weight on masked keys (a uniform softmax); it attends to nothing.
        weights = ops.where(mask, weights, 0.0)
    return ops.cast(weights, dtype)


def _check_rate(owner, dropout):
    if not 0.0 <= float(dropout) < 1.0:
        raise ConfigError(f"{owner}: dropout={dropout!r} must be in [0, 1)")


def _check_positive_int(owner, name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{owner}: {name}={value!r} must be a positive integer")


@keras.saving.register_keras_serializable(package="keras_nn")
class ScaledDotProductAttention(keras.layers.Layer):
    """`softmax(Q K^T / sqrt(d_k)) V`: each query's output is the average of the values weighted by how well
    their keys match the query, the match scaled by `1 / sqrt(d_k)` so that the softmax does not saturate for
    wide keys (Vaswani et al. 2017, section 3.2.1).

    Args:
        dropout: dropout rate on the attention weights (training only).
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        query: `[..., Tq, d_k]`.
        key: `[..., Tk, d_k]`.
        value: `[..., Tk, d_v]`.
        mask: optional booleans broadcastable to `[..., Tq, Tk]`, True where the query may attend to the key
            (padding: `[batch, 1, 1, Tk]` for `[batch, heads, Tq, d]` inputs; look-ahead: `make_causal_mask`).
        return_attention_scores: also return the weights `[..., Tq, Tk]` (before dropout).
        training: dropout on or off.

    Returns:
        `[..., Tq, d_v]`, or `(output, weights)` with `return_attention_scores=True`. The weights of each
        query sum to one over its unmasked keys and are exactly zero on masked keys (all zero if every key is
        masked).

    Example:
    >>> attention = keras_nn.layers.ScaledDotProductAttention()
    >>> q, k, v = np.ones((2, 3, 8)), np.ones((2, 5, 8)), np.ones((2, 5, 4))
    >>> output, weights = attention(q, k, v, mask=make_causal_mask(3, 5), return_attention_scores=True)
    >>> output.shape, weights.shape
    ((2, 3, 4), (2, 3, 5))

    References:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017, https://arxiv.org/abs/1706.03762.
    """

    def __init__(self, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        _check_rate(type(self).__name__, dropout)
        self.dropout = float(dropout)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        # Keras takes an argument named `mask` for a mask attached to the query and warns that a layer without
        # masking support drops it; this `mask` is the attention mask, and the output carries none.
        self.supports_masking = True

    def compute_mask(self, *args, **kwargs):
        return None

    def call(self, query, key, value, mask=None, return_attention_scores=False, training=None):
        depth = query.shape[-1]
        if depth is None or key.shape[-1] != depth:
            raise ShapeError(
                f"ScaledDotProductAttention: query and key need the same known last size; got {query.shape} "
                f"and {key.shape}"
            )
        query = ops.multiply(query, ops.cast(1.0 / math.sqrt(depth), query.dtype))
        weights = masked_softmax(ops.matmul(query, ops.swapaxes(key, -1, -2)), mask)
        output = ops.matmul(self.dropout_layer(weights, training=training), value)
        return (output, weights) if return_attention_scores else output

    def get_config(self):
        return {**super().get_config(), "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="keras_nn")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention: `h` scaled dot-product attentions over learned projections, concatenated and
    projected back (Vaswani et al. 2017, section 3.2.2), with a key/value cache for step-by-step decoding.

    The variables are those of `keras.layers.MultiHeadAttention`, in the same order and shapes (query, key and
    value kernels `[d, heads, key_dim]` with biases `[heads, key_dim]`, the output kernel `[heads, value_dim,
    d_out]` with bias `[d_out]`), so `ours.set_weights(keras_layer.get_weights())` gives the same outputs
    (tested). What this layer adds is the cache of keras-hub's `CachedMultiHeadAttention`:

    - `cache` is `[batch, 2, max_length, heads, key_dim]`: the projected keys (index 0) and values (index 1).
    - With `cache_update_index`, the keys and values of the current query block are written into the cache at
      that position (`ops.slice_update`) and the queries attend over the whole cache: pass a mask that hides
      the positions not written yet (`use_causal_mask=True` does so, starting at `cache_update_index`).
    - With `cache_update_index=None` the cache is used as it is (the encoder keys/values of cross-attention,
      projected once by `compute_cache`).

    Args:
        num_heads: attention heads `h`.
        key_dim: size of each head's queries and keys, `d_k` (usually `d_model / h`).
        value_dim: size of each head's values, `d_v`; default `key_dim`.
        dropout: dropout rate on the attention weights.
        use_bias: biases in the four projections.
        output_shape: output width (an int or a 1-tuple); default the query's width.
        kernel_initializer, bias_initializer: initializers of the projections.
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        query: `[batch, Tq, d]`.
        value: `[batch, Tk, d_v_in]`; default `query` (self-attention). Unused with a cache and no
            `cache_update_index`.
        key: `[batch, Tk, d_k_in]`; default `value`.
        attention_mask: booleans broadcastable to `[batch, Tq, Tk]` (or `[batch, heads, Tq, Tk]`), True where
            the query may attend to the key.
        use_causal_mask: also apply the look-ahead mask (shifted by `cache_update_index` when caching).
        return_attention_scores: also return the weights `[batch, heads, Tq, Tk]`.
        training: dropout on or off.
        cache: optional `[batch, 2, max_length, heads, key_dim]` key/value cache.
        cache_update_index: where the current keys/values go in the cache (int or scalar tensor), or None.

    Returns:
        `output [batch, Tq, d_out]`; then `cache` if a cache was given; then the scores if asked:
        `output`, `(output, scores)`, `(output, cache)` or `(output, cache, scores)`.

    Example:
    >>> attention = keras_nn.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = np.random.rand(3, 6, 8).astype("float32")
    >>> attention(x, x, use_causal_mask=True).shape
    (3, 6, 8)

    References:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017, https://arxiv.org/abs/1706.03762.
        keras-hub `CachedMultiHeadAttention` (the cache layout and update semantics).
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        _check_positive_int(owner, "num_heads", num_heads)
        _check_positive_int(owner, "key_dim", key_dim)
        if value_dim is not None:
            _check_positive_int(owner, "value_dim", value_dim)
        _check_rate(owner, dropout)
        if isinstance(output_shape, (list, tuple)):
            if len(output_shape) != 1:
                raise ConfigError(
                    f"{owner}: output_shape={output_shape!r} must be an int or a 1-tuple (the width)"
                )
            output_shape = output_shape[0]
        if output_shape is not None:
            _check_positive_int(owner, "output_shape", output_shape)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim or key_dim
        self.dropout = float(dropout)
        self.use_bias = use_bias
        # Not `self.output_shape`: Functional models and Sequential own that attribute name.
        self.output_width = output_shape
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(key_dim)

    def _projection(self, equation, output_shape, bias_axes, name):
        # A fresh initializer per projection, as Keras does: a shared seeded instance would repeat its values.
        return keras.layers.EinsumDense(
            equation,
            output_shape=output_shape,
            bias_axes=bias_axes if self.use_bias else None,
            kernel_initializer=self.kernel_initializer.__class__.from_config(
                self.kernel_initializer.get_config()
            ),
            bias_initializer=self.bias_initializer.__class__.from_config(self.bias_initializer.get_config()),
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, query_shape, value_shape=None, key_shape=None):
        # With only a cache (cross-attention keys/values computed elsewhere) assume self-attention widths.
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        for name, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) != 3:
                raise ShapeError(
                    f"MultiHeadAttention: {name} must be [batch, length, width]; got shape {shape}"
                )
        heads = self.num_heads
        self.query_dense = self._projection("abc,cde->abde", (None, heads, self.key_dim), "de", "query")
        self.query_dense.build(query_shape)
        self.key_dense = self._projection("abc,cde->abde", (None, heads, self.key_dim), "de", "key")
        self.key_dense.build(key_shape)
        self.value_dense = self._projection("abc,cde->abde", (None, heads, self.value_dim), "de", "value")
        self.value_dense.build(value_shape)
        width = self.output_width or query_shape[-1]
        self.output_dense = self._projection("abcd,cde->abe", (None, width), "e", "attention_output")
        self.output_dense.build((query_shape[0], query_shape[1], heads, self.value_dim))

    def compute_cache(self, value, key=None):
        """Projects keys and values once: the `[batch, 2, Tk, heads, key_dim]` cache of cross-attention."""
        self._check_cacheable()
        return ops.stack([self.key_dense(value if key is None else key), self.value_dense(value)], axis=1)

    def empty_cache(self, batch_size, max_length):
        """A zero `[batch, 2, max_length, heads, key_dim]` self-attention cache, filled step by step."""
        self._check_cacheable()
        return ops.zeros((batch_size, 2, max_length, self.num_heads, self.key_dim), dtype=self.compute_dtype)

    def _check_cacheable(self):
        if self.value_dim != self.key_dim:
            raise ConfigError(
                f"MultiHeadAttention: a key/value cache needs value_dim == key_dim; got {self.value_dim} and "
                f"{self.key_dim}"
            )

    def call(
        self,
        query,
        value=None,
        key=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
        cache=None,
        cache_update_index=None,
    ):
        value = query if value is None else value
        if cache is None:
            if cache_update_index is not None:
                raise ConfigError("MultiHeadAttention: cache_update_index needs a cache; pass cache=...")
            keys = self.key_dense(value if key is None else key)
            values = self.value_dense(value)
        elif cache_update_index is None:
            keys, values = cache[:, 0], cache[:, 1]
        else:
            start = [0, cache_update_index, 0, 0]
            keys = ops.slice_update(cache[:, 0], start, self.key_dense(value if key is None else key))
            values = ops.slice_update(cache[:, 1], start, self.value_dense(value))
            cache = ops.stack([keys, values], axis=1)
        queries = self.query_dense(query)
        if use_causal_mask:
            causal = make_causal_mask(
                ops.shape(queries)[1],
                ops.shape(keys)[1],
                0 if cache_update_index is None else cache_update_index,
            )
            attention_mask = merge_masks(attention_mask=attention_mask, causal_mask=causal)
        output, scores = self._attend(queries, keys, values, attention_mask, training)
        outputs = (
            (output,)
            + ((cache,) if cache is not None else ())
            + ((scores,) if return_attention_scores else ())
        )
        return outputs[0] if len(outputs) == 1 else outputs

    def _attend(self, queries, keys, values, mask, training):
        """Projected `[B, T, heads, d]` tensors -> `(output [B, Tq, d_out], weights [B, heads, Tq, Tk])`."""
        queries = ops.multiply(queries, ops.cast(self._inverse_sqrt_key_dim, queries.dtype))
        # Queries first: the TensorFlow backend runs this equation as two transposes and a batched matmul; the
        # keys-first equation of keras.layers.MultiHeadAttention costs a third transpose (same numbers).
        scores = ops.einsum("abcd,aecd->acbe", queries, keys)
        if mask is not None and len(mask.shape) == 3:
            mask = ops.expand_dims(mask, 1)  # [B, Tq, Tk] -> [B, 1, Tq, Tk], the same for every head
        weights = masked_softmax(scores, mask)
        context = ops.einsum("acbe,aecd->abcd", self.dropout_layer(weights, training=training), values)
        return self.output_dense(context), weights

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_shape": self.output_width,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
