"""Ground-truth boxes -> the YOLO v1 grid target that `keras_nn.losses.YoloLoss` takes as `y_true`."""

from __future__ import annotations

import tensorflow as tf


def encode_grid_targets(boxes, grid_size: int, num_classes: int) -> tf.Tensor:
    """Encodes padded ground-truth boxes as the S x S grid target of a YOLO v1 detector.

    The cell that holds an object's center is responsible for it (Redmon et al. 2016). A cell holds one
    object: when two centers fall in one cell, the larger box is kept (on equal areas, the earlier row).

    Args:
        boxes: float `[max_boxes, 5]` or batched `[batch, max_boxes, 5]` rows `(class_id, x1, y1, x2, y2)`,
            normalized; rows with `class_id < 0` are padding.
        grid_size: S, cells per side.
        num_classes: C.

    Returns:
        float32 `[S, S, 5 + C]` (or `[batch, S, S, 5 + C]`): channel 0 is 1 in a cell responsible for an
        object, channels 1..4 that object's `(x_in_cell, y_in_cell, w, h)` (the center's offset inside the
        cell in [0, 1]; width and height as fractions of the image), channels 5.. its one-hot class; zeros
        elsewhere. Rows are `y` (top to bottom), columns `x`.

    Example:
        >>> ds = bundle.train.map(lambda x, b: (x, encode_grid_targets(b, 7, bundle.num_classes)))

    References:
        Redmon et al., "You Only Look Once: Unified, Real-Time Object Detection", CVPR 2016.
    """
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    s = int(grid_size)
    cls = boxes[..., 0]
    x1, y1, x2, y2 = boxes[..., 1], boxes[..., 2], boxes[..., 3], boxes[..., 4]
    valid = cls >= 0
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    w, h = x2 - x1, y2 - y1
    # A center on the far edge (1.0) belongs to the last cell.
    col = tf.clip_by_value(tf.floor(cx * s), 0.0, s - 1.0)
    row = tf.clip_by_value(tf.floor(cy * s), 0.0, s - 1.0)
    cell = tf.cast(row * s + col, tf.int32)  # [..., M]
    # score[..., m, k]: box m's claim on cell k; the winner of a cell is the largest box in it.
    in_cell = tf.logical_and(tf.one_hot(cell, s * s, on_value=True, off_value=False), valid[..., None])
    area = tf.maximum(w * h, 0.0)
    score = tf.where(in_cell, area[..., None] + 1.0, 0.0)  # +1: a zero-area box still claims its cell
    winner = tf.argmax(score, axis=-2, output_type=tf.int32)  # [..., S*S]
    occupied = tf.reduce_max(score, axis=-2) > 0.0
    one_hot = tf.one_hot(tf.cast(tf.where(valid, cls, 0.0), tf.int32), num_classes)
    features = tf.concat(
        [tf.stack([cx * s - col, cy * s - row, w, h], axis=-1), one_hot], axis=-1
    )  # [..., M, 4 + C]
    batch_dims = len(boxes.shape) - 2
    picked = tf.gather(features, winner, axis=batch_dims, batch_dims=batch_dims)  # [..., S*S, 4 + C]
    occupied = tf.cast(occupied, tf.float32)[..., None]
    grid = tf.concat([occupied, picked * occupied], axis=-1)
    return tf.reshape(grid, tf.concat([tf.shape(grid)[:-2], [s, s, 5 + num_classes]], axis=0))
