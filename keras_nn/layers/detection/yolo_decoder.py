"""`YoloDecoder`: a YOLO prediction grid (v1, or v2's per-anchor layout) to boxes in image coordinates and
per-class scores."""

import keras
from keras import ops

from keras_nn.errors import ShapeError
from keras_nn.layers.detection.boxes import center_to_corners
from keras_nn.layers.detection.yolo_head import grid_channels, grid_layout


@keras.saving.register_keras_serializable(package="keras_nn")
class YoloDecoder(keras.layers.Layer):
    """Turns the activated grid `[batch, S, S, B*5 + C]` (the `YoloHead` layout) into candidate boxes and scores.

    The box `b` of the cell in row `i` and column `j` has its center at `((j + x_in_cell) / S, (i + y_in_cell) /
    S)` and its size `(sqrt_w ** 2, sqrt_h ** 2)` as fractions of the image; it is returned as corners
    `(x1, y1, x2, y2)` clipped to [0, 1]. Its score for class `c` is `confidence * P(c)`, the paper's
    class-specific confidence (section 2, test time). Candidates are ordered row, column, box.

    With `anchors` the grid is `YoloHead`'s anchor layout `[batch, S, S, B * (5 + C)]`: anchor `b`'s block is
    `(x_in_cell, y_in_cell, w, h, confidence, C class probabilities)` with `w`, `h` already decoded by the head
    (fractions of the image), so the box is `(j + x_in_cell) / S, (i + y_in_cell) / S, w, h` and its score
    `confidence * P(c | anchor b)` (YOLO v2: classes per anchor). The anchors' values are not needed here, only
    their count; they are kept so the layer describes the grid it reads.

    Args:
        boxes_per_cell: `B`; None: 2, or `len(anchors)` with anchors.
        num_classes: `C`.
        anchors: None (YOLO v1's layout) or the `B` `(w, h)` priors of the `YoloHead` that made the grid.
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        grid: `[batch, S, S, B * 5 + C]` (with anchors `[batch, S, S, B * (5 + C)]`) with a static, square `S`.

    Returns:
        `(boxes, scores)`: `[batch, S * S * B, 4]` and `[batch, S * S * B, C]`.

    Example:
    >>> boxes, scores = keras_nn.layers.YoloDecoder(2, 20)(np.full((1, 7, 7, 30), 0.5, "float32"))
    >>> boxes.shape, scores.shape
    ((1, 98, 4), (1, 98, 20))

    References:
        Redmon et al., "You Only Look Once: Unified, Real-Time Object Detection", CVPR 2016,
        https://arxiv.org/abs/1506.02640.
        Redmon & Farhadi, "YOLO9000: Better, Faster, Stronger", CVPR 2017, https://arxiv.org/abs/1612.08242.
    """

    def __init__(self, boxes_per_cell=None, num_classes=20, anchors=None, **kwargs):
        super().__init__(**kwargs)
        self.boxes_per_cell, self.anchors = grid_layout("YoloDecoder", boxes_per_cell, num_classes, anchors)
        self.num_classes = num_classes

    def _grid_size(self, shape):
        channels = grid_channels(self.boxes_per_cell, self.num_classes, self.anchors)
        if len(shape) != 4 or shape[1] is None or shape[1] != shape[2] or shape[3] != channels:
            anchors = "" if self.anchors is None else ", with anchors"
            raise ShapeError(
                f"YoloDecoder: the grid must be [batch, S, S, {channels}] (B={self.boxes_per_cell}, "
                f"C={self.num_classes}{anchors}) with a static square S; got shape {tuple(shape)}"
            )
        return shape[1]

    def call(self, grid):
        size = self._grid_size(grid.shape)
        count = self.boxes_per_cell
        if self.anchors is not None:
            blocks = ops.reshape(grid, (-1, size, size, count, 5 + self.num_classes))
            predictions, classes = blocks[..., :5], blocks[..., 5:]
        else:
            predictions = ops.reshape(grid[..., : 5 * count], (-1, size, size, count, 5))
            classes = grid[..., 5 * count :][:, :, :, None, :]
        cells = ops.cast(ops.arange(size), predictions.dtype)
        columns = ops.reshape(cells, (1, 1, size, 1))
        rows = ops.reshape(cells, (1, size, 1, 1))
        center_x = (columns + predictions[..., 0]) / size
        center_y = (rows + predictions[..., 1]) / size
        width, height = predictions[..., 2], predictions[..., 3]
        if self.anchors is None:  # YOLO v1 predicts square roots
            width, height = ops.square(width), ops.square(height)
        boxes = center_to_corners(ops.stack([center_x, center_y, width, height], axis=-1))
        boxes = ops.reshape(ops.clip(boxes, 0.0, 1.0), (-1, size * size * count, 4))
        scores = predictions[..., 4:5] * classes
        return boxes, ops.reshape(scores, (-1, size * size * count, self.num_classes))

    def compute_output_shape(self, input_shape):
        candidates = self._grid_size(input_shape) ** 2 * self.boxes_per_cell
        return (input_shape[0], candidates, 4), (input_shape[0], candidates, self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "boxes_per_cell": self.boxes_per_cell,
            "num_classes": self.num_classes,
            "anchors": None if self.anchors is None else [list(pair) for pair in self.anchors],
        }
