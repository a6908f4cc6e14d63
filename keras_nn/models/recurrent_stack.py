"""The parts the recurrent models share: the token-or-feature input stem and the stack of recurrent layers."""

import keras

from keras_nn import layers
from keras_nn.errors import ConfigError
from keras_nn.models.base import check_input_shape, check_positive_int

# The classifiers build with the Keras layers, whose loops tf2onnx rewrites into the native ONNX LSTM/GRU
# operators; the taggers and forecasters use keras-nn's layers (same weights, mask-exact backward direction).
KERAS_RECURRENT_LAYERS = (
    {"simple_rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU},
    keras.layers.Bidirectional,
)
KERAS_NN_RECURRENT_LAYERS = (
    {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU},
    layers.Bidirectional,
)


def sequence_input(name, input_shape, vocab_size, sequence_length, embedding_dim, mask_zero, mask_value):
    """The model input and its embedded, masked sequence.

    Exactly one of `vocab_size` (int token ids, 0 is padding; an embedding with `mask_zero` follows) or
    `input_shape=(timesteps, features)` (floats; steps whose features all equal `mask_value` are masked).

    Returns:
        `(inputs, sequence)`: the `keras.Input` and the `(batch, timesteps, width)` tensor that feeds the stack.
    """
    if (input_shape is None) == (vocab_size is None):
        raise ConfigError(
            f"{name} needs exactly one of input_shape=(timesteps, features) for float sequences or "
            f"vocab_size for token ids; got input_shape={input_shape!r}, vocab_size={vocab_size!r}"
        )
    if vocab_size is not None:
        check_positive_int("vocab_size", vocab_size)
        check_positive_int("embedding_dim", embedding_dim)
        inputs = keras.Input(shape=(sequence_length,), dtype="int32", name="tokens")
        return inputs, keras.layers.Embedding(
            vocab_size, embedding_dim, mask_zero=mask_zero, name="embedding"
        )(inputs)
    inputs = keras.Input(shape=check_input_shape(name, input_shape, rank=2), name="sequences")
    if mask_value is None:
        return inputs, inputs
    return inputs, keras.layers.Masking(mask_value=mask_value, name="masking")(inputs)


def recurrent_stack(
    x, layer_classes, cell, units, num_layers, bidirectional, return_sequences, **layer_kwargs
):
    """Runs `x` through `num_layers` recurrent layers named `{cell}_{i}` (wrapped as `bidirectional_{i}`).

    Every layer but the last returns its full sequence; the last returns it when `return_sequences`.
    `layer_classes` is `KERAS_RECURRENT_LAYERS` or `KERAS_NN_RECURRENT_LAYERS`; `layer_kwargs` (dropout, ...)
    go to every layer.
    """
    classes, bidirectional_class = layer_classes
    for index in range(num_layers):
        last = index == num_layers - 1
        layer = classes[cell](
            units, return_sequences=return_sequences or not last, name=f"{cell}_{index + 1}", **layer_kwargs
        )
        if bidirectional:
            layer = bidirectional_class(layer, name=f"bidirectional_{index + 1}")
        x = layer(x)
    return x
