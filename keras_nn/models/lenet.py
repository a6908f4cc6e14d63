"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998), with the paper's sparse C3 connection table as an option."""

import keras
import numpy as np
from keras import ops

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.models.base import (
    check_choice,
    check_input_shape,
    check_positive_int,
    classifier_head,
)
from keras_nn.models.image_model import ImageClassifier, check_top
from keras_nn.models.registry import register_model

# Table I of the paper: which S2 maps (rows) each of the 16 C3 maps (columns) reads. Maps 0-5 read three
# contiguous S2 maps, 6-11 four contiguous, 12-14 four non-contiguous, and 15 all six: 60 of 96 connections.
LENET_C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)  # fmt: skip


@keras.saving.register_keras_serializable(package="keras_nn")
def scaled_tanh(x):
    """LeNet-5's squashing function `1.7159 * tanh(2x / 3)` (the paper's Appendix A): f(1) = 1, f(-1) = -1."""
    return 1.7159 * ops.tanh(x * (2.0 / 3.0))


@keras.saving.register_keras_serializable(package="keras_nn")
class ConnectionTableConv2D(keras.layers.Layer):
    """A "valid" 2D convolution in which output map `j` reads only the input channels `table[j]`.

    Only the connected filters are parameters (`kernel` has one `k x k` filter per connection), so the count
    is the paper's: LeNet-5's C3 has 60 connections, `60 * 25 + 16 = 1,516` parameters. The call scatters
    them into a dense kernel with zeros elsewhere and runs one ordinary convolution, which exports as a plain
    Conv2D.

    Args:
        table: for each output map, the input channels it reads.
        kernel_size: square kernel size.
        activation: activation name or callable, or None.
        kernel_initializer: initializer of the connected filters; None (default) is the paper's: uniform in
            `+-2.4 / F`, `F` the fan-in of the output map (`k * k * len(table[j])`).

    Call arguments:
        inputs: `(batch, height, width, channels)`, channels at least `1 + max(max(table))`.

    Example:
    >>> ConnectionTableConv2D(LENET_C3_TABLE, 5)(np.zeros((1, 14, 14, 6))).shape
    (1, 10, 10, 16)

    References:
        LeCun, Bottou, Bengio & Haffner, "Gradient-Based Learning Applied to Document Recognition",
        Proc. IEEE 1998, section II.B and Table I.
    """

    def __init__(self, table, kernel_size=5, activation=None, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.table = [list(int(c) for c in row) for row in table]
        if not self.table or any(not row for row in self.table):
            raise ConfigError("table must list, for each output map, at least one input channel")
        self.kernel_size = kernel_size
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = (
            None if kernel_initializer is None else keras.initializers.get(kernel_initializer)
        )

    def _paper_initializer(self, shape, dtype=None):
        k = self.kernel_size
        limits = np.concatenate([np.full(len(row), 2.4 / (k * k * len(row))) for row in self.table])
        return keras.random.uniform(shape, -1.0, 1.0, dtype=dtype) * ops.cast(limits, dtype or "float32")

    def build(self, input_shape):
        channels = input_shape[-1]
        if max(max(row) for row in self.table) >= channels:
            raise ConfigError(
                f"{self.name}: table reads channel {max(max(r) for r in self.table)} of a {channels}-channel input"
            )
        connections = sum(len(row) for row in self.table)
        k = self.kernel_size
        self.kernel = self.add_weight(
            name="kernel",
            shape=(k, k, connections),
            initializer=self.kernel_initializer or self._paper_initializer,
        )
        self.bias = self.add_weight(name="bias", shape=(len(self.table),), initializer="zeros")
        # Position of each (input channel, output map) pair in the dense kernel: its connection index, or the
        # index of an appended zero filter.
        index = np.full((channels, len(self.table)), connections, dtype="int32")
        position = 0
        for out_map, row in enumerate(self.table):
            for in_channel in row:
                index[in_channel, out_map] = position
                position += 1
        self._gather_index = index.reshape(-1)
        self._input_channels = channels

    def call(self, inputs):
        k = self.kernel_size
        kernel = ops.cast(self.kernel, self.compute_dtype)
        filters = ops.concatenate([kernel, ops.zeros((k, k, 1), dtype=kernel.dtype)], axis=-1)
        dense = ops.take(filters, self._gather_index, axis=-1)
        dense = ops.reshape(dense, (k, k, self._input_channels, len(self.table)))
        outputs = ops.conv(inputs, dense, strides=1, padding="valid") + ops.cast(
            self.bias, self.compute_dtype
        )
        return self.activation(outputs) if self.activation is not None else outputs

    def compute_output_shape(self, input_shape):
        k = self.kernel_size
        spatial = [None if d is None else d - k + 1 for d in input_shape[1:3]]
        return (input_shape[0], *spatial, len(self.table))

    def get_config(self):
        return {
            **super().get_config(),
            "table": self.table,
            "kernel_size": self.kernel_size,
            "activation": keras.activations.serialize(self.activation),
            "kernel_initializer": (
                None
                if self.kernel_initializer is None
                else keras.initializers.serialize(self.kernel_initializer)
            ),
        }


ACTIVATIONS = {"tanh": "tanh", "scaled_tanh": scaled_tanh, "relu": "relu"}


@keras.saving.register_keras_serializable(package="keras_nn")
class LeNet5(ImageClassifier):
    """LeNet-5: C1 (6 5x5 convs) - S2 (2x2 average pool) - C3 (16 5x5) - S4 (pool) - C5 (120 5x5) - F6 (84) -
    output, with tanh activations, on 32x32 grey images (28x28 digits padded by 2).

    What is the paper's and what is the common variant (Keras/PyTorch tutorials, d2l.ai), which is the default
    and has 61,706 parameters:
    - C3: the paper connects each of the 16 C3 maps to a subset of the six S2 maps (Table I: 60 connections,
      1,516 parameters) "to break symmetry" and save computation; the common variant connects every map
      (`c3_connections="full"`, 2,416 parameters). `c3_connections="paper"` implements Table I exactly
      (60,806 parameters in all).
    - S2/S4: the paper's subsampling multiplies each 2x2 sum by a trainable coefficient, adds a trainable bias
      and squashes (12 and 32 parameters); here, as in the common variant, they are plain 2x2 average pools.
    - Activation: `"tanh"` (common) or `"scaled_tanh"`, the paper's `1.7159 tanh(2a/3)`.
    - Output: the paper's Euclidean RBF units with fixed 7x12 bitmap codes are replaced by a dense softmax
      layer (84 x 10 + 10 parameters), as every modern reimplementation does.

    Args:
        num_classes: number of classes (10).
        input_shape: `(height, width, channels)`; at least 32x32 (C5 then sees exactly 5x5).
        activation: `"tanh"`, `"scaled_tanh"` or `"relu"`.
        c3_connections: `"full"` (common variant) or `"paper"` (Table I).
        include_top: with F6 and the classifier; False gives a feature extractor (the C5 maps).
        pooling: feature-extractor output: None (C5 maps), `"avg"` or `"max"`.
        classifier_activation: `"softmax"` or None (logits). The classifier runs in float32.
        weights: None, or a weights file loaded by layer name (see `keras_nn.models.image_model.load_weights_by_name`).
        name: model name.

    Call arguments:
        images: `(batch, 32, 32, 1)` floats (the paper scales pixels so that background is -0.1 and ink 1.175;
            0..1 works as well).

    Example:
    >>> model = keras_nn.create_model("lenet5")
    >>> model(np.zeros((2, 32, 32, 1))).shape
    (2, 10)

    References:
        LeCun, Bottou, Bengio & Haffner, "Gradient-Based Learning Applied to Document Recognition",
        Proceedings of the IEEE 86(11), 1998, section II.B.
    """

    def __init__(
        self,
        num_classes=10,
        input_shape=(32, 32, 1),
        activation="tanh",
        c3_connections="full",
        include_top=True,
        pooling=None,
        classifier_activation="softmax",
        weights=None,
        name="lenet5",
        **kwargs,
    ):
        arguments = dict(locals())
        check_positive_int("num_classes", num_classes)
        check_choice("activation", activation, list(ACTIVATIONS))
        check_choice("c3_connections", c3_connections, ["full", "paper"])
        check_top(include_top, pooling, classifier_activation)
        input_shape = check_input_shape(name, input_shape, rank=3, min_size=32)
        if include_top and None in input_shape[:2]:
            raise ShapeError(
                f"{name}: include_top=True needs a fixed input size; got input_shape {input_shape}"
            )
        act = ACTIVATIONS[activation]

        images = keras.Input(shape=input_shape, name="images")
        x = keras.layers.Conv2D(6, 5, activation=act, name="c1")(images)
        x = keras.layers.AveragePooling2D(2, name="s2")(x)
        if c3_connections == "paper":
            x = ConnectionTableConv2D(LENET_C3_TABLE, 5, activation=act, name="c3")(x)
        else:
            x = keras.layers.Conv2D(16, 5, activation=act, name="c3")(x)
        x = keras.layers.AveragePooling2D(2, name="s4")(x)
        x = keras.layers.Conv2D(120, 5, activation=act, name="c5")(x)
        if include_top:
            x = keras.layers.Flatten(name="flatten")(x)
            x = keras.layers.Dense(84, activation=act, name="f6")(x)
            x = classifier_head(x, num_classes, classifier_activation, 0.0)
        self._finish(images, x, arguments, **kwargs)


register_model(
    "lenet5",
    LeNet5,
    family="cnn",
    description="LeNet-5 (tanh, average pooling, 32x32x1), optional paper C3 connection table",
    paper="LeCun et al. 1998, Gradient-Based Learning Applied to Document Recognition",
)
