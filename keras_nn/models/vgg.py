"""VGG (Simonyan & Zisserman 2014): configurations A, B, D and E (VGG-11, -13, -16, -19), with or without BN."""

import keras

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.models.base import (
    check_input_shape,
    check_positive_int,
    check_rate,
    classifier_head,
)
from keras_nn.models.image_model import ImageClassifier, check_top
from keras_nn.models.registry import register_model

# Convolutions per stage of the paper's Table 1: A (11 weight layers), B (13), D (16), E (19).
VGG_STAGE_CONVS = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}


@keras.saving.register_keras_serializable(package="keras_nn")
class VGG(ImageClassifier):
    """VGG: stages of 3x3 convolutions (stride 1, "same") with ReLU, each ending in a 2x2/2 max pool, then
    flatten and three fully connected layers (4096, 4096, classes) with dropout 0.5 after the first two.

    Layer names follow keras.applications (`block1_conv1`, ..., `block5_pool`, `flatten`, `fc1`, `fc2`,
    `predictions`), so keras.applications VGG16/VGG19 weight files load by name (`weights=PATH`) and give the
    same outputs; the dropout layers (in the paper, absent from keras.applications) have no weights.

    Parameter counts (ImageNet, 224x224, 1000 classes): `vgg11` 132,863,336, `vgg13` 133,047,848, `vgg16`
    138,357,544 (keras.applications VGG16 and torchvision vgg16), `vgg19` 143,667,240 (keras.applications
    VGG19). With `batch_norm=True` (conv, BN, ReLU; the convolutions keep their biases as torchvision's
    vgg*_bn) the trainable count is torchvision's: 132,868,840 / 133,053,736 / 138,365,992 / 143,678,248.

    Args:
        num_classes: number of classes.
        input_shape: `(height, width, channels)`; each spatial size at least `2 ** stages` (32). With the
            classifier (`include_top=True`) the size must be fixed: the flattened map feeds `fc1`.
        stage_convs: convolutions per stage (VGG-16: `(2, 2, 3, 3, 3)`).
        filters: channels of each stage (`(64, 128, 256, 512, 512)`).
        batch_norm: batch norm after every convolution (the "_bn" models of torchvision, which the 2014 paper
            predates).
        fc_units: width of the two hidden fully connected layers (4096).
        dropout: dropout after each hidden fully connected layer (0.5, as the paper).
        include_top: with the three fully connected layers; False gives a feature extractor.
        pooling: feature-extractor output: None (last feature map, after the last pool), `"avg"` or `"max"`.
        classifier_activation: `"softmax"` or None (logits). The classifier runs in float32.
        weights: None, or a weights file loaded by layer name (see `keras_nn.models.image_model.load_weights_by_name`).
        batch_norm_epsilon: batch norm epsilon (torchvision: 1e-5).
        batch_norm_momentum: batch norm momentum.
        name: model name.

    Call arguments:
        images: `(batch, height, width, channels)` floats (keras.applications weights expect
            `keras.applications.vgg16.preprocess_input`).

    Example:
    >>> model = keras_nn.create_model("vgg16", num_classes=10, input_shape=(32, 32, 3), fc_units=512)
    >>> model(np.zeros((2, 32, 32, 3))).shape
    (2, 10)

    References:
        Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", ICLR 2015,
        https://arxiv.org/abs/1409.1556 (Table 1, configurations A, B, D, E).
    """

    def __init__(
        self,
        num_classes=1000,
        input_shape=(224, 224, 3),
        stage_convs=VGG_STAGE_CONVS[16],
        filters=(64, 128, 256, 512, 512),
        batch_norm=False,
        fc_units=4096,
        dropout=0.5,
        include_top=True,
        pooling=None,
        classifier_activation="softmax",
        weights=None,
        batch_norm_epsilon=1e-5,
        batch_norm_momentum=0.9,
        name="vgg",
        **kwargs,
    ):
        arguments = dict(locals())
        check_positive_int("num_classes", num_classes)
        check_positive_int("fc_units", fc_units)
        check_rate("dropout", dropout)
        check_top(include_top, pooling, classifier_activation)
        if len(stage_convs) != len(filters) or not stage_convs:
            raise ConfigError(
                f"stage_convs={stage_convs!r} and filters={filters!r} must give one entry per stage"
            )
        for count in (*stage_convs, *filters):
            check_positive_int("stage_convs and filters entries", count)
        input_shape = check_input_shape(name, input_shape, rank=3, min_size=2 ** len(stage_convs))
        if include_top and None in input_shape[:2]:
            raise ShapeError(
                f"{name}: include_top=True needs a fixed input size (the flattened map feeds fc1); got input_shape "
                f"{input_shape}. Give the size, or use include_top=False with pooling"
            )

        images = keras.Input(shape=input_shape, name="images")
        x = images
        for stage, (count, stage_filters) in enumerate(zip(stage_convs, filters, strict=True)):
            for index in range(count):
                prefix = f"block{stage + 1}_conv{index + 1}"
                if batch_norm:
                    x = keras.layers.Conv2D(stage_filters, 3, padding="same", name=prefix)(x)
                    x = keras.layers.BatchNormalization(
                        epsilon=batch_norm_epsilon, momentum=batch_norm_momentum, name=f"{prefix}_bn"
                    )(x)
                    x = keras.layers.ReLU(name=f"{prefix}_relu")(x)
                else:
                    x = keras.layers.Conv2D(stage_filters, 3, padding="same", activation="relu", name=prefix)(
                        x
                    )
            x = keras.layers.MaxPooling2D(2, strides=2, name=f"block{stage + 1}_pool")(x)
        if include_top:
            x = keras.layers.Flatten(name="flatten")(x)
            x = keras.layers.Dense(fc_units, activation="relu", name="fc1")(x)
            x = keras.layers.Dropout(dropout, name="fc1_dropout")(x)
            x = keras.layers.Dense(fc_units, activation="relu", name="fc2")(x)
            x = classifier_head(x, num_classes, classifier_activation, dropout)
        self._finish(images, x, arguments, **kwargs)


for _depth, _convs in VGG_STAGE_CONVS.items():
    register_model(
        f"vgg{_depth}",
        VGG,
        family="cnn",
        description=f"VGG-{_depth} (configuration {'ABDE'[list(VGG_STAGE_CONVS).index(_depth)]}), batch_norm option",
        paper="Simonyan & Zisserman 2014, Very Deep Convolutional Networks",
        stage_convs=_convs,
    )
