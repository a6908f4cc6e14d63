"""`ScaledDotProductAttention`: `softmax(Q K^T / sqrt(d_k)) V` (Vaswani et al. 2017), with boolean masks."""

import math

import keras
from keras import ops

from keras_nn.errors import ShapeError
from keras_nn.layers.attention.masks import masked_softmax
from keras_nn.layers.validation import check_rate


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
        check_rate(type(self).__name__, "dropout", dropout)
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
