"""ResNet (He et al. 2016): ImageNet ResNet-18/34/50/101/152 and the CIFAR-10 ResNet-20/32/44/56/110."""

import keras

from keras_nn.errors import ConfigError
from keras_nn.layers import BottleneckBlock, ConvBNAct, ResidualBlock
from keras_nn.models.base import (
    check_choice,
    check_input_shape,
    check_positive_int,
    check_rate,
    classifier_head,
)
from keras_nn.models.image_model import ImageClassifier, check_top
from keras_nn.models.registry import register_model

# ---------------------------------------------------------------------------------------------------------------
# ResNet
# ---------------------------------------------------------------------------------------------------------------

BLOCK_TYPES = ("basic", "bottleneck")
STEMS = ("imagenet", "cifar")


@keras.saving.register_keras_serializable(package="keras_nn")
class ResNet(ImageClassifier):
    """Residual network: a stem, stages of residual blocks, global average pooling and a dense classifier.

    Two stems, as in the paper. `"imagenet"`: 7x7/2 convolution (64 channels, three pixels of padding on every
    side) + BN + ReLU, then a 3x3/2 max pool (one pixel of padding): keras.applications' exact stem. `"cifar"`
    (section 4.2): one 3x3 convolution with 16 channels, no pooling. Each stage halves the size in its first
    block (the first stage keeps it) and blocks are `ResidualBlock` (ResNet-18/34, CIFAR) or `BottleneckBlock`
    (ResNet-50/101/152).

    Layer names follow keras.applications (`conv1_conv`, `conv2_block1_1_conv`, ..., `predictions`), so
    keras.applications ResNet50/101/152 weight files load by name (`weights=PATH`) and give the same outputs.

    Registered configurations and the parameter counts they reproduce (Keras' `count_params()` counts batch
    norm's moving mean and variance; PyTorch counts only gamma and beta, i.e. Keras' trainable count):
    - `resnet50` / `resnet101` / `resnet152`: keras.applications ResNet50/101/152, 25,636,712 / 44,707,176 /
      60,419,944 parameters (its convolutions have biases; stride on the first 1x1, "v1"). With
      `use_bias=False` the trainable count is torchvision's 25,557,032 / 44,549,160 / 60,192,808, and
      `stride_on="3x3"` gives torchvision's "v1.5" layout.
    - `resnet18` / `resnet34`: torchvision resnet18/34 (keras.applications has none): 11,689,512 / 21,797,672
      trainable parameters (no conv biases).
    - `resnet20_cifar` ... `resnet110_cifar` (depth 6n+2, n = 3, 5, 7, 9, 18): the paper's Table 6, 0.27M,
      0.46M, 0.66M, 0.85M, 1.7M; exactly 269,722 / 464,154 / 658,586 / 853,018 / 1,727,962 trainable parameters
      with the paper's option A (zero-padding) shortcuts.

    Args:
        num_classes: number of classes.
        input_shape: `(height, width, channels)`; each spatial size at least 32 for the ImageNet stem (the last
            stage then sees 1x1), 4 for the CIFAR stem.
        block_type: `"basic"` (two 3x3) or `"bottleneck"` (1x1-3x3-1x1, expansion 4).
        blocks: blocks per stage (ResNet-50: `(3, 4, 6, 3)`).
        filters: channels of each stage's blocks (bottleneck blocks output 4x as many).
        stem: `"imagenet"` or `"cifar"`.
        stem_filters: channels of the stem convolution (64 ImageNet, 16 CIFAR).
        shortcut: for basic blocks, `"projection"` (option B, 1x1 conv + BN where the shape changes) or
            `"zero_pad"` (option A: subsampled identity with zero channels appended; the CIFAR default).
            Bottleneck blocks always project (option B), as the paper.
        stride_on: bottleneck stride on the first `"1x1"` (v1: paper, keras.applications) or the `"3x3"`
            (v1.5: torchvision).
        use_bias: convolution biases before batch norm (keras.applications' ResNet50 has them).
        include_top: with the classifier; False gives a feature extractor.
        pooling: feature-extractor output: None (the last feature map), `"avg"` or `"max"` (global pooling).
        classifier_activation: `"softmax"` or None (logits). The classifier runs in float32.
        dropout: dropout before the classifier (0: none, as the paper).
        weights: None, or the path of a weights file (`.weights.h5` from `save_weights`, a keras.applications
            `.h5` file, or a `.keras` file) loaded by layer name. Not kept in the config: a saved model holds
            its weights.
        batch_norm_epsilon: batch norm epsilon (keras.applications: 1.001e-5).
        batch_norm_momentum: batch norm momentum (0.9, PyTorch's and the TF model garden's choice; it does not
            change inference outputs).
        kernel_initializer: convolution initializer (He normal, as the paper).
        name: model name.

    Call arguments:
        images: `(batch, height, width, channels)` floats, normalized as the weights expect (keras.applications'
            ResNet50 files: `keras.applications.resnet.preprocess_input`, caffe-style BGR mean subtraction).

    Example:
    >>> model = keras_nn.create_model("resnet20_cifar")
    >>> model(np.zeros((2, 32, 32, 3))).shape
    (2, 10)
    >>> backbone = keras_nn.create_model("resnet50", include_top=False, pooling="avg", input_shape=(128, 128, 3))

    References:
        He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016,
        https://arxiv.org/abs/1512.03385.
    """

    def __init__(
        self,
        num_classes=1000,
        input_shape=(224, 224, 3),
        block_type="bottleneck",
        blocks=(3, 4, 6, 3),
        filters=(64, 128, 256, 512),
        stem="imagenet",
        stem_filters=64,
        shortcut="projection",
        stride_on="1x1",
        use_bias=True,
        include_top=True,
        pooling=None,
        classifier_activation="softmax",
        dropout=0.0,
        weights=None,
        batch_norm_epsilon=1.001e-5,
        batch_norm_momentum=0.9,
        kernel_initializer="he_normal",
        name="resnet",
        **kwargs,
    ):
        arguments = dict(locals())
        check_positive_int("num_classes", num_classes)
        check_positive_int("stem_filters", stem_filters)
        check_choice("block_type", block_type, BLOCK_TYPES)
        check_choice("stem", stem, STEMS)
        check_choice("shortcut", shortcut, ("projection", "zero_pad"))
        check_choice("stride_on", stride_on, ("1x1", "3x3"))
        check_top(include_top, pooling, classifier_activation)
        check_rate("dropout", dropout)
        if len(blocks) != len(filters) or not blocks:
            raise ConfigError(f"blocks={blocks!r} and filters={filters!r} must give one entry per stage")
        for count in (*blocks, *filters):
            check_positive_int("blocks and filters entries", count)
        total_stride = (4 if stem == "imagenet" else 1) * 2 ** (len(blocks) - 1)
        input_shape = check_input_shape(name, input_shape, rank=3, min_size=total_stride)

        images = keras.Input(shape=input_shape, name="images")
        bn = {"batch_norm_epsilon": batch_norm_epsilon, "batch_norm_momentum": batch_norm_momentum}
        common = {**bn, "use_bias": use_bias, "kernel_initializer": kernel_initializer}
        if stem == "imagenet":
            x = ConvBNAct(stem_filters, 7, strides=2, padding=3, name="conv1", **common)(images)
            x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
            x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
        else:
            x = ConvBNAct(stem_filters, 3, padding=1, name="conv1", **common)(images)
        for stage, (count, stage_filters) in enumerate(zip(blocks, filters, strict=True)):
            for index in range(count):
                strides = 2 if stage > 0 and index == 0 else 1
                block_name = f"conv{stage + 2}_block{index + 1}"
                if block_type == "basic":
                    block = ResidualBlock(
                        stage_filters, strides=strides, shortcut=shortcut, name=block_name, **common
                    )
                else:
                    block = BottleneckBlock(
                        stage_filters, strides=strides, stride_on=stride_on, name=block_name, **common
                    )
                x = block(x)
        if include_top:
            x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
            x = classifier_head(x, num_classes, classifier_activation, dropout)
        self._finish(images, x, arguments, **kwargs)


_IMAGENET_PAPER = "He et al. 2016, Deep Residual Learning for Image Recognition"
for _depth, _blocks, _type, _bias in (
    (18, (2, 2, 2, 2), "basic", False),
    (34, (3, 4, 6, 3), "basic", False),
    (50, (3, 4, 6, 3), "bottleneck", True),
    (101, (3, 4, 23, 3), "bottleneck", True),
    (152, (3, 8, 36, 3), "bottleneck", True),
):
    register_model(
        f"resnet{_depth}",
        ResNet,
        family="cnn",
        description=f"ResNet-{_depth}, ImageNet layout ({_type} blocks, 7x7/2 stem + max pool)",
        paper=_IMAGENET_PAPER,
        block_type=_type,
        blocks=_blocks,
        use_bias=_bias,
    )

for _depth in (20, 32, 44, 56, 110):
    _n = (_depth - 2) // 6
    register_model(
        f"resnet{_depth}_cifar",
        ResNet,
        family="cnn",
        description=f"ResNet-{_depth} for CIFAR-10 (3 stages of {_n} basic blocks, 16/32/64, option A shortcuts)",
        paper=_IMAGENET_PAPER + ", section 4.2",
        num_classes=10,
        input_shape=(32, 32, 3),
        block_type="basic",
        blocks=(_n, _n, _n),
        filters=(16, 32, 64),
        stem="cifar",
        stem_filters=16,
        shortcut="zero_pad",
        use_bias=False,
        batch_norm_epsilon=1e-5,
    )
