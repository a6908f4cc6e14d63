"""A small VGG-style convolutional classifier: the baseline image model."""

import keras

from keras_nn.errors import ConfigError
from keras_nn.models.base import (
    FunctionalModel,
    check_choice,
    check_input_shape,
    check_positive_int,
    check_rate,
    classifier_head,
)
from keras_nn.models.registry import register_model


@keras.saving.register_keras_serializable(package="keras_nn")
class SimpleCNN(FunctionalModel):
    """Stages of (conv, batch norm, ReLU) x `convs_per_stage` then 2x2 max-pooling, and a dropout + dense head.

    The layout follows the small VGG-style nets of the Keras and TensorFlow tutorials: filters double per
    stage, the spatial size halves, and the classifier is dropout, one hidden dense layer and the output
    layer. It is the quick, export-friendly baseline for small images (digits, MNIST, CIFAR-10).

    Args:
        num_classes: number of classes.
        input_shape: per-example shape `(height, width, channels)`. Each spatial size must be at least
            `2 ** len(filters)`.
        filters: output channels of each stage; one max-pool per stage.
        convs_per_stage: convolutions before each pool.
        kernel_size: convolution kernel size.
        batch_norm: batch normalization after each convolution.
        batch_norm_momentum: momentum of its moving statistics. 0.9 (PyTorch's default) rather than Keras'
            0.99: small data sets give few steps per epoch, and with 0.99 the inference-time statistics lag
            the weights for several epochs (validation accuracy stuck at chance on digits).
        dense_units: width of the hidden dense layer (0 for none).
        dropout: dropout rate before each dense layer (training only; not in the exported graph).
        classifier_activation: `"softmax"` for probabilities or `None` for logits.
        name: model name.

    Call arguments:
        images: float tensor of shape `(batch, height, width, channels)`, values as the data pipeline
            normalizes them (0..1).

    Example:
    >>> model = keras_nn.create_model("simple_cnn", num_classes=10, input_shape=(8, 8, 1))
    >>> model(np.zeros((2, 8, 8, 1))).shape
    (2, 10)

    References:
        Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", 2014
        (the conv-conv-pool stage design), https://arxiv.org/abs/1409.1556.
    """

    def __init__(
        self,
        num_classes=10,
        input_shape=(28, 28, 1),
        filters=(32, 64, 128),
        convs_per_stage=1,
        kernel_size=3,
        batch_norm=True,
        batch_norm_momentum=0.9,
        dense_units=128,
        dropout=0.3,
        classifier_activation="softmax",
        name="simple_cnn",
        **kwargs,
    ):
        arguments = dict(locals())
        check_positive_int("num_classes", num_classes)
        check_positive_int("convs_per_stage", convs_per_stage)
        if len(filters) < 1:
            raise ConfigError(f"filters={filters!r} must name at least one stage")
        check_rate("dropout", dropout)
        check_choice("classifier_activation", classifier_activation, ["softmax", None])
        input_shape = check_input_shape(name, input_shape, rank=3, min_size=2 ** len(filters))

        images = keras.Input(shape=input_shape, name="images")
        x = images
        for stage, stage_filters in enumerate(filters):
            for index in range(convs_per_stage):
                prefix = f"stage{stage + 1}_conv{index + 1}"
                x = keras.layers.Conv2D(
                    stage_filters, kernel_size, padding="same", use_bias=not batch_norm, name=prefix
                )(x)
                if batch_norm:
                    x = keras.layers.BatchNormalization(momentum=batch_norm_momentum, name=f"{prefix}_bn")(x)
                x = keras.layers.ReLU(name=f"{prefix}_relu")(x)
            x = keras.layers.MaxPooling2D(2, name=f"stage{stage + 1}_pool")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        if dense_units:
            x = keras.layers.Dropout(dropout, name="hidden_dropout")(x)
            x = keras.layers.Dense(dense_units, activation="relu", name="hidden")(x)
        outputs = classifier_head(x, num_classes, classifier_activation, dropout)
        super().__init__(inputs=images, outputs=outputs, name=name, **kwargs)
        self._init_arguments(arguments)
        self.num_classes = num_classes
        self.classifier_activation = classifier_activation


register_model(
    "simple_cnn",
    SimpleCNN,
    family="cnn",
    description="small VGG-style convnet (conv-BN-ReLU-pool stages, dropout, dense head)",
    paper="Simonyan & Zisserman 2014 (stage design)",
)
