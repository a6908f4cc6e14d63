"""`InceptionBlock`: the Inception module of GoogLeNet, four parallel branches concatenated."""

import keras
from keras import ops

from keras_nn.layers.conv.base import ConvBlock
from keras_nn.layers.conv.conv_bn_act import ConvBNAct


@keras.saving.register_keras_serializable(package="keras_nn")
class InceptionBlock(ConvBlock):
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
