"""`DepthwiseSeparableConv`: depthwise then pointwise convolution, each with BN and activation (MobileNet)."""

import keras

from keras_nn.layers.conv.base import ConvBlock, check_padding, padding_plan, serialize_or_none


@keras.saving.register_keras_serializable(package="keras_nn")
class DepthwiseSeparableConv(ConvBlock):
    """Depthwise convolution, BN, activation, then pointwise (1x1) convolution, BN, activation (MobileNet v1).

    It factors a `k x k x C_in x C_out` convolution into a per-channel `k x k` filter and a 1x1 channel mix:
    `k^2 C_in + C_in C_out` weights instead of `k^2 C_in C_out`, about `1/C_out + 1/k^2` of the cost.

    Sub-layers: `{name}_dw_pad` (explicit padding, when needed), `{name}_dw_conv`, `{name}_dw_bn`,
    `{name}_dw_act`, `{name}_pw_conv`, `{name}_pw_bn`, `{name}_pw_act`.

    Args:
        filters: output channels of the pointwise convolution.
        kernel_size: depthwise kernel size.
        strides: depthwise stride.
        padding: `"same"`, `"valid"` or a number of pixels of symmetric zero padding (see `ConvBNAct`).
        dilation_rate: depthwise dilation (atrous separable convolution, as DeepLab v3+).
        depth_multiplier: depthwise output channels per input channel.
        activation: activation after each batch norm (ReLU in MobileNet v1; "relu6" for the quantization-friendly
            variant), or None.
        use_bias: convolution biases (False: batch norm's beta plays that role).
        batch_norm_epsilon: batch norm epsilon.
        batch_norm_momentum: batch norm momentum.
        kernel_initializer: initializer of both kernels.
        kernel_regularizer: optional regularizer of the pointwise kernel (MobileNet puts little or no weight
            decay on depthwise filters, which have few parameters).

    Call arguments:
        inputs: `(batch, height, width, channels)`.
        training: batch statistics (True) or moving statistics (False).

    Example:
    >>> layer = keras_nn.layers.DepthwiseSeparableConv(64, strides=2)
    >>> layer(np.zeros((2, 32, 32, 32))).shape
    (2, 16, 16, 64)

    References:
        Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications",
        2017, https://arxiv.org/abs/1704.04861 (Fig. 3 right).
        Chen et al., "Encoder-Decoder with Atrous Separable Convolution" (DeepLab v3+), 2018,
        https://arxiv.org/abs/1802.02611.
    """

    _config_keys = (
        "filters",
        "kernel_size",
        "strides",
        "padding",
        "dilation_rate",
        "depth_multiplier",
        "use_bias",
    )

    def __init__(
        self,
        filters,
        kernel_size=3,
        strides=1,
        padding="same",
        dilation_rate=1,
        depth_multiplier=1,
        activation="relu",
        use_bias=False,
        batch_norm_epsilon=1e-3,
        batch_norm_momentum=0.99,
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
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = check_padding(padding)
        self.dilation_rate = dilation_rate
        self.depth_multiplier = depth_multiplier
        self.use_bias = use_bias

        name, common = self.name, {"dtype": self.dtype_policy}
        explicit, conv_padding = padding_plan(self.padding, kernel_size, strides, dilation_rate)
        bn = {"epsilon": batch_norm_epsilon, "momentum": batch_norm_momentum, **common}
        self.pad = keras.layers.ZeroPadding2D(explicit, name=f"{name}_dw_pad", **common) if explicit else None
        self.depthwise = keras.layers.DepthwiseConv2D(
            kernel_size,
            strides=strides,
            padding=conv_padding,
            dilation_rate=dilation_rate,
            depth_multiplier=depth_multiplier,
            use_bias=use_bias,
            depthwise_initializer=serialize_or_none(self.kernel_initializer),
            name=f"{name}_dw_conv",
            **common,
        )
        self.depthwise_bn = keras.layers.BatchNormalization(name=f"{name}_dw_bn", **bn)
        self.depthwise_act = (
            keras.layers.Activation(activation, name=f"{name}_dw_act", **common) if activation else None
        )
        self.pointwise = keras.layers.Conv2D(
            filters,
            1,
            use_bias=use_bias,
            kernel_initializer=serialize_or_none(self.kernel_initializer),
            kernel_regularizer=self.kernel_regularizer,
            name=f"{name}_pw_conv",
            **common,
        )
        self.pointwise_bn = keras.layers.BatchNormalization(name=f"{name}_pw_bn", **bn)
        self.pointwise_act = (
            keras.layers.Activation(activation, name=f"{name}_pw_act", **common) if activation else None
        )

    def build(self, input_shape):
        shape = input_shape if self.pad is None else self.pad.compute_output_shape(input_shape)
        self.depthwise.build(shape)
        shape = self.depthwise.compute_output_shape(shape)
        self.depthwise_bn.build(shape)
        self.pointwise.build(shape)
        self.pointwise_bn.build(self.pointwise.compute_output_shape(shape))

    def call(self, inputs, training=None):
        x = inputs if self.pad is None else self.pad(inputs)
        x = self.depthwise_bn(self.depthwise(x), training=training)
        if self.depthwise_act is not None:
            x = self.depthwise_act(x)
        x = self.pointwise_bn(self.pointwise(x), training=training)
        return x if self.pointwise_act is None else self.pointwise_act(x)

    def compute_output_shape(self, input_shape):
        shape = input_shape if self.pad is None else self.pad.compute_output_shape(input_shape)
        return self.pointwise.compute_output_shape(self.depthwise.compute_output_shape(shape))
