"""`YoloLoss`: the YOLO v1 sum-squared detection loss with the responsible box chosen by IoU, or YOLO v2's with
anchor priors, the responsible anchor chosen by shape."""

import keras
from keras import ops

from keras_nn.errors import ConfigError, ShapeError


def _cell_box_iou(x, y, w, h, true_x, true_y, true_w, true_h, grid_size):
    """IoU of boxes given in one cell's frame (centers in cell units, sizes as image fractions)."""
    centers = [x / grid_size, y / grid_size, true_x / grid_size, true_y / grid_size]
    px, py, tx, ty = centers
    overlap_w = ops.maximum(ops.minimum(px + w / 2, tx + true_w / 2) - ops.maximum(px - w / 2, tx - true_w / 2), 0.0)
    overlap_h = ops.maximum(ops.minimum(py + h / 2, ty + true_h / 2) - ops.maximum(py - h / 2, ty - true_h / 2), 0.0)
    intersection = overlap_w * overlap_h
    return intersection / ops.maximum(w * h + true_w * true_h - intersection, 1e-9)


def _shape_iou(anchor_w, anchor_h, true_w, true_h):
    """IoU of boxes that share a center (YOLO v2's anchor matching): shapes only."""
    intersection = ops.minimum(anchor_w, true_w) * ops.minimum(anchor_h, true_h)
    return intersection / ops.maximum(anchor_w * anchor_h + true_w * true_h - intersection, 1e-9)


def _anchor_pairs(anchors):
    try:
        pairs = tuple((float(w), float(h)) for w, h in anchors)
    except (TypeError, ValueError):
        pairs = ()
    if not pairs or min(min(pair) for pair in pairs) <= 0.0:
        raise ConfigError(f"YoloLoss: anchors={anchors!r} must be a non-empty list of positive (w, h) pairs")
    return pairs


#: Widths and heights are floored here before their logarithm (empty cells hold 0; they are masked out).
LOG_FLOOR = 1e-6


@keras.saving.register_keras_serializable(package="keras_nn")
class YoloLoss(keras.losses.Loss):
    """The YOLO v1 loss (Redmon et al. 2016, equation 3): sum-squared errors over the grid, averaged over images.

    In each cell that holds an object's center, the responsible box is the one of the cell's `B` predictions
    with the highest IoU with the true box (the first on ties). It is penalized on its center offset and the
    square roots of its width and height (times `lambda_coord`) and on its confidence, whose target is that IoU
    (`rescore=True`, darknet's `rescore=1`) or 1. Every other box is pushed toward confidence 0 with weight
    `lambda_noobj`. The class probabilities of a cell with an object are compared with its one-hot class.
    The IoU target is not differentiated (a constant, as in darknet).

    With `anchors` (YOLO v2, Redmon & Farhadi 2017; `y_pred` in `YoloHead`'s anchor layout `B * (5 + C)`), the
    responsible prediction of a cell with an object is the anchor whose `(w, h)` shape has the highest IoU with
    the true box's shape (both centered at one point; the first on ties), whatever the predictions are. Its
    coordinate error is on x, y and on log-space width and height, `(log w - log w_true)^2`, which is YOLO v2's
    `(t_w - log(w_true / anchor_w))^2` written on the decoded sizes: a relative error, as the square roots are
    meant to approximate, and the parameterization the anchors were chosen for. Its confidence target is the
    IoU of its predicted box with the true box (or 1), its class error the squared error of its own class
    probabilities against the one-hot class. Every other anchor is pushed toward confidence 0 with weight
    `lambda_noobj`. The grid target is the same `[S, S, 5 + C]` as YOLO v1's.

    `ignore_iou` (YOLO v2's `thresh=.6`, darknet's region layer): a non-responsible prediction whose box
    overlaps its cell's true box by more than this IoU is not pushed toward 0 (it found the object too).

    Args:
        num_classes: `C`.
        boxes_per_cell: `B`; None: 2, or `len(anchors)` with anchors (which it must then equal).
        lambda_coord: weight of the coordinate terms (the paper: 5).
        lambda_noobj: weight of the confidence of boxes without an object (the paper: 0.5).
        rescore: confidence target IoU (True) or 1 (False).
        anchors: None (YOLO v1) or the model's `B` `(w, h)` anchor priors (`YOLO.anchors`).
        ignore_iou: None (every non-responsible box penalized, YOLO v1) or an IoU in [0, 1] (YOLO v2: 0.6).
        **kwargs: `name`, `reduction`, ...

    Call arguments:
        y_true: `[batch, S, S, 5 + C]`: channel 0 is 1 in the cell holding an object's center, channels 1..4
            `(x_in_cell, y_in_cell, w, h)` (w, h as fractions of the image), then the one-hot class.
        y_pred: `[batch, S, S, B * 5 + C]`, `YoloHead`'s activated grid (with anchors `[batch, S, S, B * (5 + C)]`).

    Returns:
        The loss summed over the grid, averaged over the batch.

    Example:
    >>> loss = keras_nn.losses.YoloLoss(num_classes=20)
    >>> model.compile(optimizer="adam", loss=loss)

    References:
        Redmon, Divvala, Girshick & Farhadi, "You Only Look Once: Unified, Real-Time Object Detection",
        CVPR 2016, https://arxiv.org/abs/1506.02640, section 2.2.
        Redmon & Farhadi, "YOLO9000: Better, Faster, Stronger", CVPR 2017, https://arxiv.org/abs/1612.08242.
    """

    def __init__(
        self,
        num_classes,
        boxes_per_cell=None,
        lambda_coord=5.0,
        lambda_noobj=0.5,
        rescore=True,
        anchors=None,
        ignore_iou=None,
        name="yolo_loss",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.anchors = None if anchors is None else _anchor_pairs(anchors)
        if self.anchors is not None:
            if boxes_per_cell not in (None, len(self.anchors)):
                raise ConfigError(
                    f"YoloLoss: boxes_per_cell={boxes_per_cell!r} differs from the {len(self.anchors)} anchors; leave "
                    "boxes_per_cell out (B is the anchor count)"
                )
            boxes_per_cell = len(self.anchors)
        elif boxes_per_cell is None:
            boxes_per_cell = 2
        if ignore_iou is not None and not 0.0 <= ignore_iou <= 1.0:
            raise ConfigError(f"YoloLoss: ignore_iou={ignore_iou!r} must be None or an IoU in [0, 1] (YOLO v2: 0.6)")
        self.ignore_iou = None if ignore_iou is None else float(ignore_iou)
        for key, value in (("num_classes", num_classes), ("boxes_per_cell", boxes_per_cell)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"YoloLoss: {key}={value!r} must be a positive integer")
        self.num_classes = num_classes
        self.boxes_per_cell = boxes_per_cell
        self.lambda_coord = float(lambda_coord)
        self.lambda_noobj = float(lambda_noobj)
        self.rescore = bool(rescore)

    def _noobj_weight(self, responsible, iou):
        """lambda_noobj where a box is not responsible, 0 where `ignore_iou` excuses it."""
        weight = self.lambda_noobj * (1.0 - responsible)
        if self.ignore_iou is None:
            return weight
        return weight * ops.cast(iou <= self.ignore_iou, weight.dtype)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        count, classes = self.boxes_per_cell, self.num_classes
        channels = count * (5 + classes) if self.anchors is not None else 5 * count + classes
        if y_pred.shape[-1] != channels or y_true.shape[-1] != 5 + classes:
            anchors = "" if self.anchors is None else ", with anchors"
            raise ShapeError(
                f"YoloLoss(num_classes={classes}, boxes_per_cell={count}{anchors}): y_pred must end in {channels} "
                f"channels and y_true in {5 + classes}; got {tuple(y_pred.shape)} and {tuple(y_true.shape)}"
            )
        if self.anchors is not None:
            return self._anchor_loss(y_true, y_pred)
        grid_size = y_pred.shape[1]
        boxes = ops.reshape(y_pred[..., : 5 * count], (-1, grid_size, grid_size, count, 5))
        x, y, sqrt_w, sqrt_h, confidence = (boxes[..., k] for k in range(5))
        has_object = y_true[..., 0:1]
        true_x, true_y, true_w, true_h = (y_true[..., k : k + 1] for k in range(1, 5))
        iou = _cell_box_iou(x, y, ops.square(sqrt_w), ops.square(sqrt_h), true_x, true_y, true_w, true_h, grid_size)
        iou = ops.stop_gradient(iou)
        responsible = ops.one_hot(ops.argmax(iou, axis=-1), count) * has_object

        coordinates = (
            ops.square(x - true_x)
            + ops.square(y - true_y)
            + ops.square(sqrt_w - ops.sqrt(true_w))
            + ops.square(sqrt_h - ops.sqrt(true_h))
        )
        target = iou if self.rescore else ops.ones_like(iou)
        per_box = (
            self.lambda_coord * responsible * coordinates
            + responsible * ops.square(confidence - target)
            + self._noobj_weight(responsible, iou) * ops.square(confidence)
        )
        class_error = has_object[..., 0] * ops.sum(ops.square(y_pred[..., 5 * count :] - y_true[..., 5:]), axis=-1)
        return ops.sum(per_box, axis=(1, 2, 3)) + ops.sum(class_error, axis=(1, 2))

    def _anchor_loss(self, y_true, y_pred):
        count, classes, grid_size = self.boxes_per_cell, self.num_classes, y_pred.shape[1]
        blocks = ops.reshape(y_pred, (-1, grid_size, grid_size, count, 5 + classes))
        x, y, w, h, confidence = (blocks[..., k] for k in range(5))
        has_object = y_true[..., 0:1]
        true_x, true_y, true_w, true_h = (y_true[..., k : k + 1] for k in range(1, 5))
        anchor_w = ops.convert_to_tensor([pair[0] for pair in self.anchors], "float32")
        anchor_h = ops.convert_to_tensor([pair[1] for pair in self.anchors], "float32")
        shape_iou = _shape_iou(anchor_w, anchor_h, true_w, true_h)
        responsible = ops.one_hot(ops.argmax(shape_iou, axis=-1), count) * has_object
        iou = ops.stop_gradient(_cell_box_iou(x, y, w, h, true_x, true_y, true_w, true_h, grid_size))

        def log(value):
            return ops.log(ops.maximum(value, LOG_FLOOR))

        coordinates = (
            ops.square(x - true_x)
            + ops.square(y - true_y)
            + ops.square(log(w) - log(true_w))
            + ops.square(log(h) - log(true_h))
        )
        target = iou if self.rescore else ops.ones_like(iou)
        class_error = ops.sum(ops.square(blocks[..., 5:] - y_true[..., None, 5:]), axis=-1)
        per_box = (
            responsible * (self.lambda_coord * coordinates + ops.square(confidence - target) + class_error)
            + self._noobj_weight(responsible, iou) * ops.square(confidence)
        )
        return ops.sum(per_box, axis=(1, 2, 3))

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "boxes_per_cell": self.boxes_per_cell,
            "lambda_coord": self.lambda_coord,
            "lambda_noobj": self.lambda_noobj,
            "rescore": self.rescore,
            "anchors": None if self.anchors is None else [list(pair) for pair in self.anchors],
            "ignore_iou": self.ignore_iou,
        }
