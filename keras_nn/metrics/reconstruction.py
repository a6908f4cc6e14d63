"""Reconstruction error as the autoencoder literature reports it: squared error summed over an example's
values, averaged over examples (Hinton & Salakhutdinov 2006: "squared error per image")."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_nn")
def squared_error_per_example(y_true, y_pred):
    """`sum((y_true - y_pred)^2)` over every axis but the batch: `(batch,)`."""
    difference = ops.cast(y_true, "float32") - ops.cast(y_pred, "float32")
    return ops.sum(ops.reshape(ops.square(difference), (ops.shape(difference)[0], -1)), axis=-1)


@keras.saving.register_keras_serializable(package="keras_nn")
class SquaredError(keras.metrics.MeanMetricWrapper):
    """Mean over examples of the squared error summed over each example's values.

    Args:
        name: metric name.
        dtype: metric dtype.

    Example:
    >>> model.compile("adam", "binary_crossentropy", metrics=[keras_nn.metrics.SquaredError()])
    """

    def __init__(self, name="squared_error", dtype=None):
        super().__init__(fn=squared_error_per_example, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
