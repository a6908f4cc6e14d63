"""What the convolutional blocks share: the `ConvBlock` base class and the explicit-padding helpers.

The blocks (`ConvBNAct`, `ResidualBlock`, `BottleneckBlock`, `InceptionBlock`, `DepthwiseSeparableConv`) each
have a file of their own in this folder. Every block is a composite layer whose sub-layers are named after the block (`{name}_conv`, `{name}_bn`, ...),
following keras.applications' naming, so a ResNet built from these blocks has the same weight-bearing layer
names as `keras.applications.ResNet50` and can load its weight files by name.
"""

import keras

from keras_nn.errors import ConfigError


def _pair(value, what):
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) and v >= 0 for v in value):
        raise ConfigError(f"{what}={value!r} must be an int or a pair of ints")
    return value


def padding_plan(padding, kernel_size, strides, dilation_rate):
    """Returns `(explicit_padding or None, conv_padding)`.

    `padding` is "same", "valid" or an int / pair: symmetric zero padding of that many pixels (PyTorch's
    `padding=`), done by a ZeroPadding2D before a "valid" convolution. When the explicit padding is what "same"
    would do anyway (stride 1, odd kernel), the convolution just uses "same" and no extra layer is added.
    """
    if padding in ("same", "valid"):
        return None, padding
    if isinstance(padding, str):
        raise ConfigError(f"padding={padding!r} is not allowed; use 'same', 'valid' or a number of pixels")
    pad = _pair(padding, "padding")
    kernel, stride, dilation = (
        _pair(v, n)
        for v, n in ((kernel_size, "kernel_size"), (strides, "strides"), (dilation_rate, "dilation_rate"))
    )
    same = all(
        s == 1 and k % 2 == 1 and p == d * (k - 1) // 2
        for p, k, s, d in zip(pad, kernel, stride, dilation, strict=True)
    )
    if same:
        return None, "same"
    if pad == (0, 0):
        return None, "valid"
    return pad, "valid"


def check_padding(padding):
    """The `padding` argument as stored in a block's config: "same", "valid", an int, or `[rows, cols]`."""
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ConfigError(
                f"padding={padding!r} is not allowed; use 'same', 'valid' or a number of pixels"
            )
        return padding
    pad = _pair(padding, "padding")
    return pad[0] if pad[0] == pad[1] else list(pad)


def serialize_or_none(obj):
    """`keras.saving.serialize_keras_object(obj)`, or None for None."""
    return None if obj is None else keras.saving.serialize_keras_object(obj)


class ConvBlock(keras.layers.Layer):
    """The base of the convolutional blocks: the activation, batch-norm and kernel settings, and a config made
    of them plus the block's own constructor arguments (`_config_keys`, stored as attributes of the same name).

    Args:
        activation: activation name or callable, or None.
        batch_norm_epsilon: batch norm epsilon.
        batch_norm_momentum: momentum of the moving statistics.
        kernel_initializer: initializer of the convolution kernels.
        kernel_regularizer: optional regularizer of the kernels.
        **kwargs: `name`, `dtype`, ...
    """

    _config_keys = ()

    def __init__(
        self,
        activation,
        batch_norm_epsilon,
        batch_norm_momentum,
        kernel_initializer,
        kernel_regularizer,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.activation = (
            keras.activations.serialize(keras.activations.get(activation)) if activation else None
        )
        self.batch_norm_epsilon = batch_norm_epsilon
        self.batch_norm_momentum = batch_norm_momentum
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def _conv_kwargs(self, **overrides):
        """Keyword arguments of the `ConvBNAct` sub-layers."""
        return {
            "batch_norm_epsilon": self.batch_norm_epsilon,
            "batch_norm_momentum": self.batch_norm_momentum,
            # Serialized, so that each sub-layer builds its own initializer (an unseeded instance shared by
            # several layers is a trap on some backends).
            "kernel_initializer": serialize_or_none(self.kernel_initializer),
            "kernel_regularizer": serialize_or_none(self.kernel_regularizer),
            "dtype": self.dtype_policy,
            **overrides,
        }

    def get_config(self):
        return {
            **super().get_config(),
            **{key: getattr(self, key) for key in self._config_keys},
            "activation": self.activation,
            "batch_norm_epsilon": self.batch_norm_epsilon,
            "batch_norm_momentum": self.batch_norm_momentum,
            "kernel_initializer": serialize_or_none(self.kernel_initializer),
            "kernel_regularizer": serialize_or_none(self.kernel_regularizer),
        }
