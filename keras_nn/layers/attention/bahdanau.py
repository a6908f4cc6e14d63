"""`BahdanauAttention`: additive attention of a recurrent decoder over the encoder outputs."""

import keras
from keras import ops

from keras_nn.layers.attention.alignment import align, alignment_output_shapes, check_alignment_ranks
from keras_nn.layers.validation import check_positive_int


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
        check_positive_int("BahdanauAttention", "units", units)
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
        check_alignment_ranks(type(self).__name__, query, values, keys)
        single_query = len(query.shape) == 2
        if single_query:
            query = ops.expand_dims(query, 1)
        projected_query = ops.matmul(query, self.query_kernel)  # (batch, Tq, units)
        projected_keys = ops.matmul(keys, self.key_kernel)  # (batch, Tv, units)
        hidden = ops.tanh(ops.expand_dims(projected_query, 2) + ops.expand_dims(projected_keys, 1))
        scores = ops.squeeze(ops.matmul(hidden, self.score_vector), -1)  # (batch, Tq, Tv)
        return align(scores, values, value_mask, single_query)

    def compute_output_shape(self, query_shape, values_shape, keys_shape=None):
        return alignment_output_shapes(query_shape, values_shape)

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
