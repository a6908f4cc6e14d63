"""`TiedEmbedding`: a token embedding that, called with `reverse=True`, is also the output projection."""

import copy

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_nn")
class TiedEmbedding(keras.layers.ReversibleEmbedding):
    """A token embedding whose matrix, transposed, also gives the output logits, plus an optional output bias.

    `keras.layers.ReversibleEmbedding` (keras-hub's layer, now in Keras) with the same arguments and the same
    `reverse=True` call, and two additions a language model's softmax layer needs: a vocabulary bias
    (`use_bias`, Zaremba et al.'s and Press & Wolf's output layers have one) and logits computed in float32
    by default (`reverse_dtype="float32"`), so a mixed-precision model still gives float32 logits to its loss.
    Called forward, it is an `Embedding` (ids in, vectors out, the padding mask with `mask_zero`); called with
    `reverse=True` on `(..., output_dim)` vectors it returns `h @ E^T (+ b)` of shape `(..., input_dim)`. The
    embedding and the projection are one variable, so a gradient from either end updates the same matrix.

    Args:
        input_dim: vocabulary size.
        output_dim: embedding width.
        tie_weights: reuse the embedding matrix (transposed) for the reverse projection; False gives a separate
            `(output_dim, input_dim)` matrix, as in `ReversibleEmbedding`.
        use_bias: add a learned bias of `input_dim` values (zeros at first) to the reverse projection.
        bias_initializer: initializer of that bias.
        embeddings_initializer, embeddings_regularizer, embeddings_constraint, mask_zero, logit_soft_cap: as
            for `keras.layers.ReversibleEmbedding`.
        reverse_dtype: dtype of the reverse projection and of its logits ("float32"; None for the layer's
            compute dtype).
        **kwargs: `name`, `dtype`, `trainable`, ...

    Call arguments:
        inputs: int ids `(...)` (forward) or vectors `(..., output_dim)` (reverse).
        reverse: project vectors back onto the vocabulary instead of looking ids up.

    Returns:
        `(..., output_dim)` embeddings, or `(..., input_dim)` logits with `reverse=True`.

    Example:
    >>> embedding = keras_nn.layers.TiedEmbedding(100, 16)
    >>> vectors = embedding(np.array([[3, 7, 1]]))
    >>> embedding(vectors, reverse=True).shape
    TensorShape([1, 3, 100])

    References:
        Press & Wolf, "Using the Output Embedding to Improve Language Models", EACL 2017,
        https://arxiv.org/abs/1608.05859.
        Inan, Khosravi & Socher, "Tying Word Vectors and Word Classifiers: A Loss Framework for Language
        Modeling", ICLR 2017, https://arxiv.org/abs/1611.01462.
    """

    def __init__(
        self,
        input_dim,
        output_dim,
        tie_weights=True,
        use_bias=True,
        bias_initializer="zeros",
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero=False,
        reverse_dtype="float32",
        logit_soft_cap=None,
        **kwargs,
    ):
        super().__init__(
            input_dim,
            output_dim,
            tie_weights=tie_weights,
            embeddings_initializer=embeddings_initializer,
            embeddings_regularizer=embeddings_regularizer,
            embeddings_constraint=embeddings_constraint,
            mask_zero=mask_zero,
            reverse_dtype=reverse_dtype,
            logit_soft_cap=logit_soft_cap,
            **kwargs,
        )
        self.use_bias = use_bias
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape=None):
        if self.built:
            return
        super().build(input_shape)
        if self.use_bias:
            # The bias stays in float (never quantized): it is input_dim values against input_dim x output_dim.
            self.output_bias = self.add_weight(
                shape=(self.input_dim,), initializer=self.bias_initializer, name="output_bias"
            )

    def call(self, inputs, reverse=False):
        outputs = super().call(inputs, reverse=reverse)
        if not reverse:
            return outputs
        if self.use_bias:
            # Keras' soft cap (if any) bounds h @ E^T; the bias is the unigram prior and goes on after it.
            outputs = outputs + ops.cast(self.output_bias, outputs.dtype)
        return outputs

    def compute_output_spec(self, inputs, reverse=False):
        spec = super().compute_output_spec(inputs, reverse=reverse)
        if reverse and self.reverse_dtype is not None:
            return keras.KerasTensor(spec.shape, dtype=self.reverse_dtype)
        return spec

    @property
    def variable_serialization_spec(self):
        spec = copy.deepcopy(super().variable_serialization_spec)
        if self.use_bias:
            for names in spec.values():
                names.append("output_bias")
        return spec

    def get_config(self):
        config = super().get_config()
        config.update(
            {"use_bias": self.use_bias, "bias_initializer": keras.initializers.serialize(self.bias_initializer)}
        )
        return config
