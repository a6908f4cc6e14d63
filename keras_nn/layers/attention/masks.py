"""The boolean masks of scaled dot-product and multi-head attention, and the masked softmax they feed.

Masks are booleans, True where a query may attend to a key. `make_padding_mask` marks the real tokens of a
sequence, `make_causal_mask` the keys at or before each query's position (the decoder's look-ahead mask, also
for a query block that starts at `start_index` of a cache) and `merge_masks` combines them into one mask
broadcastable to `[batch, Tq, Tk]`. Masked keys get exactly zero weight; a query whose every key is masked
gets all-zero weights (and a zero context), never NaN. The softmax runs in float32 under mixed precision.
"""

import contextlib

from keras import ops
from keras.src.backend.common.masking import get_keras_mask, set_keras_mask

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


def make_sliding_window_mask(query_length, key_length, window, start_index=0):
    """The band of `keras.layers.MultiHeadAttention(sliding_window=w)`: `[Tq, Tk]` booleans, True where
    `|start_index + i - j| < window` (combine with the causal mask for a causal window).

    Args:
        query_length, key_length, start_index: as `make_causal_mask`.
        window: the positive band width `w`.
    """
    rows = ops.arange(query_length, dtype="int32") + ops.cast(start_index, "int32")
    columns = ops.arange(key_length, dtype="int32")
    return ops.less(ops.abs(ops.expand_dims(rows, 1) - ops.expand_dims(columns, 0)), window)


def keras_mask(tensor):
    """The Keras mask attached to `tensor` (by `Embedding(mask_zero=True)`, `Masking`, ...), or None."""
    return None if tensor is None else get_keras_mask(tensor)


@contextlib.contextmanager
def hidden_keras_masks(*tensors):
    """Detaches the Keras masks of `tensors` for the `with` body and puts them back after it.

    For a layer that has read the masks and applies them itself: its sublayers then neither apply them again
    nor warn that they drop them (keras.layers.MultiHeadAttention deletes them for good; this leaves the
    caller's tensors as they were).
    """
    saved = [(tensor, get_keras_mask(tensor)) for tensor in tensors if tensor is not None]
    for tensor, mask in saved:
        if mask is not None:
            set_keras_mask(tensor, None)
    try:
        yield
    finally:
        for tensor, mask in saved:
            if mask is not None:
                set_keras_mask(tensor, mask)


def merge_masks(padding_mask=None, attention_mask=None, causal_mask=None):
    """One boolean mask broadcastable to `[batch, Tq, Tk]` from any of the three kinds, or None for none.

    Args:
        padding_mask: `[batch, Tk]`, True at the real keys (`make_padding_mask` of the key tokens).
        attention_mask: `[batch, Tq, Tk]` (or broadcastable), True where query `i` may see key `j`.
        causal_mask: `[Tq, Tk]` from `make_causal_mask`.
    """
    if padding_mask is not None:
        padding_mask = ops.expand_dims(padding_mask, -2)
    return intersect_masks(padding_mask, attention_mask, causal_mask)


def intersect_masks(*masks):
    """The AND of the boolean masks given (broadcast together; None entries skipped), or None for none."""
    masks = [ops.cast(mask, "bool") for mask in masks if mask is not None]
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
