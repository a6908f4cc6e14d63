"""`LuongAttention`: multiplicative ("dot" or "general") attention of a recurrent decoder over the encoder
outputs."""

import keras
from keras import ops

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers.attention.alignment import align, alignment_output_shapes, check_alignment_ranks

LUONG_SCORES = ("dot", "general")


@keras.saving.register_keras_serializable(package="keras_nn")
class LuongAttention(keras.layers.Layer):
    """Multiplicative attention: `score(q, k) = q . k` ("dot") or `q W k` ("general"), softmax over the keys.

    With `score="dot"` this is `keras.layers.Attention(score_mode="dot")` (tested to give the same context
    and weights); "general" adds the learned matrix `W` (`kernel`, `(query_dim, key_dim)`), so query and
    keys may have different widths.

    Args:
        score: `"dot"` (query and keys of the same width, no weights) or `"general"`.
        kernel_initializer: initializer of `W` for "general".
        kernel_regularizer: optional regularizer of `W`.
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        query: `(batch, query_dim)` (one decoder step) or `(batch, Tq, query_dim)`.
        values: `(batch, Tv, value_dim)` encoder outputs.
        keys: optional `(batch, Tv, key_dim)`; default `values`.
        value_mask: optional `(batch, Tv)` booleans, False at padded encoder steps.

    Returns:
        `(context, attention_weights)`: `(batch, value_dim)` and `(batch, Tv)` for a 2-D query,
        `(batch, Tq, value_dim)` and `(batch, Tq, Tv)` for a 3-D one. The weights sum to one over `Tv`.

    Example:
    >>> attention = keras_nn.layers.LuongAttention(score="general")
    >>> context, weights = attention(np.zeros((2, 4), "float32"), np.zeros((2, 5, 8), "float32"))
    >>> context.shape, weights.shape
    ((2, 8), (2, 5))

    References:
        Luong, Pham & Manning, "Effective Approaches to Attention-based Neural Machine Translation",
        EMNLP 2015, https://arxiv.org/abs/1508.04025.
    """

    def __init__(self, score="dot", kernel_initializer="glorot_uniform", kernel_regularizer=None, **kwargs):
        if score not in LUONG_SCORES:
            raise ConfigError(f"LuongAttention: score={score!r} is not allowed; choose one of: {', '.join(LUONG_SCORES)}")
        super().__init__(**kwargs)
        self.score = score
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, query_shape, values_shape, keys_shape=None):
        keys_shape = values_shape if keys_shape is None else keys_shape
        if self.score == "general":
            self.kernel = self.add_weight(
                shape=(query_shape[-1], keys_shape[-1]), name="kernel", initializer=self.kernel_initializer,
                regularizer=self.kernel_regularizer,
            )
        elif query_shape[-1] != keys_shape[-1]:
            raise ShapeError(
                f"LuongAttention(score='dot') needs query and keys of the same width; got {query_shape[-1]} and "
                f"{keys_shape[-1]} (use score='general' to learn a projection)"
            )

    def call(self, query, values, keys=None, value_mask=None):
        keys = values if keys is None else keys
        check_alignment_ranks(type(self).__name__, query, values, keys)
        single_query = len(query.shape) == 2
        if single_query:
            query = ops.expand_dims(query, 1)
        if self.score == "general":
            query = ops.matmul(query, self.kernel)
        scores = ops.matmul(query, ops.transpose(keys, (0, 2, 1)))  # (batch, Tq, Tv)
        return align(scores, values, value_mask, single_query)

    def compute_output_shape(self, query_shape, values_shape, keys_shape=None):
        return alignment_output_shapes(query_shape, values_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "score": self.score,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": (
                keras.regularizers.serialize(self.kernel_regularizer) if self.kernel_regularizer else None
            ),
        }
