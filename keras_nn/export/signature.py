"""The model's inference function and input signature, shared by every exporter."""

import numpy as np
import tensorflow as tf

from keras_nn.errors import ConfigError, ShapeError


def model_input_signature(model):
    """`(per-example shape, dtype, name)` of a model's single input.

    Functional and Sequential models declare their input; a subclassed model is known by the shape it was
    built with (its build config), with a float32 input.
    """
    inputs = getattr(model, "inputs", None)
    if inputs:
        if len(inputs) != 1:
            raise ConfigError(
                f"model {model.name!r} has {len(inputs)} inputs; export takes single-input models"
            )
        tensor = inputs[0]
        name = (getattr(tensor, "name", None) or "inputs").split(":")[0].replace("/", "_")
        return tuple(tensor.shape[1:]), tf.as_dtype(tensor.dtype), name
    build_config = model.get_build_config() if model.built else None
    shape = (build_config or {}).get("input_shape")
    if shape is None or (
        isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple, dict))
    ):
        raise ConfigError(
            f"model {model.name!r} has no known single input shape; call it once on a batch (or build it with "
            "keras.Input) before exporting"
        )
    return tuple(shape[1:]), tf.float32, "inputs"


def input_spec(model, batch_size=None):
    """A `tf.TensorSpec` for the model's input, with a dynamic (`None`) or fixed batch dimension."""
    shape, dtype, name = model_input_signature(model)
    return tf.TensorSpec((batch_size, *shape), dtype, name=name)


def inference_function(model, batch_size=None):
    """`tf.function` running the model in inference mode (dropout and augmentation off) on one input."""
    spec = input_spec(model, batch_size)

    @tf.function(input_signature=[spec])
    def serve(inputs):
        return model(inputs, training=False)

    return serve


def check_inputs(model, inputs, what="inputs"):
    """Raises `ShapeError` unless `inputs` is a batch the model accepts (per-example shape and rank)."""
    expected, dtype, _ = model_input_signature(model)
    dtype = np.dtype(dtype.as_numpy_dtype)
    inputs = np.asarray(inputs)
    got = inputs.shape[1:]
    if inputs.ndim != len(expected) + 1 or any(
        e is not None and e != g for e, g in zip(expected, got, strict=False)
    ):
        shown = tuple("?" if e is None else e for e in expected)
        raise ShapeError(
            f"{what} have shape {inputs.shape}, but model {model.name!r} takes batches of shape (N, "
            f"{', '.join(map(str, shown))}); reshape the data to match"
        )
    return inputs.astype(dtype) if dtype.kind == "f" else inputs


def has_recurrent_layers(model):
    """True when the model holds a recurrent layer (Keras or keras-nn), whose TF graph is a loop."""
    from keras_nn.export.rnn_forms import recurrent_layers

    return bool(recurrent_layers(model))
