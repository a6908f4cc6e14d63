"""`ResidualBlock`: the basic residual block of ResNet-18/34 and the CIFAR ResNets (two 3x3 conv-BN)."""

import keras
from keras import ops

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers.conv.base import ConvBlock
from keras_nn.layers.conv.conv_bn_act import ConvBNAct

SHORTCUTS = ("projection", "zero_pad")


@keras.saving.register_keras_serializable(package="keras_nn")
class ResidualBlock(ConvBlock):
    """The basic residual block of ResNet-18/34 and the CIFAR ResNets: two 3x3 conv-BN, a shortcut, ReLU.

    `y = relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x))`. The shortcut is the identity when the shape is
    unchanged. When the block changes the shape (`strides > 1` or a new channel count), `shortcut` picks the
    paper's option B, `"projection"` (1x1 conv + BN with the block's stride, as torchvision and
    keras.applications), or option A, `"zero_pad"` (the identity subsampled by the stride, with zero channels
    appended: no parameters, the choice of the paper's CIFAR-10 experiments).

    The strided 3x3 convolution pads one pixel on every side (as torchvision), not TensorFlow's asymmetric "same".

    Sub-layers: `{name}_1` and `{name}_2` (ConvBNAct: `{name}_1_conv`, `{name}_1_bn`, ...), and `{name}_0` for a
    projection shortcut.

    Args:
        filters: output channels of both convolutions (and of the block).
        strides: stride of the first 3x3 convolution (and of the shortcut).
        shortcut: `"projection"` (option B) or `"zero_pad"` (option A) when the shape changes.
        activation: activation after the first conv and after the addition.
        use_bias: convolution biases (False: batch norm's beta plays that role).
        batch_norm_epsilon: batch norm epsilon.
        batch_norm_momentum: batch norm momentum (0.9 = PyTorch's default 0.1).
        kernel_initializer: convolution kernel initializer (He normal, as the paper).
        kernel_regularizer: optional kernel regularizer.

    Call arguments:
        inputs: `(batch, height, width, channels)`; with `"zero_pad"`, channels must not exceed `filters`.
        training: batch statistics (True) or moving statistics (False).

    Example:
    >>> block = keras_nn.layers.ResidualBlock(32, strides=2, shortcut="zero_pad")
    >>> block(np.zeros((2, 16, 16, 16))).shape
    (2, 8, 8, 32)

    References:
        He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016,
        https://arxiv.org/abs/1512.03385 (Fig. 2 left; options A/B in section 3.3).
    """

    _config_keys = ("filters", "strides", "shortcut", "use_bias")

    def __init__(
        self,
        filters,
        strides=1,
        shortcut="projection",
        activation="relu",
        use_bias=False,
        batch_norm_epsilon=1e-5,
        batch_norm_momentum=0.9,
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(
            activation,
            batch_norm_epsilon,
            batch_norm_momentum,
            kernel_initializer,
            kernel_regularizer,
            **kwargs,
        )
        if shortcut not in SHORTCUTS:
            raise ConfigError(f"shortcut={shortcut!r} is not allowed; choose one of: {', '.join(SHORTCUTS)}")
        self.filters = filters
        self.strides = strides
        self.shortcut = shortcut
        self.use_bias = use_bias
        conv = self._conv_kwargs(use_bias=use_bias)
        self.conv1 = ConvBNAct(
            filters, 3, strides=strides, padding=1, activation=activation, name=f"{self.name}_1", **conv
        )
        self.conv2 = ConvBNAct(filters, 3, padding=1, activation=None, name=f"{self.name}_2", **conv)
        self.out = keras.layers.Activation(activation, name=f"{self.name}_out", dtype=self.dtype_policy)
        self.projection = None
        self._zero_pad = None

    def build(self, input_shape):
        channels = input_shape[-1]
        changes_shape = self.strides != 1 or channels != self.filters
        if changes_shape and self.shortcut == "projection":
            self.projection = ConvBNAct(
                self.filters,
                1,
                strides=self.strides,
                padding="valid",
                activation=None,
                name=f"{self.name}_0",
                **self._conv_kwargs(use_bias=self.use_bias),
            )
            self.projection.build(input_shape)
        elif changes_shape:
            if channels > self.filters:
                raise ShapeError(
                    f"{self.name}: a zero-padding shortcut cannot go from {channels} to {self.filters} channels; "
                    "use shortcut='projection'"
                )
            extra = self.filters - channels
            self._zero_pad = (extra // 2, extra - extra // 2)
        self.conv1.build(input_shape)
        self.conv2.build(self.conv1.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        x = self.conv2(self.conv1(inputs, training=training), training=training)
        if self.projection is not None:
            shortcut = self.projection(inputs, training=training)
        elif self._zero_pad is not None:
            shortcut = inputs[:, :: self.strides, :: self.strides, :]
            shortcut = ops.pad(shortcut, [[0, 0], [0, 0], [0, 0], list(self._zero_pad)])
        else:
            shortcut = inputs
        return self.out(x + shortcut)

    def compute_output_shape(self, input_shape):
        return self.conv1.compute_output_shape(input_shape)
