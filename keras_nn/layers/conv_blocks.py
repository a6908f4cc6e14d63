"""Convolutional building blocks: conv-BN-activation, residual (basic and bottleneck), Inception and depthwise
separable convolutions.

Every block is a composite layer whose sub-layers are named after the block (`{name}_conv`, `{name}_bn`, ...),
following keras.applications' naming, so a ResNet built from these blocks has the same weight-bearing layer
names as `keras.applications.ResNet50` and can load its weight files by name.
"""

import keras
from keras import ops

from keras_nn.errors import ConfigError, ShapeError


def _pair(value, what):
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) and v >= 0 for v in value):
        raise ConfigError(f"{what}={value!r} must be an int or a pair of ints")
    return value


def _padding_plan(padding, kernel_size, strides, dilation_rate):
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


def _check_padding(padding):
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ConfigError(
                f"padding={padding!r} is not allowed; use 'same', 'valid' or a number of pixels"
            )
        return padding
    pad = _pair(padding, "padding")
    return pad[0] if pad[0] == pad[1] else list(pad)


def _serialize(obj):
    return None if obj is None else keras.saving.serialize_keras_object(obj)


class _ConvBlock(keras.layers.Layer):
    """What the blocks share: the activation, batch-norm and kernel settings, and a config made of them plus
    the block's own constructor arguments (`_config_keys`, stored as attributes of the same name)."""

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
            "kernel_initializer": _serialize(self.kernel_initializer),
            "kernel_regularizer": _serialize(self.kernel_regularizer),
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
            "kernel_initializer": _serialize(self.kernel_initializer),
            "kernel_regularizer": _serialize(self.kernel_regularizer),
        }


@keras.saving.register_keras_serializable(package="keras_nn")
class ConvBNAct(_ConvBlock):
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
        self.padding = _check_padding(padding)
        self.dilation_rate = dilation_rate
        self.groups = groups
        self.batch_norm = batch_norm
        self.use_bias = (not batch_norm) if use_bias is None else bool(use_bias)
        explicit, conv_padding = _padding_plan(self.padding, kernel_size, strides, dilation_rate)
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


SHORTCUTS = ("projection", "zero_pad")


@keras.saving.register_keras_serializable(package="keras_nn")
class ResidualBlock(_ConvBlock):
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


STRIDE_POSITIONS = ("1x1", "3x3")


@keras.saving.register_keras_serializable(package="keras_nn")
class BottleneckBlock(_ConvBlock):
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


@keras.saving.register_keras_serializable(package="keras_nn")
class InceptionBlock(_ConvBlock):
    """The Inception module of GoogLeNet: four parallel branches concatenated along channels.

    Branches, in output order: a 1x1 convolution; a 1x1 reduction then a 3x3 convolution; a 1x1 reduction then
    a 5x5 convolution; a 3x3/1 max pool then a 1x1 "pool projection". Every convolution is followed by ReLU
    (and batch norm, which the 2014 paper predates but torchvision's GoogLeNet adds). The output has
    `filters_1x1 + filters_3x3 + filters_5x5 + filters_pool_proj` channels and the input's spatial size.

    torchvision's GoogLeNet uses a 3x3 kernel in the "5x5" branch (a bug kept for its pretrained weights);
    `kernel_size_5x5=3` reproduces it.

    Sub-layers (ConvBNAct): `{name}_1x1`, `{name}_3x3_reduce`, `{name}_3x3`, `{name}_5x5_reduce`, `{name}_5x5`,
    `{name}_pool_proj`, and the pool `{name}_pool`.

    Args:
        filters_1x1: channels of the 1x1 branch ("#1x1" in the paper's Table 1).
        filters_3x3_reduce: channels of the 1x1 reduction before the 3x3 ("#3x3 reduce").
        filters_3x3: channels of the 3x3 convolution ("#3x3").
        filters_5x5_reduce: channels of the 1x1 reduction before the 5x5 ("#5x5 reduce").
        filters_5x5: channels of the 5x5 convolution ("#5x5").
        filters_pool_proj: channels of the 1x1 after the max pool ("pool proj").
        kernel_size_5x5: kernel of the "5x5" branch (5 in the paper, 3 in torchvision).
        activation: activation after every convolution.
        batch_norm: batch norm after every convolution (torchvision) or not (paper; the convolutions then have
            biases).
        batch_norm_epsilon: batch norm epsilon (torchvision: 1e-3).
        batch_norm_momentum: batch norm momentum.
        kernel_initializer: convolution kernel initializer.
        kernel_regularizer: optional kernel regularizer.

    Call arguments:
        inputs: `(batch, height, width, channels)`.
        training: batch statistics (True) or moving statistics (False).

    Example:
    >>> block = keras_nn.layers.InceptionBlock(64, 96, 128, 16, 32, 32)  # inception (3a)
    >>> block(np.zeros((2, 28, 28, 192))).shape
    (2, 28, 28, 256)

    References:
        Szegedy et al., "Going Deeper with Convolutions", CVPR 2015, https://arxiv.org/abs/1409.4842
        (Fig. 2b, Table 1).
    """

    _config_keys = (
        "filters_1x1",
        "filters_3x3_reduce",
        "filters_3x3",
        "filters_5x5_reduce",
        "filters_5x5",
        "filters_pool_proj",
        "kernel_size_5x5",
        "batch_norm",
    )

    def __init__(
        self,
        filters_1x1,
        filters_3x3_reduce,
        filters_3x3,
        filters_5x5_reduce,
        filters_5x5,
        filters_pool_proj,
        kernel_size_5x5=5,
        activation="relu",
        batch_norm=True,
        batch_norm_epsilon=1e-3,
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
        self.filters_1x1 = filters_1x1
        self.filters_3x3_reduce = filters_3x3_reduce
        self.filters_3x3 = filters_3x3
        self.filters_5x5_reduce = filters_5x5_reduce
        self.filters_5x5 = filters_5x5
        self.filters_pool_proj = filters_pool_proj
        self.kernel_size_5x5 = kernel_size_5x5
        self.batch_norm = batch_norm
        conv = self._conv_kwargs(activation=activation, batch_norm=batch_norm)
        name = self.name
        self.branch_1x1 = ConvBNAct(filters_1x1, 1, name=f"{name}_1x1", **conv)
        self.branch_3x3_reduce = ConvBNAct(filters_3x3_reduce, 1, name=f"{name}_3x3_reduce", **conv)
        self.branch_3x3 = ConvBNAct(filters_3x3, 3, name=f"{name}_3x3", **conv)
        self.branch_5x5_reduce = ConvBNAct(filters_5x5_reduce, 1, name=f"{name}_5x5_reduce", **conv)
        self.branch_5x5 = ConvBNAct(filters_5x5, kernel_size_5x5, name=f"{name}_5x5", **conv)
        self.pool = keras.layers.MaxPooling2D(
            3, strides=1, padding="same", name=f"{name}_pool", dtype=self.dtype_policy
        )
        self.branch_pool_proj = ConvBNAct(filters_pool_proj, 1, name=f"{name}_pool_proj", **conv)

    def build(self, input_shape):
        self.branch_1x1.build(input_shape)
        self.branch_3x3_reduce.build(input_shape)
        self.branch_3x3.build(self.branch_3x3_reduce.compute_output_shape(input_shape))
        self.branch_5x5_reduce.build(input_shape)
        self.branch_5x5.build(self.branch_5x5_reduce.compute_output_shape(input_shape))
        self.branch_pool_proj.build(input_shape)

    def call(self, inputs, training=None):
        branches = [
            self.branch_1x1(inputs, training=training),
            self.branch_3x3(self.branch_3x3_reduce(inputs, training=training), training=training),
            self.branch_5x5(self.branch_5x5_reduce(inputs, training=training), training=training),
            self.branch_pool_proj(self.pool(inputs), training=training),
        ]
        return ops.concatenate(branches, axis=-1)

    def compute_output_shape(self, input_shape):
        channels = self.filters_1x1 + self.filters_3x3 + self.filters_5x5 + self.filters_pool_proj
        return (*input_shape[:-1], channels)


@keras.saving.register_keras_serializable(package="keras_nn")
class DepthwiseSeparableConv(_ConvBlock):
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
        self.padding = _check_padding(padding)
        self.dilation_rate = dilation_rate
        self.depth_multiplier = depth_multiplier
        self.use_bias = use_bias

        name, common = self.name, {"dtype": self.dtype_policy}
        explicit, conv_padding = _padding_plan(self.padding, kernel_size, strides, dilation_rate)
        bn = {"epsilon": batch_norm_epsilon, "momentum": batch_norm_momentum, **common}
        self.pad = keras.layers.ZeroPadding2D(explicit, name=f"{name}_dw_pad", **common) if explicit else None
        self.depthwise = keras.layers.DepthwiseConv2D(
            kernel_size,
            strides=strides,
            padding=conv_padding,
            dilation_rate=dilation_rate,
            depth_multiplier=depth_multiplier,
            use_bias=use_bias,
            depthwise_initializer=_serialize(self.kernel_initializer),
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
            kernel_initializer=_serialize(self.kernel_initializer),
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
