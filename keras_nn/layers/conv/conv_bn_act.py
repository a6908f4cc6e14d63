"""`ConvBNAct`: convolution, batch normalization, activation, with PyTorch-style explicit padding."""

import keras

from keras_nn.layers.conv.base import ConvBlock, check_padding, padding_plan


@keras.saving.register_keras_serializable(package="keras_nn")
class ConvBNAct(ConvBlock):
    """Convolution, batch normalization, activation: the unit every modern CNN is made of.

    Sub-layers are named `{name}_pad` (explicit padding, when needed), `{name}_conv`, `{name}_bn` and
    `{name}_act`, which is keras.applications' naming (`conv1_conv`, `conv1_bn` in ResNet50).

    Args:
        filters: output channels.
        kernel_size: int or pair.
        strides: int or pair.
        padding: `"same"`, `"valid"`, or a number of pixels (int or `(rows, cols)`) of symmetric zero padding
            as in PyTorch. TensorFlow's `"same"` pads the bottom/right more than the top/left when a strided
            convolution does not divide evenly; `padding=k // 2` pads both sides alike, which is what
            torchvision and keras.applications' ResNet stem (ZeroPadding2D(3) then a 7x7/2 conv) do.
        dilation_rate: dilation of the kernel (atrous convolution); a 3x3 kernel with dilation `d` sees
            `2d + 1` pixels per side.
        groups: grouped convolution (channels split into `groups` independent convolutions).
        activation: activation name or callable, or None for none (a linear output, e.g. before a residual
            addition).
        batch_norm: whether to batch-normalize; without it the convolution has a bias.
        use_bias: convolution bias; default (None) is `not batch_norm`, since batch norm's beta makes a bias
            redundant. keras.applications' ResNet50 keeps it (`use_bias=True`).
        batch_norm_epsilon: batch norm epsilon.
        batch_norm_momentum: momentum of the moving statistics (Keras convention: PyTorch's 0.1 is 0.9 here).
        kernel_initializer: initializer of the convolution kernel; He normal suits ReLU networks (He et al.
            2015, the initialization the ResNet paper uses).
        kernel_regularizer: optional regularizer of the kernel (weight decay).

    Call arguments:
        inputs: `(batch, height, width, channels)` tensor.
        training: batch norm uses batch statistics (True) or its moving statistics (False).

    Example:
    >>> layer = keras_nn.layers.ConvBNAct(32, 3, strides=2, padding=1)
    >>> layer(np.zeros((2, 32, 32, 3))).shape
    (2, 16, 16, 32)

    References:
        Ioffe & Szegedy, "Batch Normalization", 2015, https://arxiv.org/abs/1502.03167.
        Yu & Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", 2016,
        https://arxiv.org/abs/1511.07122.
    """

    _config_keys = (
        "filters",
        "kernel_size",
        "strides",
        "padding",
        "dilation_rate",
        "groups",
        "batch_norm",
        "use_bias",
    )

    def __init__(
        self,
        filters,
        kernel_size=3,
        strides=1,
        padding="same",
        dilation_rate=1,
        groups=1,
        activation="relu",
        batch_norm=True,
        use_bias=None,
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
        self.groups = groups
        self.batch_norm = batch_norm
        self.use_bias = (not batch_norm) if use_bias is None else bool(use_bias)
        explicit, conv_padding = padding_plan(self.padding, kernel_size, strides, dilation_rate)
        common = {"dtype": self.dtype_policy}
        self.pad = (
            keras.layers.ZeroPadding2D(explicit, name=f"{self.name}_pad", **common) if explicit else None
        )
        self.conv = keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding=conv_padding,
            dilation_rate=dilation_rate,
            groups=groups,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            kernel_regularizer=self.kernel_regularizer,
            name=f"{self.name}_conv",
            **common,
        )
        self.bn = (
            keras.layers.BatchNormalization(
                epsilon=batch_norm_epsilon, momentum=batch_norm_momentum, name=f"{self.name}_bn", **common
            )
            if batch_norm
            else None
        )
        self.act = (
            keras.layers.Activation(activation, name=f"{self.name}_act", **common) if activation else None
        )

    def build(self, input_shape):
        shape = input_shape
        if self.pad is not None:
            shape = self.pad.compute_output_shape(shape)
        self.conv.build(shape)
        if self.bn is not None:
            self.bn.build(self.conv.compute_output_shape(shape))

    def call(self, inputs, training=None):
        x = inputs if self.pad is None else self.pad(inputs)
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x, training=training)
        return x if self.act is None else self.act(x)

    def compute_output_shape(self, input_shape):
        shape = input_shape if self.pad is None else self.pad.compute_output_shape(input_shape)
        return self.conv.compute_output_shape(shape)
