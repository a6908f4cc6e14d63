"""MobileNetV2 (Sandler et al. 2018): inverted residual blocks with linear bottlenecks, width multiplier alpha."""

import keras

from keras_nn.errors import ConfigError
from keras_nn.models.base import (
    check_input_shape,
    check_positive_int,
    check_rate,
    classifier_head,
)
from keras_nn.models.image_model import ImageClassifier, check_top
from keras_nn.models.registry import register_model

# The paper's Table 2: expansion t, output channels c, repeats n, first stride s.
MOBILENET_V2_BLOCKS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def make_divisible(value, divisor=8, min_value=None):
    """Rounds a channel count to a multiple of `divisor`, never below 90% of `value` (the reference code's
    rule, which keeps every layer's width a multiple of 8 for hardware)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def he_normal_fan_out():
    """He-normal initialization scaled by fan-out, torchvision's for MobileNetV2's convolutions.

    keras.applications uses Glorot uniform, with which activations shrink block after block: in inference
    mode a freshly built network outputs almost exactly uniform probabilities, and batch norm's moving
    statistics (initialized to 0 and 1) are far from the real ones. For a depthwise kernel, shaped
    (3, 3, channels, 1) in Keras, the fan-out is 9, the number of taps each output sees, which is the
    variance-preserving scale.
    """
    return keras.initializers.VarianceScaling(2.0, mode="fan_out", distribution="untruncated_normal")


def _correct_pad(size, kernel_size):
    """keras.applications' padding before a strided depthwise conv: one pixel on the top/left only when the
    size is odd (or unknown), so the output matches TensorFlow's "same" while the conv runs "valid"."""
    adjust = 1 if size is None else 1 - size % 2
    half = kernel_size // 2
    return (half - adjust, half)


def inverted_residual(x, expansion, stride, filters, block_id, bn):
    """MobileNetV2's inverted residual block, with keras.applications' layer names (`block_{id}_expand`, ...).

    1x1 expansion conv + BN + ReLU6 (omitted when the expansion is 1), 3x3 depthwise conv (stride) + BN + ReLU6,
    1x1 linear projection + BN (no activation: the "linear bottleneck"), and an identity shortcut when the
    stride is 1 and the channel count is unchanged.
    """
    in_channels = x.shape[-1]
    inputs = x
    prefix = f"block_{block_id}_"
    if block_id:
        x = keras.layers.Conv2D(
            expansion * in_channels,
            1,
            padding="same",
            use_bias=False,
            kernel_initializer=he_normal_fan_out(),
            name=f"{prefix}expand",
        )(x)
        x = keras.layers.BatchNormalization(name=f"{prefix}expand_BN", **bn)(x)
        x = keras.layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        pads = (_correct_pad(x.shape[1], 3), _correct_pad(x.shape[2], 3))
        x = keras.layers.ZeroPadding2D(pads, name=f"{prefix}pad")(x)
    x = keras.layers.DepthwiseConv2D(
        3,
        strides=stride,
        use_bias=False,
        padding="same" if stride == 1 else "valid",
        depthwise_initializer=he_normal_fan_out(),
        name=f"{prefix}depthwise",
    )(x)
    x = keras.layers.BatchNormalization(name=f"{prefix}depthwise_BN", **bn)(x)
    x = keras.layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = keras.layers.Conv2D(
        filters,
        1,
        padding="same",
        use_bias=False,
        kernel_initializer=he_normal_fan_out(),
        name=f"{prefix}project",
    )(x)
    x = keras.layers.BatchNormalization(name=f"{prefix}project_BN", **bn)(x)
    if in_channels == filters and stride == 1:
        return keras.layers.Add(name=f"{prefix}add")([inputs, x])
    return x


@keras.saving.register_keras_serializable(package="keras_nn")
class MobileNetV2(ImageClassifier):
    """MobileNetV2: a 3x3/2 convolution (32 channels), 17 inverted residual blocks (the paper's Table 2), a 1x1
    convolution to 1280 channels, global average pooling and a dense classifier; ReLU6 throughout.

    The graph and layer names are keras.applications' MobileNetV2 (`Conv1`, `bn_Conv1`, `block_1_expand`, ...,
    `Conv_1`, `predictions`), batch norm epsilon 1e-3 and momentum 0.999 included, so its weight files load by
    name (`weights=PATH`) and give the same outputs. Convolutions start from He-normal (fan-out) weights as
    torchvision's, not keras.applications' Glorot uniform (see `he_normal_fan_out`). Channel counts are `make_divisible(c * alpha, 8)`; the
    last convolution keeps 1280 channels for `alpha <= 1` (the paper's rule).

    Parameter count at alpha 1.0, 224x224, 1000 classes: 3,538,984 (keras.applications MobileNetV2; its
    trainable 3,504,872 is torchvision's mobilenet_v2 count).

    Args:
        num_classes: number of classes.
        input_shape: `(height, width, channels)`; each spatial size at least 32 (five stride-2 stages).
        alpha: width multiplier (0.35, 0.5, 0.75, 1.0, 1.3, 1.4 have published ImageNet weights; any positive
            value works).
        include_top: with the classifier; False gives a feature extractor.
        pooling: feature-extractor output: None (the 1280-channel map), `"avg"` or `"max"`.
        classifier_activation: `"softmax"` or None (logits). The classifier runs in float32.
        dropout: dropout before the classifier (0.2, as the TF-slim and torchvision training code;
            keras.applications has none; inference is the same either way).
        weights: None, or a weights file loaded by layer name (see `keras_nn.models.image_model.load_weights_by_name`).
        batch_norm_momentum: batch norm momentum (keras.applications: 0.999; lower it, e.g. 0.9, for short
            training runs on small data sets).
        name: model name.

    Call arguments:
        images: `(batch, height, width, channels)` floats scaled to [-1, 1]
            (`keras.applications.mobilenet_v2.preprocess_input`) for keras.applications weights.

    Example:
    >>> model = keras_nn.create_model("mobilenet_v2", alpha=0.35, num_classes=10, input_shape=(96, 96, 3))
    >>> model(np.zeros((2, 96, 96, 3))).shape
    (2, 10)

    References:
        Sandler, Howard, Zhu, Zhmoginov & Chen, "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
        CVPR 2018, https://arxiv.org/abs/1801.04381.
    """

    def __init__(
        self,
        num_classes=1000,
        input_shape=(224, 224, 3),
        alpha=1.0,
        include_top=True,
        pooling=None,
        classifier_activation="softmax",
        dropout=0.2,
        weights=None,
        batch_norm_momentum=0.999,
        name="mobilenet_v2",
        **kwargs,
    ):
        arguments = dict(locals())
        check_positive_int("num_classes", num_classes)
        if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or alpha <= 0:
            raise ConfigError(
                f"alpha={alpha!r} must be a positive number (the width multiplier, e.g. 0.35 or 1.0)"
            )
        check_rate("dropout", dropout)
        check_top(include_top, pooling, classifier_activation)
        input_shape = check_input_shape(name, input_shape, rank=3, min_size=32)

        bn = {"epsilon": 1e-3, "momentum": batch_norm_momentum}
        images = keras.Input(shape=input_shape, name="images")
        x = keras.layers.Conv2D(
            make_divisible(32 * alpha, 8),
            3,
            strides=2,
            padding="same",
            use_bias=False,
            kernel_initializer=he_normal_fan_out(),
            name="Conv1",
        )(images)
        x = keras.layers.BatchNormalization(name="bn_Conv1", **bn)(x)
        x = keras.layers.ReLU(6.0, name="Conv1_relu")(x)
        block_id = 0
        for expansion, channels, repeats, first_stride in MOBILENET_V2_BLOCKS:
            filters = make_divisible(int(channels * alpha), 8)
            for index in range(repeats):
                x = inverted_residual(x, expansion, first_stride if index == 0 else 1, filters, block_id, bn)
                block_id += 1
        last_filters = make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
        x = keras.layers.Conv2D(
            last_filters, 1, use_bias=False, kernel_initializer=he_normal_fan_out(), name="Conv_1"
        )(x)
        x = keras.layers.BatchNormalization(name="Conv_1_bn", **bn)(x)
        x = keras.layers.ReLU(6.0, name="out_relu")(x)
        if include_top:
            x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
            x = classifier_head(x, num_classes, classifier_activation, dropout)
        self._finish(images, x, arguments, **kwargs)


register_model(
    "mobilenet_v2",
    MobileNetV2,
    family="cnn",
    description="MobileNetV2 (inverted residuals, linear bottlenecks, ReLU6), width multiplier alpha",
    paper="Sandler et al. 2018, MobileNetV2: Inverted Residuals and Linear Bottlenecks",
)
