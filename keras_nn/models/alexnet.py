"""AlexNet (Krizhevsky, Sutskever & Hinton 2012) and the local response normalization it introduced."""

import keras
from keras import ops

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.models.base import (
    check_input_shape,
    check_positive_int,
    check_rate,
    classifier_head,
)
from keras_nn.models.image_model import ImageClassifier, check_top
from keras_nn.models.registry import register_model


@keras.saving.register_keras_serializable(package="keras_nn")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response normalization across channels (AlexNet section 3.3).

    `b[c] = a[c] / (k + alpha * sum(a[c']^2 for c' in [c - n//2, c + n//2])) ** beta`, the paper's formula: the
    sum is not divided by `n` (as in `tf.nn.local_response_normalization`; PyTorch's LocalResponseNorm divides
    alpha by n). Computed in float32 under mixed precision, since squared activations overflow float16.

    Args:
        size: `n`, the number of adjacent channels summed (odd; 5 in the paper).
        alpha: 1e-4 in the paper.
        beta: 0.75 in the paper.
        bias: `k`, 2 in the paper.

    Call arguments:
        inputs: `(batch, height, width, channels)`.

    Example:
    >>> LocalResponseNormalization()(np.ones((1, 4, 4, 8))).shape
    (1, 4, 4, 8)

    References:
        Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional Neural Networks",
        NeurIPS 2012, section 3.3.
    """

    def __init__(self, size=5, alpha=1e-4, beta=0.75, bias=2.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(size, int) or size < 1 or size % 2 == 0:
            raise ConfigError(f"size={size!r} must be a positive odd integer (channels summed, centred)")
        self.size, self.alpha, self.beta, self.bias = size, alpha, beta, bias

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        squares = ops.square(x)
        half = self.size // 2
        channels = inputs.shape[-1]
        padded = ops.pad(squares, [[0, 0], [0, 0], [0, 0], [half, half]])
        total = padded[..., 0:channels]
        for offset in range(1, self.size):
            total = total + padded[..., offset : offset + channels]
        outputs = x / ops.power(self.bias + self.alpha * total, self.beta)
        return ops.cast(outputs, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "size": self.size,
            "alpha": self.alpha,
            "beta": self.beta,
            "bias": self.bias,
        }


def _alexnet_feature_size(size):
    """Spatial size after AlexNet's three max pools (conv1 11x11/4 with 2 pixels of padding), or 0."""
    size = (size + 4 - 11) // 4 + 1
    for _ in range(3):
        if size < 3:
            return 0
        size = (size - 3) // 2 + 1
    return size


ALEXNET_MIN_SIZE = next(s for s in range(11, 256) if _alexnet_feature_size(s) >= 1)  # 63


@keras.saving.register_keras_serializable(package="keras_nn")
class AlexNet(ImageClassifier):
    """AlexNet: five convolutions (11x11/4, 5x5, 3x3, 3x3, 3x3) with ReLU and three overlapping 3x3/2 max
    pools, then dropout, 4096, dropout, 4096, classes.

    The layout and default widths are torchvision's `alexnet` (224x224 input, 2 pixels of padding on conv1,
    channels 64-192-384-256-256): 61,100,840 parameters with 1000 classes. torchvision then applies an
    adaptive 6x6 average pool, a no-op at 224x224; here, as in the paper, fc6 takes the flattened pool5 map,
    so another input size changes fc6's size (as keras.applications' VGG). That is the single-GPU variant of Krizhevsky's "One weird trick" (2014), the one
    reference implementations and pretrained weights use. The 2012 paper's network is
    `filters=(96, 256, 384, 384, 256), local_response_norm=True` (62,378,344 parameters; the paper split conv2,
    conv4 and conv5 into two groups across its two GPUs, 60,965,224 parameters, which this model does not
    reproduce), and the paper's 224 input only works out with this padding (or with 227 and none).

    Args:
        num_classes: number of classes.
        input_shape: `(height, width, channels)`; each spatial size at least 63 (three 3x3/2 pools after a
            stride-4 convolution); fixed with the classifier.
        filters: channels of the five convolutions.
        fc_units: width of the two hidden fully connected layers (4096).
        dropout: dropout before each hidden fully connected layer (0.5, as the paper).
        local_response_norm: LRN (size 5, k=2, alpha=1e-4, beta=0.75) after the ReLU of conv1 and conv2, as
            the paper (torchvision has none).
        include_top: with the classifier; False gives a feature extractor (after the last max pool).
        pooling: feature-extractor output: None (last feature map), `"avg"` or `"max"`.
        classifier_activation: `"softmax"` or None (logits). The classifier runs in float32.
        weights: None, or a weights file loaded by layer name (see `keras_nn.models.image_model.load_weights_by_name`).
        name: model name.

    Call arguments:
        images: `(batch, height, width, channels)` floats.

    Example:
    >>> model = keras_nn.create_model("alexnet", num_classes=10, input_shape=(64, 64, 3), fc_units=256)
    >>> model(np.zeros((2, 64, 64, 3))).shape
    (2, 10)

    References:
        Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional Neural Networks",
        NeurIPS 2012. Krizhevsky, "One weird trick for parallelizing convolutional neural networks", 2014,
        https://arxiv.org/abs/1404.5997. torchvision.models.alexnet.
    """

    def __init__(
        self,
        num_classes=1000,
        input_shape=(224, 224, 3),
        filters=(64, 192, 384, 256, 256),
        fc_units=4096,
        dropout=0.5,
        local_response_norm=False,
        include_top=True,
        pooling=None,
        classifier_activation="softmax",
        weights=None,
        name="alexnet",
        **kwargs,
    ):
        arguments = dict(locals())
        check_positive_int("num_classes", num_classes)
        check_positive_int("fc_units", fc_units)
        check_rate("dropout", dropout)
        check_top(include_top, pooling, classifier_activation)
        if len(filters) != 5:
            raise ConfigError(f"filters={filters!r} must give the channels of the five convolutions")
        for count in filters:
            check_positive_int("filters entries", count)
        input_shape = check_input_shape(name, input_shape, rank=3, min_size=ALEXNET_MIN_SIZE)
        if include_top and None in input_shape[:2]:
            raise ShapeError(
                f"{name}: include_top=True needs a fixed input size; got input_shape {input_shape}"
            )

        images = keras.Input(shape=input_shape, name="images")
        x = keras.layers.ZeroPadding2D(2, name="conv1_pad")(images)
        x = keras.layers.Conv2D(filters[0], 11, strides=4, activation="relu", name="conv1")(x)
        if local_response_norm:
            x = LocalResponseNormalization(name="lrn1")(x)
        x = keras.layers.MaxPooling2D(3, strides=2, name="pool1")(x)
        x = keras.layers.Conv2D(filters[1], 5, padding="same", activation="relu", name="conv2")(x)
        if local_response_norm:
            x = LocalResponseNormalization(name="lrn2")(x)
        x = keras.layers.MaxPooling2D(3, strides=2, name="pool2")(x)
        for index, stage_filters in enumerate(filters[2:], start=3):
            x = keras.layers.Conv2D(stage_filters, 3, padding="same", activation="relu", name=f"conv{index}")(
                x
            )
        x = keras.layers.MaxPooling2D(3, strides=2, name="pool5")(x)
        if include_top:
            x = keras.layers.Flatten(name="flatten")(x)
            x = keras.layers.Dropout(dropout, name="fc6_dropout")(x)
            x = keras.layers.Dense(fc_units, activation="relu", name="fc6")(x)
            x = keras.layers.Dropout(dropout, name="fc7_dropout")(x)
            x = keras.layers.Dense(fc_units, activation="relu", name="fc7")(x)
            x = classifier_head(x, num_classes, classifier_activation, 0.0)
        self._finish(images, x, arguments, **kwargs)


register_model(
    "alexnet",
    AlexNet,
    family="cnn",
    description="AlexNet, torchvision layout (64-192-384-256-256, 224x224), optional LRN",
    paper="Krizhevsky, Sutskever & Hinton 2012, ImageNet Classification with Deep CNNs",
)
