"""`YoloHead`: the last layer of a YOLO detector, a 1x1 convolution to the activated prediction grid (YOLO v1's
layout, or YOLO v2's per-anchor layout when it is given anchors)."""

import math

import keras
from keras import ops

from keras_nn.errors import ConfigError

#: Boxes per cell without anchors (YOLO v1's B).
DEFAULT_BOXES_PER_CELL = 2


def check_anchors(name, anchors):
    """`anchors` as a tuple of `(w, h)` float pairs in (0, 1], or None."""
    if anchors is None:
        return None
    try:
        pairs = tuple((float(w), float(h)) for w, h in anchors)
    except (TypeError, ValueError):
        pairs = ()
    if not pairs or not all(0.0 < value <= 1.0 for pair in pairs for value in pair):
        raise ConfigError(
            f"{name}: anchors={anchors!r} must be a non-empty list of (w, h) pairs, each a fraction of the image in "
            "(0, 1], e.g. [[0.1, 0.1], [0.3, 0.3]]"
        )
    return pairs


def grid_layout(name, boxes_per_cell, num_classes, anchors=None):
    """Checks the layout arguments; returns `(B, anchors)`: B is `len(anchors)` with anchors (`boxes_per_cell`
    None or equal to it), else `boxes_per_cell` (None: 2, YOLO v1's)."""
    anchors = check_anchors(name, anchors)
    if anchors is not None:
        if boxes_per_cell is not None and boxes_per_cell != len(anchors):
            raise ConfigError(
                f"{name}: boxes_per_cell={boxes_per_cell!r} differs from the {len(anchors)} anchors; with anchors B is "
                "the anchor count: leave boxes_per_cell out"
            )
        boxes_per_cell = len(anchors)
    elif boxes_per_cell is None:
        boxes_per_cell = DEFAULT_BOXES_PER_CELL
    check_grid_layout(name, boxes_per_cell, num_classes)
    return boxes_per_cell, anchors


def check_grid_layout(name, boxes_per_cell, num_classes):
    for key, value in (("boxes_per_cell", boxes_per_cell), ("num_classes", num_classes)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name}: {key}={value!r} must be a positive integer")


def grid_channels(boxes_per_cell, num_classes, anchors=None):
    """`B * 5 + C` (YOLO v1: classes per cell) or `B * (5 + C)` (with anchors: classes per anchor)."""
    return boxes_per_cell * (5 + num_classes) if anchors is not None else boxes_per_cell * 5 + num_classes


def activate_grid(logits, boxes_per_cell):
    """Sigmoid on the `5 * B` box channels, softmax over the class channels after them."""
    box_channels = 5 * boxes_per_cell
    boxes = ops.sigmoid(logits[..., :box_channels])
    classes = ops.softmax(logits[..., box_channels:], axis=-1)
    return ops.concatenate([boxes, classes], axis=-1)


def activate_anchor_grid(logits, anchors):
    """Per anchor block `(x, y, w, h, confidence, classes)`: sigmoid on x, y and confidence; w, h as
    `sigmoid(t + logit(anchor))`; softmax over the block's classes. Slices keep every tensor 4-D (TFLite)."""
    block = logits.shape[-1] // len(anchors)
    parts = []
    for index, (width, height) in enumerate(anchors):
        start = index * block
        # logit(1) is infinite: an anchor as large as the image starts its box at sigmoid(t + 20), about 1.
        offsets = [0.0, 0.0] + [math.log(a / (1.0 - a)) if a < 1.0 else 20.0 for a in (width, height)] + [0.0]
        boxes = ops.sigmoid(logits[..., start : start + 5] + ops.convert_to_tensor(offsets, logits.dtype))
        parts += [boxes, ops.softmax(logits[..., start + 5 : start + block], axis=-1)]
    return ops.concatenate(parts, axis=-1)


@keras.saving.register_keras_serializable(package="keras_nn")
class YoloHead(keras.layers.Layer):
    """Maps a feature map `[batch, S, S, channels]` to YOLO v1's prediction grid `[batch, S, S, B*5 + C]`, or
    with `anchors` to YOLO v2's `[batch, S, S, B * (5 + C)]`.

    A 1x1 convolution gives each cell `B * 5 + C` numbers. For box `b` the channels `5b .. 5b+4` are
    `(x_in_cell, y_in_cell, sqrt_w, sqrt_h, confidence)`, squashed by a sigmoid into [0, 1]: the box center's
    offset inside its cell, the square roots of its width and height as fractions of the image (YOLO v1
    predicts square roots so that an error on a small box costs more than the same error on a large one), and
    the objectness confidence. The last `C` channels are class probabilities (softmax), shared by the cell's
    `B` boxes. The paper uses a fully connected layer and clips linear outputs; the bounded activations keep
    every output in its valid range from the first step. Computations run in the layer's dtype; build it with
    `dtype="float32"` under mixed precision, so the activations and the loss stay in float32.

    With `anchors` (YOLO v2's priors, Redmon & Farhadi 2017), anchor `b` owns the channels `b * (5 + C) ..
    (b + 1) * (5 + C) - 1`: `(x_in_cell, y_in_cell, w, h, confidence)` then its own `C` class probabilities
    (softmax). x, y and confidence are sigmoids as in YOLO v2; `w` and `h` are the box's width and height as
    fractions of the image, already decoded: `w = sigmoid(t_w + logit(anchor_w))` instead of YOLO v2's
    `anchor_w * exp(t_w)`. Both give the anchor's size at `t_w = 0` and agree to first order for boxes much
    smaller than the image (`sigmoid(z) ~ exp(z)`); the logistic form is bounded in (0, 1), so every channel of
    the grid lies in [0, 1] as in YOLO v1 (one int8 scale fits the whole grid; no unbounded `exp` in an
    exported file) and, unlike a clipped `exp`, it never stops passing gradients.

    Args:
        boxes_per_cell: `B`, boxes predicted per cell; None: 2 (the paper's), or `len(anchors)` with anchors
            (which it must then equal).
        num_classes: `C`.
        anchors: None (YOLO v1), or a list of `B` `(w, h)` priors as fractions of the image (see
            `keras_nn.data.detection.kmeans_anchors`).
        kernel_initializer: initializer of the 1x1 convolution.
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        inputs: `[batch, S, S, channels]` features.

    Returns:
        `[batch, S, S, B * 5 + C]` (with anchors `[batch, S, S, B * (5 + C)]`), every value in [0, 1].

    Example:
    >>> head = keras_nn.layers.YoloHead(boxes_per_cell=2, num_classes=20)
    >>> head(np.zeros((1, 7, 7, 256), "float32")).shape
    (1, 7, 7, 30)

    References:
        Redmon, Divvala, Girshick & Farhadi, "You Only Look Once: Unified, Real-Time Object Detection",
        CVPR 2016, https://arxiv.org/abs/1506.02640.
        Redmon & Farhadi, "YOLO9000: Better, Faster, Stronger", CVPR 2017, https://arxiv.org/abs/1612.08242
        (section 2, "Direct location prediction").
    """

    def __init__(
        self, boxes_per_cell=None, num_classes=20, kernel_initializer="glorot_uniform", anchors=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.boxes_per_cell, self.anchors = grid_layout("YoloHead", boxes_per_cell, num_classes, anchors)
        self.num_classes = num_classes
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.conv = keras.layers.Conv2D(
            grid_channels(self.boxes_per_cell, num_classes, self.anchors),
            1,
            kernel_initializer=self.kernel_initializer,
            name="predictions",
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        self.conv.build(input_shape)

    def call(self, inputs):
        if self.anchors is not None:
            return activate_anchor_grid(self.conv(inputs), self.anchors)
        return activate_grid(self.conv(inputs), self.boxes_per_cell)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], grid_channels(self.boxes_per_cell, self.num_classes, self.anchors))

    def get_config(self):
        return {
            **super().get_config(),
            "boxes_per_cell": self.boxes_per_cell,
            "num_classes": self.num_classes,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "anchors": None if self.anchors is None else [list(pair) for pair in self.anchors],
        }
