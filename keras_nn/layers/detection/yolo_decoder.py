"""`YoloDecoder`: YOLO v1's prediction grid to boxes in image coordinates and per-class scores."""

import keras
from keras import ops

from keras_nn.errors import ShapeError
from keras_nn.layers.detection.boxes import center_to_corners
from keras_nn.layers.detection.yolo_head import check_grid_layout


@keras.saving.register_keras_serializable(package="keras_nn")
class YoloDecoder(keras.layers.Layer):
    """Turns the activated grid `[batch, S, S, B*5 + C]` (the `YoloHead` layout) into candidate boxes and scores.

    The box `b` of the cell in row `i` and column `j` has its center at `((j + x_in_cell) / S, (i + y_in_cell) /
    S)` and its size `(sqrt_w ** 2, sqrt_h ** 2)` as fractions of the image; it is returned as corners
    `(x1, y1, x2, y2)` clipped to [0, 1]. Its score for class `c` is `confidence * P(c)`, the paper's
    class-specific confidence (section 2, test time). Candidates are ordered row, column, box.

    Args:
        boxes_per_cell: `B`.
        num_classes: `C`.
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        grid: `[batch, S, S, B * 5 + C]` with a static, square `S`.

    Returns:
        `(boxes, scores)`: `[batch, S * S * B, 4]` and `[batch, S * S * B, C]`.

    Example:
    >>> boxes, scores = keras_nn.layers.YoloDecoder(2, 20)(np.full((1, 7, 7, 30), 0.5, "float32"))
    >>> boxes.shape, scores.shape
    ((1, 98, 4), (1, 98, 20))

    References:
        Redmon et al., "You Only Look Once: Unified, Real-Time Object Detection", CVPR 2016,
        https://arxiv.org/abs/1506.02640.
    """

    def __init__(self, boxes_per_cell=2, num_classes=20, **kwargs):
        super().__init__(**kwargs)
        check_grid_layout("YoloDecoder", boxes_per_cell, num_classes)
        self.boxes_per_cell = boxes_per_cell
        self.num_classes = num_classes

    def _grid_size(self, shape):
        channels = self.boxes_per_cell * 5 + self.num_classes
        if len(shape) != 4 or shape[1] is None or shape[1] != shape[2] or shape[3] != channels:
            raise ShapeError(
                f"YoloDecoder: the grid must be [batch, S, S, {channels}] (B={self.boxes_per_cell}, "
                f"C={self.num_classes}) with a static square S; got shape {tuple(shape)}"
            )
        return shape[1]

    def call(self, grid):
        size = self._grid_size(grid.shape)
        count = self.boxes_per_cell
        predictions = ops.reshape(grid[..., : 5 * count], (-1, size, size, count, 5))
        cells = ops.cast(ops.arange(size), predictions.dtype)
        columns = ops.reshape(cells, (1, 1, size, 1))
        rows = ops.reshape(cells, (1, size, 1, 1))
        center_x = (columns + predictions[..., 0]) / size
        center_y = (rows + predictions[..., 1]) / size
        width = ops.square(predictions[..., 2])
        height = ops.square(predictions[..., 3])
        boxes = center_to_corners(ops.stack([center_x, center_y, width, height], axis=-1))
        boxes = ops.reshape(ops.clip(boxes, 0.0, 1.0), (-1, size * size * count, 4))
        classes = grid[..., 5 * count :][:, :, :, None, :]
        scores = predictions[..., 4:5] * classes
        return boxes, ops.reshape(scores, (-1, size * size * count, self.num_classes))

    def compute_output_shape(self, input_shape):
        candidates = self._grid_size(input_shape) ** 2 * self.boxes_per_cell
        return (input_shape[0], candidates, 4), (input_shape[0], candidates, self.num_classes)

    def get_config(self):
        return {**super().get_config(), "boxes_per_cell": self.boxes_per_cell, "num_classes": self.num_classes}
