"""Inception v1 / GoogLeNet (Szegedy et al. 2014), with the optional auxiliary classifiers."""

import keras
from keras import ops

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers import ConvBNAct, InceptionBlock
from keras_nn.models.alexnet import LocalResponseNormalization
from keras_nn.models.base import (
    check_choice,
    check_input_shape,
    check_positive_int,
    check_rate,
    classifier_head,
)
from keras_nn.models.image_model import ImageClassifier, check_top
from keras_nn.models.registry import register_model

# The paper's Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
INCEPTION_V1_BLOCKS = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


@keras.saving.register_keras_serializable(package="keras_nn")
class InceptionV1(ImageClassifier):
    """GoogLeNet: a convolutional stem, nine Inception modules (3a-3b, 4a-4e, 5a-5b) between 3x3/2 max pools,
    global average pooling, dropout 0.4 and a linear softmax classifier (the paper's Table 1).

    Auxiliary classifiers (`aux_heads=True`, off by default): on the outputs of 4a and 4d, a 5x5/3 average
    pool, a 1x1 convolution (128), a fully connected layer (1024, ReLU), dropout 0.7 and a softmax classifier,
    as the paper's section 5. They exist for training only:
    - `model(x, training=True)` (what `fit` calls) returns `[main, aux1, aux2]`, and the model's
      `compute_loss` adds `aux_weight` (0.3, the paper's) times the compiled loss of each auxiliary output to
      the main loss; metrics see the main output only. Compile with a single loss as for any classifier.
    - `model(x)`, `predict`, `evaluate` and every exporter (which call the model with `training=False`)
      see the main output alone, so the exported graph has one output and no auxiliary branches.

    Layout and what each reference counts (Keras' trainable count = PyTorch's parameter count; Keras'
    `count_params()` adds batch norm's moving statistics):
    - Default: the paper's modules (5x5 convolutions in the "5x5" branch) with torchvision's batch norm after
      every convolution and no conv biases: 7,005,832 trainable parameters.
    - `kernel_size_5x5=3`: torchvision's `googlenet` exactly (it uses 3x3 kernels in that branch, a bug it
      keeps for its pretrained weights): 6,624,904 trainable parameters, 13,004,888 with `aux_heads=True`.
    - `batch_norm=False, local_response_norm=True`: the 2014 network (biases, no BN, LRN after the first pool
      and after conv3): 6,998,552 parameters. The paper's Table 1 lists about 6.8M, but its per-module counts
      do not all follow from its own filter numbers (3a does, 159K; 4c lists 463K where its filters give
      498K), so they cannot be matched exactly.
    Max pools use "same" padding, which for 224x224 gives the paper's (and Caffe's ceil-mode) sizes
    112-56-28-14-7.

    Args:
        num_classes: number of classes.
        input_shape: `(height, width, channels)`; each spatial size at least 32, or 65 with auxiliary heads
            (their 5x5 pool needs a 5x5 map at 4a, a sixteenth of the input).
        aux_heads: add the two auxiliary classifiers (training only; see above).
        aux_weight: weight of each auxiliary loss (0.3).
        kernel_size_5x5: kernel of the "5x5" branch (5 paper, 3 torchvision).
        batch_norm: batch norm after every convolution (torchvision); False gives the paper's biased convs.
        local_response_norm: the paper's LRN after pool1 and after conv3.
        dropout: dropout before the classifier (0.4 paper; torchvision 0.2).
        include_top: with the classifier; False gives a feature extractor (the 5b maps).
        pooling: feature-extractor output: None, `"avg"` or `"max"`.
        classifier_activation: `"softmax"` or None (logits), also for the auxiliary heads. Float32 outputs.
        weights: None, or a weights file loaded by layer name (see `keras_nn.models.image_model.load_weights_by_name`).
        batch_norm_epsilon: batch norm epsilon (torchvision: 1e-3).
        batch_norm_momentum: batch norm momentum.
        name: model name.

    Call arguments:
        images: `(batch, height, width, channels)` floats.
        training: with `aux_heads`, True returns `[main, aux1, aux2]`; otherwise the main output.

    Example:
    >>> model = keras_nn.create_model("inception_v1", num_classes=10, input_shape=(96, 96, 3), aux_heads=True)
    >>> model.compile("adam", "sparse_categorical_crossentropy")  # the auxiliary losses are added for you
    >>> model(np.zeros((2, 96, 96, 3))).shape
    (2, 10)

    References:
        Szegedy et al., "Going Deeper with Convolutions", CVPR 2015, https://arxiv.org/abs/1409.4842.
    """

    def __init__(
        self,
        num_classes=1000,
        input_shape=(224, 224, 3),
        aux_heads=False,
        aux_weight=0.3,
        kernel_size_5x5=5,
        batch_norm=True,
        local_response_norm=False,
        dropout=0.4,
        include_top=True,
        pooling=None,
        classifier_activation="softmax",
        weights=None,
        batch_norm_epsilon=1e-3,
        batch_norm_momentum=0.9,
        name="inception_v1",
        **kwargs,
    ):
        arguments = dict(locals())
        check_positive_int("num_classes", num_classes)
        check_choice("kernel_size_5x5", kernel_size_5x5, [3, 5])
        check_rate("dropout", dropout)
        check_top(include_top, pooling, classifier_activation)
        if aux_heads and not include_top:
            raise ConfigError("aux_heads=True needs include_top=True (the auxiliary heads are classifiers)")
        if float(aux_weight) < 0:
            raise ConfigError(f"aux_weight={aux_weight!r} must be >= 0")
        input_shape = check_input_shape(name, input_shape, rank=3, min_size=65 if aux_heads else 32)
        if aux_heads and None in input_shape[:2]:
            raise ShapeError(
                f"{name}: aux_heads=True needs a fixed input size; got input_shape {input_shape}"
            )

        conv = {
            "batch_norm": batch_norm,
            "batch_norm_epsilon": batch_norm_epsilon,
            "batch_norm_momentum": batch_norm_momentum,
        }
        images = keras.Input(shape=input_shape, name="images")
        x = ConvBNAct(64, 7, strides=2, padding=3, name="conv1", **conv)(images)
        x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
        if local_response_norm:
            x = LocalResponseNormalization(name="lrn1")(x)
        x = ConvBNAct(64, 1, name="conv2", **conv)(x)
        x = ConvBNAct(192, 3, name="conv3", **conv)(x)
        if local_response_norm:
            x = LocalResponseNormalization(name="lrn2")(x)
        x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)
        aux_outputs = []
        for block, filters in INCEPTION_V1_BLOCKS.items():
            if block in ("4a", "5a"):
                x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{block[0]}")(x)
            x = InceptionBlock(*filters, kernel_size_5x5=kernel_size_5x5, name=f"inception_{block}", **conv)(
                x
            )
            if aux_heads and block in ("4a", "4d"):
                aux_outputs.append(
                    _aux_head(x, f"aux{len(aux_outputs) + 1}", num_classes, classifier_activation, conv)
                )
        if include_top:
            x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
            x = classifier_head(x, num_classes, classifier_activation, dropout)
        self._finish(images, x, arguments, extra_outputs=aux_outputs if aux_heads else (), **kwargs)
        self.aux_heads = aux_heads
        self.aux_weight = float(aux_weight)

    def call(self, inputs, training=None, mask=None, **kwargs):
        outputs = super().call(inputs, training=training, mask=mask, **kwargs)
        if self.aux_heads and not training:
            return outputs[0]
        return outputs

    def compute_output_spec(self, inputs, training=None, mask=None):
        outputs = super().compute_output_spec(inputs, training=training, mask=mask)
        if self.aux_heads and not training:
            return outputs[0]
        return outputs

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not (self.aux_heads and isinstance(y_pred, (list, tuple))):
            return super().compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
            )
        main, *auxiliary = y_pred
        loss = super().compute_loss(x=x, y=y, y_pred=main, sample_weight=sample_weight, training=training)
        if self._compile_loss is not None:
            for aux in auxiliary:
                aux_loss = self._compile_loss(y, aux, sample_weight)
                loss = loss + ops.cast(self.aux_weight, loss.dtype) * ops.cast(aux_loss, loss.dtype)
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if self.aux_heads and isinstance(y_pred, (list, tuple)):
            y_pred = y_pred[0]
        return super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)


def _aux_head(x, prefix, num_classes, classifier_activation, conv):
    """The paper's auxiliary classifier (section 5): 5x5/3 average pool, 1x1 conv (128), FC 1024, dropout 0.7."""
    x = keras.layers.AveragePooling2D(5, strides=3, name=f"{prefix}_pool")(x)
    x = ConvBNAct(128, 1, name=f"{prefix}_conv", **conv)(x)
    x = keras.layers.Flatten(name=f"{prefix}_flatten")(x)
    x = keras.layers.Dense(1024, activation="relu", name=f"{prefix}_fc")(x)
    x = keras.layers.Dropout(0.7, name=f"{prefix}_dropout")(x)
    return keras.layers.Dense(
        num_classes, activation=classifier_activation, dtype="float32", name=f"{prefix}_predictions"
    )(x)


register_model(
    "inception_v1",
    InceptionV1,
    family="cnn",
    description="Inception v1 / GoogLeNet (nine Inception modules, BN), optional auxiliary classifiers",
    paper="Szegedy et al. 2014, Going Deeper with Convolutions",
)
