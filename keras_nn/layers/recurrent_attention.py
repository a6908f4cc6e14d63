"""Attention for recurrent encoder-decoders: Bahdanau (additive) and Luong (multiplicative) attention.

Both take a decoder query, one step `(batch, query_dim)` or many `(batch, Tq, query_dim)`, and the encoder
outputs `values` `(batch, Tv, value_dim)` (with optional separate `keys`), score every (query, key) pair,
turn the scores into weights with a softmax over the `Tv` axis (masked positions get exactly zero weight) and
return `(context, attention_weights)`: the weighted sum of the values and the weights themselves.
"""

import keras
from keras import ops

from keras_nn.errors import ConfigError, ShapeError

LUONG_SCORES = ("dot", "general")


def _masked_softmax(scores, value_mask):
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


def _check_ranks(owner, query, values, keys):
    if len(query.shape) not in (2, 3):
        raise ShapeError(f"{owner}: query must be (batch, units) or (batch, Tq, units); got shape {query.shape}")
    for name, tensor in (("values", values), ("keys", keys)):
        if len(tensor.shape) != 3:
            raise ShapeError(f"{owner}: {name} must be (batch, Tv, units); got shape {tensor.shape}")


def _attend(scores, values, value_mask, single_query):
    weights = _masked_softmax(scores, value_mask)
    context = ops.matmul(weights, values)
    if single_query:
        return ops.squeeze(context, axis=1), ops.squeeze(weights, axis=1)
    return context, weights


@keras.saving.register_keras_serializable(package="keras_nn")
class BahdanauAttention(keras.layers.Layer):
    """Additive attention: `score(q, k) = v^T tanh(W1 q + W2 k)`, weights = softmax over the keys.

    `keras.layers.AdditiveAttention` computes `sum(scale * tanh(q + k))`: the same formula with `W1` and `W2`
    fixed to the identity (so it needs `query_dim == key_dim` and expects already-projected inputs) and `v`
    its `scale`. This layer learns the two projections to `units`, as in the paper; with identity projections
    and `v = scale` the two give the same numbers (tested).

    Args:
        units: width of the projections `W1`, `W2` and of `v`.
        kernel_initializer: initializer of `W1` (`query_kernel`) and `W2` (`key_kernel`).
        score_initializer: initializer of `v` (`score_vector`).
        kernel_regularizer: optional regularizer of `W1`, `W2` and `v`.
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
    >>> attention = keras_nn.layers.BahdanauAttention(16)
    >>> context, weights = attention(np.zeros((2, 8), "float32"), np.zeros((2, 5, 8), "float32"))
    >>> context.shape, weights.shape
    ((2, 8), (2, 5))

    References:
        Bahdanau, Cho & Bengio, "Neural Machine Translation by Jointly Learning to Align and Translate",
        ICLR 2015, https://arxiv.org/abs/1409.0473.
    """

    def __init__(
        self,
        units,
        kernel_initializer="glorot_uniform",
        score_initializer="glorot_uniform",
        kernel_regularizer=None,
        **kwargs,
    ):
        if not isinstance(units, int) or isinstance(units, bool) or units < 1:
            raise ConfigError(f"BahdanauAttention: units={units!r} must be a positive integer")
        super().__init__(**kwargs)
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.score_initializer = keras.initializers.get(score_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, query_shape, values_shape, keys_shape=None):
        keys_shape = values_shape if keys_shape is None else keys_shape
        self.query_kernel = self.add_weight(
            shape=(query_shape[-1], self.units), name="query_kernel", initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.key_kernel = self.add_weight(
            shape=(keys_shape[-1], self.units), name="key_kernel", initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        # Shaped (units, 1) so that glorot initializers apply; used as the vector v.
        self.score_vector = self.add_weight(
            shape=(self.units, 1), name="score_vector", initializer=self.score_initializer,
            regularizer=self.kernel_regularizer,
        )

    def call(self, query, values, keys=None, value_mask=None):
        keys = values if keys is None else keys
        _check_ranks(type(self).__name__, query, values, keys)
        single_query = len(query.shape) == 2
        if single_query:
            query = ops.expand_dims(query, 1)
        projected_query = ops.matmul(query, self.query_kernel)  # (batch, Tq, units)
        projected_keys = ops.matmul(keys, self.key_kernel)  # (batch, Tv, units)
        hidden = ops.tanh(ops.expand_dims(projected_query, 2) + ops.expand_dims(projected_keys, 1))
        scores = ops.squeeze(ops.matmul(hidden, self.score_vector), -1)  # (batch, Tq, Tv)
        return _attend(scores, values, value_mask, single_query)

    def compute_output_shape(self, query_shape, values_shape, keys_shape=None):
        return _output_shapes(query_shape, values_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "score_initializer": keras.initializers.serialize(self.score_initializer),
            "kernel_regularizer": (
                keras.regularizers.serialize(self.kernel_regularizer) if self.kernel_regularizer else None
            ),
        }


def _output_shapes(query_shape, values_shape):
    if len(query_shape) == 2:
        return (query_shape[0], values_shape[-1]), (query_shape[0], values_shape[1])
    return (*query_shape[:2], values_shape[-1]), (*query_shape[:2], values_shape[1])


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
        _check_ranks(type(self).__name__, query, values, keys)
        single_query = len(query.shape) == 2
        if single_query:
            query = ops.expand_dims(query, 1)
        if self.score == "general":
            query = ops.matmul(query, self.kernel)
        scores = ops.matmul(query, ops.transpose(keys, (0, 2, 1)))  # (batch, Tq, Tv)
        return _attend(scores, values, value_mask, single_query)

    def compute_output_shape(self, query_shape, values_shape, keys_shape=None):
        return _output_shapes(query_shape, values_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "score": self.score,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": (
                keras.regularizers.serialize(self.kernel_regularizer) if self.kernel_regularizer else None
            ),
        }
