"""The activations the export forms write as TensorFlow ops by name; any other runs as the layer's callable."""

import keras
import tensorflow as tf

ACTIVATIONS = {"tanh": tf.tanh, "sigmoid": tf.sigmoid, "relu": tf.nn.relu, "linear": tf.identity}


def activation_name(function):
    """The name of `function` when the forms know it (a key of `ACTIVATIONS`), else the callable (None stays
    None)."""
    if function is None:
        return None
    name = keras.activations.serialize(function)
    return name if isinstance(name, str) and name in ACTIVATIONS else function


def apply_activation(activation, x):
    """`activation` (a name from `ACTIVATIONS`, or a callable) applied to `x`."""
    return ACTIVATIONS[activation](x) if isinstance(activation, str) else activation(x)
