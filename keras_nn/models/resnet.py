"""ResNet (He et al. 2016): ImageNet ResNet-18/34/50/101/152 and the CIFAR-10 ResNet-20/32/44/56/110.

Also holds `load_weights_by_name`, the weight-file loader every CNN family of keras-nn shares.
"""

import io
import zipfile
from pathlib import Path

import h5py
import keras

from keras_nn.errors import ConfigError, MissingPathError, ModelFileError
from keras_nn.layers.conv_blocks import BottleneckBlock, ConvBNAct, ResidualBlock
from keras_nn.models.base import (
    FunctionalModel,
    check_choice,
    check_input_shape,
    check_positive_int,
    check_rate,
    classifier_head,
)
from keras_nn.models.registry import register_model

POOLINGS = (None, "avg", "max")


def feature_pooling(x, include_top, pooling):
    """The feature-extractor ending shared by the CNN families: the raw feature map or a global pooling."""
    if include_top:
        return x
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def check_top(include_top, pooling, classifier_activation):
    check_choice("pooling", pooling, POOLINGS)
    check_choice("classifier_activation", classifier_activation, ["softmax", None])
    if include_top and pooling is not None:
        raise ConfigError(
            f"pooling={pooling!r} applies to a feature extractor; pass include_top=False with it (the classifier "
            "head already pools)"
        )


# ---------------------------------------------------------------------------------------------------------------
# Weight files
# ---------------------------------------------------------------------------------------------------------------


def _read_keras3_store(handle):
    """Layer name -> arrays from a Keras 3 `.weights.h5` file (each variable group records its layer's name)."""
    arrays, unnamed = {}, []

    def visit(path, group):
        if not isinstance(group, h5py.Group) or not path.endswith("vars") or not len(group):
            return
        name = group.attrs.get("name")
        if name is None:
            unnamed.append(path)
            return
        name = name.decode() if isinstance(name, bytes) else str(name)
        values = [group[str(index)][()] for index in range(len(group))]
        arrays[name] = None if name in arrays else values  # None marks a name used twice: ambiguous

    if "vars" in handle:
        visit("vars", handle["vars"])
    handle.visititems(visit)
    return arrays, unnamed


def _read_legacy_h5(group):
    """Layer name -> arrays from a Keras 2 / legacy `.h5` file (keras.applications' downloads)."""
    arrays = {}
    for raw in group.attrs["layer_names"]:
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        layer = group[name]
        weight_names = [w.decode() if isinstance(w, bytes) else str(w) for w in layer.attrs.get("weight_names", [])]
        if weight_names:
            arrays[name] = [layer[w][()] for w in weight_names]
    return arrays


def _open_weights(path):
    if str(path).endswith(".keras"):
        with zipfile.ZipFile(path) as archive:
            return h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
    return h5py.File(path, "r")


def read_weight_arrays(path):
    """Reads a weight file into `{layer name: [arrays]}`.

    Takes Keras 3 `.weights.h5` files (`model.save_weights`), `.keras` archives, and legacy `.h5` files
    (`keras.applications` downloads, Keras 2 `save_weights`). Returns `(arrays, unnamed)`: `unnamed` lists the
    variable groups of a Keras 3 file that carry no layer name (files from Keras before 3.10), which only an
    exact-structure load can place.
    """
    path = Path(path)
    if not path.exists():
        raise MissingPathError(f"weights file {str(path)!r} does not exist; pass the path of a .weights.h5 file")
    try:
        with _open_weights(path) as handle:
            if "layer_names" in handle.attrs:
                return _read_legacy_h5(handle), []
            if "model_weights" in handle and "layer_names" in handle["model_weights"].attrs:
                return _read_legacy_h5(handle["model_weights"]), []
            return _read_keras3_store(handle)
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise ModelFileError(
            f"cannot read weights file {str(path)!r} ({error}); pass a file written by model.save_weights() "
            "(.weights.h5), a .keras file or a keras.applications .h5 weights file"
        ) from None


def _weight_layers(model):
    """The layers that own variables (the leaves: composite blocks own none themselves), by name."""
    leaves = {}
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if layer.weights and not list(layer._flatten_layers(include_self=False, recursive=False)):
            leaves[layer.name] = layer
    return leaves


def load_weights_by_name(model, path):
    """Loads a weight file into `model`, matching layers by name; returns the model.

    Every layer of `model` that has weights must be in the file with the same weight shapes; layers of the file
    that the model lacks are ignored (so a feature extractor, `include_top=False`, loads a full model's file).
    Names are those of the weight-bearing (leaf) layers, which for ResNet-50/101/152, VGG-16/19 and
    MobileNetV2 are keras.applications' names: `keras.applications.ResNet50(weights=None).save_weights(p)`
    loads into `create_model("resnet50", weights=p)` and gives the same outputs.

    Raises:
        MissingPathError: no such file.
        ModelFileError: unreadable file, or the file does not fit the model (the message names the layers and
            shapes that differ).
    """
    arrays, unnamed = read_weight_arrays(path)
    leaves = _weight_layers(model)
    if unnamed and not any(name in arrays for name in leaves):
        # A Keras 3 file from before layer names were recorded: only Keras' structural load can place it.
        try:
            model.load_weights(path)
        except ValueError as error:
            raise ModelFileError(
                f"weights file {str(path)!r} does not fit model {model.name!r}: {str(error).splitlines()[0]}"
            ) from None
        return model
    missing = sorted(name for name in leaves if name not in arrays)
    ambiguous = sorted(name for name in leaves if name in arrays and arrays[name] is None)
    mismatched = []
    for name, layer in leaves.items():
        if name in missing or name in ambiguous:
            continue
        want = [tuple(w.shape) for w in layer.weights]
        got = [tuple(a.shape) for a in arrays[name]]
        if want != got:
            mismatched.append(f"{name}: file {got}, model {want}")
    if missing or ambiguous or mismatched:
        problems = []
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            problems.append(f"{len(missing)} of the model's {len(leaves)} weight layers are not in the file ({shown})")
        if ambiguous:
            problems.append(f"layer names stored twice in the file: {', '.join(ambiguous[:5])}")
        if mismatched:
            problems.append("shapes differ: " + "; ".join(mismatched[:3]))
        raise ModelFileError(
            f"weights file {str(path)!r} does not fit model {model.name!r}: {'; '.join(problems)}. Build the model "
            "with the configuration the file was saved from (same registered model, num_classes, include_top, "
            "alpha)"
        )
    for name, layer in leaves.items():
        layer.set_weights(arrays[name])
    return model


def load_weights_argument(model, weights):
    """Applies a model's `weights=None|PATH` argument."""
    if weights is None:
        return
    if not isinstance(weights, (str, Path)):
        raise ConfigError(f"weights={weights!r} must be None or the path of a weights file")
    load_weights_by_name(model, weights)


# ---------------------------------------------------------------------------------------------------------------
# ResNet
# ---------------------------------------------------------------------------------------------------------------

BLOCK_TYPES = ("basic", "bottleneck")
STEMS = ("imagenet", "cifar")


@keras.saving.register_keras_serializable(package="keras_nn")
class ResNet(FunctionalModel):
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
                    block = ResidualBlock(stage_filters, strides=strides, shortcut=shortcut, name=block_name, **common)
                else:
                    block = BottleneckBlock(stage_filters, strides=strides, stride_on=stride_on, name=block_name,
                                            **common)
                x = block(x)
        if include_top:
            x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
            x = classifier_head(x, num_classes, classifier_activation, dropout)
        outputs = feature_pooling(x, include_top, pooling)
        super().__init__(inputs=images, outputs=outputs, name=name, **kwargs)
        self._init_arguments(arguments)
        self._config["weights"] = None
        self.num_classes = num_classes
        self.classifier_activation = classifier_activation
        load_weights_argument(self, weights)


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
