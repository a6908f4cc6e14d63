"""YOLO v1 (Redmon et al. 2016): a grid detector on a Darknet-like stack or a registry backbone; with `anchors`,
YOLO v2's per-anchor box priors (Redmon & Farhadi 2017)."""

import keras

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers import NonMaxSuppression, YoloDecoder, YoloHead
from keras_nn.layers.detection.yolo_head import grid_layout
from keras_nn.models.base import FunctionalModel, check_choice, check_input_shape, check_positive_int
from keras_nn.models.image_model import load_weights_by_name
from keras_nn.models.registry import get_model_entry, register_model

BACKBONES = ("darknet_tiny", "mobilenet_v2", "resnet18", "resnet50")
# darknet's cfg/yolov1-tiny.cfg: six 3x3 convolutions each followed by a 2x2/2 max pool, then two more 3x3
# convolutions; batch norm and leaky ReLU (slope 0.1) after every convolution.
DARKNET_TINY_FILTERS = (16, 32, 64, 128, 256, 512, 1024, 256)
DARKNET_TINY_POOLS = 6
# Input scaling each backbone's published weights expect, from images in [0, 1]: darknet takes [0, 1];
# keras.applications' MobileNetV2 takes [-1, 1].
INPUT_SCALINGS = ("unit", "symmetric")
DEFAULT_SCALING = {"darknet_tiny": "unit", "mobilenet_v2": "symmetric", "resnet18": "unit", "resnet50": "unit"}


def conv_bn_leaky(x, width, name, batch_norm_momentum):
    """darknet's `[convolutional]` with `batch_normalize=1`, `size=3`, `activation=leaky` (slope 0.1)."""
    x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=name)(x)
    x = keras.layers.BatchNormalization(momentum=batch_norm_momentum, name=f"{name}_bn")(x)
    return keras.layers.LeakyReLU(0.1, name=f"{name}_leaky")(x)


def darknet_tiny(input_shape, filters, batch_norm_momentum, pools=DARKNET_TINY_POOLS):
    """The Tiny YOLO v1 convolution stack as a functional model named `backbone` (stride `2**pools`, 64 as
    darknet's); the first `pools` of the six pooled convolutions keep their 2x2/2 max pool."""
    images = keras.Input(shape=input_shape, name="images")
    x = images
    for index, width in enumerate(filters, start=1):
        x = conv_bn_leaky(x, width, f"conv{index}", batch_norm_momentum)
        if index <= pools:
            x = keras.layers.MaxPooling2D(2, strides=2, name=f"pool{index}")(x)
    return keras.Model(images, x, name="backbone")


def darknet_filters(filters, width_multiplier):
    if filters is None:
        if not isinstance(width_multiplier, (int, float)) or isinstance(width_multiplier, bool) or width_multiplier <= 0:
            raise ConfigError(f"width_multiplier={width_multiplier!r} must be a positive number (1.0: darknet's widths)")
        return tuple(max(1, round(width * width_multiplier)) for width in DARKNET_TINY_FILTERS)
    filters = tuple(filters)
    if len(filters) != len(DARKNET_TINY_FILTERS):
        raise ConfigError(
            f"filters={filters!r} must give {len(DARKNET_TINY_FILTERS)} widths (six pooled convolutions, then two)"
        )
    for width in filters:
        check_positive_int("filters entries", width)
    return filters


@keras.saving.register_keras_serializable(package="keras_nn")
class YOLO(FunctionalModel):
    """YOLO v1: one pass of a CNN gives an `S x S` grid; each cell predicts `B` boxes with a confidence and
    one class distribution.

    Images (float32 in [0, 1]) go through an input scaling, a backbone, optional 3x3 convolutions
    (`head_filters`, batch norm + leaky ReLU 0.1) and a `YoloHead` (1x1 convolution, sigmoid on the box
    channels, softmax on the classes), in float32 under mixed precision. The output is the activated grid
    `[batch, S, S, B * 5 + C]`: for box `b`, channels `5b .. 5b+4` are `(x_in_cell, y_in_cell, sqrt_w, sqrt_h,
    confidence)`; the last `C` are the cell's class probabilities. Train it with `keras_nn.losses.YoloLoss`;
    `detect` decodes the grid (`YoloDecoder`) and applies `NonMaxSuppression`.

    Backbones (a nested functional model named `backbone`, which `weights` loads into and `freeze_backbone`
    freezes):
    - `"darknet_tiny"`: darknet's `cfg/yolov1-tiny.cfg` convolution stack, 3x3 convolutions of 16, 32, 64, 128,
      256, 512 channels, each followed by a 2x2 max pool of stride 2 (all six pools have stride 2 in the v1 tiny
      cfg; only the YOLO v2 tiny cfg makes the last one stride 1), then 1024 and 256 channels; batch norm and
      leaky ReLU 0.1. Stride 64: a 448x448 input gives the paper's 7x7 grid. `width_multiplier` or `filters`
      narrows it.
    - `"mobilenet_v2"`, `"resnet18"`, `"resnet50"`: the registry models with `include_top=False` (stride 32: 224
      gives 7x7), built with `backbone_arguments` (e.g. `{"alpha": 0.35}`).

    The grid size is the backbone's output size; the input must be square and a multiple of the stride.

    Anchor boxes (YOLO v2, Redmon & Farhadi 2017): with `anchors`, a list of `B` `(w, h)` priors as fractions of
    the image (`keras_nn.data.detection.kmeans_anchors` clusters them from the training boxes), the grid is
    `[batch, S, S, B * (5 + C)]`: anchor `b`'s block `(x_in_cell, y_in_cell, w, h, confidence, C class
    probabilities)`, classes per anchor, `w`/`h` the decoded size, `sigmoid(t + logit(anchor))` (see `YoloHead`).
    Train it with `YoloLoss(..., anchors=model.anchors)`; `detect` and the exported files decode it the same way.

    The head is convolutional, not the paper's fully connected layer: darknet's yolov1-tiny.cfg ends in a
    `[connected]` layer from the 7x7x256 map to 7x7x30 (12544 x 1470 + 1470 = 18,441,150 parameters, twice the
    convolution stack) with linear outputs (`softmax=0`), which ties the model to one input size. Here a 1x1
    convolution predicts each cell from its own features, and sigmoid/softmax bound the outputs.

    Parameter counts (Keras' `count_params()`, which includes batch norm's moving statistics; tested):
    - `yolo_tiny` (448x448, S=7, B=2, C=20): 8,666,510 (8,661,934 trainable): the darknet stack's 8,649,648
      convolution weights + 9,152 batch-norm values (2,288 channels x 4) + the 1x1 head's 256 x 30 + 30 = 7,710.
      darknet's yolov1-tiny.cfg, the same stack with the connected head: 8,649,648 + 4,576 (batch-norm scales and
      biases) + 18,441,150 = 27,095,374 learned values.
    - `yolo_mobilenet_v2` (224x224, S=7, head_filters (256,)): 5,215,838; `yolo_resnet18` (256,): 12,374,494;
      `yolo_resnet50` (512,): 33,042,334.

    Args:
        backbone: one of `"darknet_tiny"`, `"mobilenet_v2"`, `"resnet18"`, `"resnet50"`.
        input_shape: `(size, size, 3)`, a multiple of the backbone's stride (`2**pools` darknet_tiny, 32 otherwise).
        num_classes: `C`.
        boxes_per_cell: `B`; None: 2 (YOLO v1's), or `len(anchors)` with anchors (which it must then equal).
        head_filters: widths of the 3x3 convolutions between the backbone and the `YoloHead` (may be empty).
        width_multiplier: darknet_tiny's width scale (ignored when `filters` is given).
        pools: how many of darknet_tiny's six pooled convolutions keep their 2x2/2 max pool (6, darknet's: stride
            64); fewer give a finer grid at a small input (4: stride 16, a 128x128 input gives an 8x8 grid).
        filters: darknet_tiny's eight widths (six pooled convolutions, then two).
        backbone_arguments: extra `create_model` arguments of a registry backbone (`{"alpha": 0.35}`).
        input_scaling: `"unit"` (images as they are, [0, 1]) or `"symmetric"` (to [-1, 1], what keras.applications'
            MobileNetV2 weights expect); None picks the backbone's (`symmetric` for mobilenet_v2, else `unit`).
            keras.applications' ResNet50 weights expect caffe-style BGR mean-subtracted inputs, which no scaling
            here gives: fine-tune them (`freeze_backbone=False`).
        weights: None, or a weights file loaded into the backbone by layer name (a saved backbone, the registry
            model's own file, or a keras.applications file; see `load_weights_by_name`). Not kept in the config.
        freeze_backbone: make the backbone untrainable (its batch norm then runs in inference mode).
        batch_norm_momentum: batch norm momentum of the darknet stack and the head convolutions.
        anchors: None (YOLO v1, the default) or a list of `B` `(w, h)` anchor priors, fractions of the image.
        name: model name.

    Call arguments:
        images: `(batch, size, size, 3)` float32 in [0, 1].

    Returns:
        `(batch, S, S, B * 5 + C)`; with anchors `(batch, S, S, B * (5 + C))`.

    Example:
    >>> model = keras_nn.create_model("yolo_tiny", num_classes=3, input_shape=(128, 128, 3), width_multiplier=0.25)
    >>> model(np.zeros((1, 128, 128, 3), "float32")).shape
    (1, 2, 2, 13)
    >>> detections = model.detect(np.zeros((1, 128, 128, 3), "float32"), score_threshold=0.3)

    References:
        Redmon, Divvala, Girshick & Farhadi, "You Only Look Once: Unified, Real-Time Object Detection",
        CVPR 2016, https://arxiv.org/abs/1506.02640 (Fast YOLO: section 2.1, 9 convolutional layers).
        darknet `cfg/yolov1-tiny.cfg`, https://github.com/pjreddie/darknet.
        Redmon & Farhadi, "YOLO9000: Better, Faster, Stronger", CVPR 2017, https://arxiv.org/abs/1612.08242
        (anchor boxes, dimension clusters).
    """

    def __init__(
        self,
        backbone="darknet_tiny",
        input_shape=(448, 448, 3),
        num_classes=20,
        boxes_per_cell=None,
        head_filters=(),
        width_multiplier=1.0,
        filters=None,
        pools=DARKNET_TINY_POOLS,
        backbone_arguments=None,
        input_scaling=None,
        weights=None,
        freeze_backbone=False,
        batch_norm_momentum=0.99,
        anchors=None,
        name="yolo",
        **kwargs,
    ):
        arguments = dict(locals())
        check_choice("backbone", backbone, BACKBONES)
        check_positive_int("num_classes", num_classes)
        boxes_per_cell, anchors = grid_layout(name, boxes_per_cell, num_classes, anchors)
        # The config keeps the resolved B and the anchors as lists (a .keras file is JSON).
        arguments["boxes_per_cell"] = boxes_per_cell
        arguments["anchors"] = None if anchors is None else [list(pair) for pair in anchors]
        for width in head_filters:
            check_positive_int("head_filters entries", width)
        scaling = DEFAULT_SCALING[backbone] if input_scaling is None else input_scaling
        check_choice("input_scaling", scaling, INPUT_SCALINGS)
        if backbone_arguments is not None and not isinstance(backbone_arguments, dict):
            raise ConfigError(f"backbone_arguments={backbone_arguments!r} must be a dict of create_model arguments")
        if backbone == "darknet_tiny" and (
            not isinstance(pools, int) or isinstance(pools, bool) or not 0 <= pools <= DARKNET_TINY_POOLS
        ):
            raise ConfigError(f"pools={pools!r} must be an int from 0 to {DARKNET_TINY_POOLS} (darknet's: 6)")
        stride = 2**pools if backbone == "darknet_tiny" else 32
        input_shape = check_input_shape(name, input_shape, rank=3, min_size=stride)
        if input_shape[0] != input_shape[1] or input_shape[0] % stride:
            raise ShapeError(
                f"{name}: input_shape {input_shape} must be square with a side that is a multiple of {stride} "
                f"(the {backbone} backbone's stride), e.g. {(max(1, input_shape[0] // stride) * stride,) * 2 + (3,)}"
            )

        if backbone == "darknet_tiny":
            features = darknet_tiny(input_shape, darknet_filters(filters, width_multiplier), batch_norm_momentum, pools)
        else:
            # create_model's own first argument is `name`; the entry's builder takes the model name.
            entry = get_model_entry(backbone)
            features = entry.builder(
                **{**entry.defaults, **(backbone_arguments or {})},
                include_top=False,
                input_shape=input_shape,
                name="backbone",
            )
        if weights is not None:
            load_weights_by_name(features, weights)
        features.trainable = not freeze_backbone

        images = keras.Input(shape=input_shape, name="images")
        x = images
        if scaling == "symmetric":
            x = keras.layers.Rescaling(2.0, offset=-1.0, name="input_scaling")(x)
        x = features(x)
        for index, width in enumerate(head_filters, start=1):
            x = conv_bn_leaky(x, width, f"head_conv{index}", batch_norm_momentum)
        grid = YoloHead(boxes_per_cell, num_classes, anchors=anchors, dtype="float32", name="yolo_head")(x)
        super().__init__(inputs=images, outputs=grid, name=name, **kwargs)
        self._init_arguments(arguments)
        # The weights were loaded into this instance; a config that reloads them again would be a trap.
        self._config["weights"] = None
        self.grid_size = int(grid.shape[1])
        self.boxes_per_cell = boxes_per_cell
        self.num_classes = num_classes
        self.anchors = anchors
        self.image_size = (input_shape[0], input_shape[1])

    def get_config(self):
        # A backbone unfrozen (or frozen) after construction reloads as it is now.
        return {**super().get_config(), "freeze_backbone": not self.get_layer("backbone").trainable}

    @classmethod
    def from_config(cls, config):
        model = super().from_config(config)
        # Setting the model's own `trainable` (in FunctionalModel.from_config) resets every nested layer.
        model.get_layer("backbone").trainable = not config.get("freeze_backbone", False)
        return model

    def detect(self, images, score_threshold=0.25, iou_threshold=0.5, max_detections=100, class_agnostic=False):
        """Detections of a batch of images: the grid decoded (`YoloDecoder`) and `NonMaxSuppression`'s dict
        (`boxes [batch, max_detections, 4]` normalized corners, `scores`, `classes` int32, `count [batch]`)."""
        grid = self(images, training=False)
        candidates = YoloDecoder(self.boxes_per_cell, self.num_classes, anchors=self.anchors)(grid)
        suppress = NonMaxSuppression(
            max_detections=max_detections,
            iou_threshold=iou_threshold,
            score_threshold=score_threshold,
            class_agnostic=class_agnostic,
        )
        return suppress(candidates)


_PAPER = "Redmon et al. 2016, You Only Look Once: Unified, Real-Time Object Detection"
register_model(
    "yolo_tiny",
    YOLO,
    family="detection",
    description="Tiny YOLO v1: darknet's yolov1-tiny conv stack (stride 64, 448 -> 7x7), B=2, C=20, conv head",
    paper=_PAPER,
)
for _backbone, _head in (("mobilenet_v2", (256,)), ("resnet18", (256,)), ("resnet50", (512,))):
    register_model(
        f"yolo_{_backbone}",
        YOLO,
        family="detection",
        description=f"YOLO v1 grid head on a {_backbone} backbone (stride 32, 224 -> 7x7), B=2, C=20",
        paper=_PAPER,
        backbone=_backbone,
        input_shape=(224, 224, 3),
        head_filters=_head,
    )
