"""`PositionEmbedding`: a learned position embedding (BERT, GPT-2).

Like `SinusoidalPositionEncoding`, it returns the encoding of the positions of `inputs`, shaped like `inputs`,
for the caller to add, and takes a `start_index` for cached decoding.
"""

import keras
from keras import ops

from keras_nn.errors import ShapeError
from keras_nn.layers.validation import check_positive_int, known_width


@keras.saving.register_keras_serializable(package="keras_nn")
class PositionEmbedding(keras.layers.Layer):
    """A learned position embedding: one trained vector per position up to `sequence_length` (BERT, GPT-2).

    Args:
        sequence_length: the most positions (the longest sequence the model reads, cache included).
        initializer: initializer of the `[sequence_length, d]` table (`embeddings`).
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        inputs: `[batch, T, d]` (or `[T, d]`) embeddings (or any tensor of that shape); only the shape is used.
        start_index: position of the first step (an int or a scalar tensor), for cached decoding.
        positions: `[T]` or `[batch, T]` int positions to look up instead of `start_index ...` (keras-hub's
            argument: packed or left-padded sequences whose positions do not start at 0).

    Returns:
        Rows `start_index ... start_index + T - 1` (or `positions`) of the table, in the layer's compute dtype
        (as keras-hub's; integer `inputs` still get float rows), broadcast to the shape of `inputs`.

    Example:
    >>> embedded = keras.layers.Embedding(100, 16)(token_ids)
    >>> x = embedded + keras_nn.layers.PositionEmbedding(sequence_length=128)(embedded)

    References:
        Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
        2019, https://arxiv.org/abs/1810.04805; Gehring et al., "Convolutional Sequence to Sequence Learning",
        2017.
    """

    def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        check_positive_int("PositionEmbedding", "sequence_length", sequence_length)
        self.sequence_length = sequence_length
        self.initializer = keras.initializers.get(initializer)

    def build(self, inputs_shape):
        width = known_width(type(self).__name__, inputs_shape)
        self.embeddings = self.add_weight(
            shape=(self.sequence_length, width), initializer=self.initializer, name="embeddings"
        )

    def call(self, inputs, start_index=0, positions=None):
        shape = ops.shape(inputs)
        table = ops.cast(ops.convert_to_tensor(self.embeddings), self.compute_dtype)
        if positions is not None:
            # [T] or [batch, T] rows; broadcast like the slice below.
            return ops.broadcast_to(ops.take(table, ops.cast(positions, "int32"), axis=0), shape)
        length = inputs.shape[-2]
        if (
            isinstance(length, int)  # JAX traces unknown lengths as symbolic dimensions, not None
            and isinstance(start_index, int)
            and start_index + length > self.sequence_length
        ):
            raise ShapeError(
                f"PositionEmbedding: positions {start_index}..{start_index + length - 1} exceed "
                f"sequence_length={self.sequence_length}; shorten the input or build with a larger "
                "sequence_length"
            )
        rows = ops.slice(table, (start_index, 0), (shape[-2], self.embeddings.shape[-1]))
        return ops.broadcast_to(rows, shape)

    def compute_output_shape(self, inputs_shape):
        # The inputs' shape: declared, so that JAX's symbolic build does not trace `call`'s slice with a symbolic length.
        return inputs_shape

    def get_config(self):
        return {
            **super().get_config(),
            "sequence_length": self.sequence_length,
            "initializer": keras.initializers.serialize(self.initializer),
        }
