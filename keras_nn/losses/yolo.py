"""`YoloLoss`: the YOLO v1 sum-squared detection loss with the responsible box chosen by IoU."""

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


@keras.saving.register_keras_serializable(package="keras_nn")
class YoloLoss(keras.losses.Loss):
    """The YOLO v1 loss (Redmon et al. 2016, equation 3): sum-squared errors over the grid, averaged over images.

    In each cell that holds an object's center, the responsible box is the one of the cell's `B` predictions
    with the highest IoU with the true box (the first on ties). It is penalized on its center offset and the
    square roots of its width and height (times `lambda_coord`) and on its confidence, whose target is that IoU
    (`rescore=True`, darknet's `rescore=1`) or 1. Every other box is pushed toward confidence 0 with weight
    `lambda_noobj`. The class probabilities of a cell with an object are compared with its one-hot class.
    The IoU target is not differentiated (a constant, as in darknet).

    Args:
        num_classes: `C`.
        boxes_per_cell: `B`.
        lambda_coord: weight of the coordinate terms (the paper: 5).
        lambda_noobj: weight of the confidence of boxes without an object (the paper: 0.5).
        rescore: confidence target IoU (True) or 1 (False).
        **kwargs: `name`, `reduction`, ...

    Call arguments:
        y_true: `[batch, S, S, 5 + C]`: channel 0 is 1 in the cell holding an object's center, channels 1..4
            `(x_in_cell, y_in_cell, w, h)` (w, h as fractions of the image), then the one-hot class.
        y_pred: `[batch, S, S, B * 5 + C]`, `YoloHead`'s activated grid.

    Returns:
        The loss summed over the grid, averaged over the batch.

    Example:
    >>> loss = keras_nn.losses.YoloLoss(num_classes=20)
    >>> model.compile(optimizer="adam", loss=loss)

    References:
        Redmon, Divvala, Girshick & Farhadi, "You Only Look Once: Unified, Real-Time Object Detection",
        CVPR 2016, https://arxiv.org/abs/1506.02640, section 2.2.
    """

    def __init__(
        self,
        num_classes,
        boxes_per_cell=2,
        lambda_coord=5.0,
        lambda_noobj=0.5,
        rescore=True,
        name="yolo_loss",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        for key, value in (("num_classes", num_classes), ("boxes_per_cell", boxes_per_cell)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"YoloLoss: {key}={value!r} must be a positive integer")
        self.num_classes = num_classes
        self.boxes_per_cell = boxes_per_cell
        self.lambda_coord = float(lambda_coord)
        self.lambda_noobj = float(lambda_noobj)
        self.rescore = bool(rescore)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        count, classes = self.boxes_per_cell, self.num_classes
        if y_pred.shape[-1] != 5 * count + classes or y_true.shape[-1] != 5 + classes:
            raise ShapeError(
                f"YoloLoss(num_classes={classes}, boxes_per_cell={count}): y_pred must end in {5 * count + classes} "
                f"channels and y_true in {5 + classes}; got {tuple(y_pred.shape)} and {tuple(y_true.shape)}"
            )
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
            + self.lambda_noobj * (1.0 - responsible) * ops.square(confidence)
        )
        class_error = has_object[..., 0] * ops.sum(ops.square(y_pred[..., 5 * count :] - y_true[..., 5:]), axis=-1)
        return ops.sum(per_box, axis=(1, 2, 3)) + ops.sum(class_error, axis=(1, 2))

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "boxes_per_cell": self.boxes_per_cell,
            "lambda_coord": self.lambda_coord,
            "lambda_noobj": self.lambda_noobj,
            "rescore": self.rescore,
        }
