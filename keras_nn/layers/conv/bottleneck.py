"""`BottleneckBlock`: the bottleneck residual block of ResNet-50/101/152 (1x1 reduce, 3x3, 1x1 expand)."""

import keras

from keras_nn.errors import ConfigError
from keras_nn.layers.conv.base import ConvBlock
from keras_nn.layers.conv.conv_bn_act import ConvBNAct

STRIDE_POSITIONS = ("1x1", "3x3")


@keras.saving.register_keras_serializable(package="keras_nn")
class BottleneckBlock(ConvBlock):
    """The bottleneck residual block of ResNet-50/101/152: 1x1 reduce, 3x3, 1x1 expand (x `expansion`), shortcut.

    `y = relu(bn(conv1x1(relu(bn(conv3x3(relu(bn(conv1x1(x)))))))) + shortcut(x))`, with `filters * expansion`
    output channels. The shortcut is a projection (1x1 conv + BN with the block's stride) when the shape
    changes, the identity otherwise (option B of the paper, as torchvision and keras.applications).

    Where the stride goes: `stride_on="1x1"` (default) puts it on the first 1x1 convolution, as the paper's
    released Caffe model and keras.applications' ResNet50 ("ResNet v1"); `stride_on="3x3"` puts it on the 3x3
    convolution ("ResNet v1.5": torchvision, NVIDIA), which is about 0.5% more accurate on ImageNet for a few
    more FLOPs. The parameter count is the same. A strided 3x3 pads one pixel on every side (as torchvision).

    Sub-layers: `{name}_0` (projection), `{name}_1`, `{name}_2`, `{name}_3` (ConvBNAct: `{name}_1_conv`,
    `{name}_1_bn`, ...), keras.applications' names for ResNet50 (`conv2_block1_1_conv`).

    Args:
        filters: channels of the 1x1 reduce and 3x3 convolutions; the block outputs `filters * expansion`.
        strides: the block's stride.
        expansion: ratio of output to bottleneck channels (4 in the paper).
        stride_on: `"1x1"` (v1: paper, keras.applications) or `"3x3"` (v1.5: torchvision).
        activation: activation inside the block and after the addition.
        use_bias: convolution biases; keras.applications' ResNet50 has them (its 25,636,712 parameters),
            torchvision's does not (25,557,032).
        batch_norm_epsilon: batch norm epsilon (keras.applications: 1.001e-5).
        batch_norm_momentum: batch norm momentum.
        kernel_initializer: convolution kernel initializer.
        kernel_regularizer: optional kernel regularizer.

    Call arguments:
        inputs: `(batch, height, width, channels)`.
        training: batch statistics (True) or moving statistics (False).

    Example:
    >>> block = keras_nn.layers.BottleneckBlock(64, strides=2)
    >>> block(np.zeros((2, 16, 16, 64))).shape
    (2, 8, 8, 256)

    References:
        He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016,
        https://arxiv.org/abs/1512.03385 (Fig. 5 right, Table 1).
    """

    _config_keys = ("filters", "strides", "expansion", "stride_on", "use_bias")

    def __init__(
        self,
        filters,
        strides=1,
        expansion=4,
        stride_on="1x1",
        activation="relu",
        use_bias=False,
        batch_norm_epsilon=1.001e-5,
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
        if stride_on not in STRIDE_POSITIONS:
            raise ConfigError(
                f"stride_on={stride_on!r} is not allowed; choose one of: {', '.join(STRIDE_POSITIONS)}"
            )
        self.filters = filters
        self.strides = strides
        self.expansion = expansion
        self.stride_on = stride_on
        self.use_bias = use_bias
        conv = self._conv_kwargs(use_bias=use_bias)
        first_stride, middle_stride = (strides, 1) if stride_on == "1x1" else (1, strides)
        self.conv1 = ConvBNAct(
            filters,
            1,
            strides=first_stride,
            padding="valid",
            activation=activation,
            name=f"{self.name}_1",
            **conv,
        )
        self.conv2 = ConvBNAct(
            filters, 3, strides=middle_stride, padding=1, activation=activation, name=f"{self.name}_2", **conv
        )
        self.conv3 = ConvBNAct(
            filters * expansion, 1, padding="valid", activation=None, name=f"{self.name}_3", **conv
        )
        self.out = keras.layers.Activation(activation, name=f"{self.name}_out", dtype=self.dtype_policy)
        self.projection = None

    def build(self, input_shape):
        if self.strides != 1 or input_shape[-1] != self.filters * self.expansion:
            self.projection = ConvBNAct(
                self.filters * self.expansion,
                1,
                strides=self.strides,
                padding="valid",
                activation=None,
                name=f"{self.name}_0",
                **self._conv_kwargs(use_bias=self.use_bias),
            )
            self.projection.build(input_shape)
        shape = input_shape
        for conv in (self.conv1, self.conv2, self.conv3):
            conv.build(shape)
            shape = conv.compute_output_shape(shape)

    def call(self, inputs, training=None):
        shortcut = inputs if self.projection is None else self.projection(inputs, training=training)
        x = self.conv1(inputs, training=training)
        x = self.conv2(x, training=training)
        x = self.conv3(x, training=training)
        return self.out(x + shortcut)

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for conv in (self.conv1, self.conv2, self.conv3):
            shape = conv.compute_output_shape(shape)
        return shape
