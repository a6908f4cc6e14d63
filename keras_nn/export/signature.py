"""The model's inference function and input signature, shared by every exporter."""

import numpy as np
import tensorflow as tf

from keras_nn.errors import ConfigError, ShapeError


def model_input(model):
    """The single input tensor of a built Keras model (export takes single-input models)."""
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise ConfigError(
            f"model {model.name!r} has no known input shape; build it first (call it on a batch or give "
            "keras.Input) before exporting"
        )
    if len(inputs) != 1:
        raise ConfigError(f"model {model.name!r} has {len(inputs)} inputs; export takes single-input models")
    return inputs[0]


def input_spec(model, batch_size=None):
    """A `tf.TensorSpec` for the model's input, with a dynamic (`None`) or fixed batch dimension."""
    tensor = model_input(model)
    name = getattr(tensor, "name", None) or "inputs"
    name = name.split(":")[0].replace("/", "_")
    return tf.TensorSpec((batch_size, *tensor.shape[1:]), tf.as_dtype(tensor.dtype), name=name)


def inference_function(model, batch_size=None):
    """`tf.function` running the model in inference mode (dropout and augmentation off) on one input."""
    spec = input_spec(model, batch_size)

    @tf.function(input_signature=[spec])
    def serve(inputs):
        return model(inputs, training=False)

    return serve


def check_inputs(model, inputs, what="inputs"):
    """Raises `ShapeError` unless `inputs` is a batch the model accepts (per-example shape and rank)."""
    tensor = model_input(model)
    expected = tuple(tensor.shape[1:])
    inputs = np.asarray(inputs)
    got = inputs.shape[1:]
    if inputs.ndim != len(expected) + 1 or any(e is not None and e != g for e, g in zip(expected, got, strict=False)):
        shown = tuple("?" if e is None else e for e in expected)
        raise ShapeError(
            f"{what} have shape {inputs.shape}, but model {model.name!r} takes batches of shape (N, "
            f"{', '.join(map(str, shown))}); reshape the data to match"
        )
    return inputs.astype(np.dtype(tensor.dtype)) if np.dtype(tensor.dtype).kind == "f" else inputs


def has_recurrent_layers(model):
    """True when the model holds an RNN layer, whose TF graph is a loop over tensor lists."""
    import keras

    return any(isinstance(layer, keras.layers.RNN | keras.layers.Bidirectional) for layer in model._flatten_layers())
