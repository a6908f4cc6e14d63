"""Box utilities in keras.ops: pairwise IoU and the two box encodings.

Boxes are `(x1, y1, x2, y2)` corners (normalized image coordinates in keras-nn's detection code) or
`(cx, cy, w, h)` centers and sizes; the last axis holds the four numbers.
"""

from keras import ops


def elementwise_box_iou(boxes1, boxes2):
    """IoU of corresponding corner boxes: `[..., 4]` and `[..., 4]` (broadcast) -> `[...]`.

    A box with no area (or two that do not meet) gives 0, never NaN.
    """
    x1 = ops.maximum(boxes1[..., 0], boxes2[..., 0])
    y1 = ops.maximum(boxes1[..., 1], boxes2[..., 1])
    x2 = ops.minimum(boxes1[..., 2], boxes2[..., 2])
    y2 = ops.minimum(boxes1[..., 3], boxes2[..., 3])
    intersection = ops.maximum(x2 - x1, 0.0) * ops.maximum(y2 - y1, 0.0)
    area1 = ops.maximum(boxes1[..., 2] - boxes1[..., 0], 0.0) * ops.maximum(boxes1[..., 3] - boxes1[..., 1], 0.0)
    area2 = ops.maximum(boxes2[..., 2] - boxes2[..., 0], 0.0) * ops.maximum(boxes2[..., 3] - boxes2[..., 1], 0.0)
    union = area1 + area2 - intersection
    # Where the union is empty the intersection is too: 0 / eps stays 0.
    return intersection / ops.maximum(union, 1e-9)


def box_iou(boxes1, boxes2):
    """Pairwise IoU of corner boxes: `[..., N, 4]` x `[..., M, 4]` -> `[..., N, M]`.

    Example:
    >>> box_iou(np.array([[0.0, 0.0, 0.5, 0.5]]), np.array([[0.25, 0.25, 0.75, 0.75]]))  # 1/16 / (2/4 - 1/16)
    array([[0.14285715]], dtype=float32)
    """
    return elementwise_box_iou(ops.expand_dims(boxes1, -2), ops.expand_dims(boxes2, -3))


def center_to_corners(boxes):
    """`(cx, cy, w, h)` -> `(x1, y1, x2, y2)` along the last axis."""
    center, size = boxes[..., :2], boxes[..., 2:4]
    return ops.concatenate([center - size / 2.0, center + size / 2.0], axis=-1)


def corners_to_center(boxes):
    """`(x1, y1, x2, y2)` -> `(cx, cy, w, h)` along the last axis."""
    low, high = boxes[..., :2], boxes[..., 2:4]
    return ops.concatenate([(low + high) / 2.0, high - low], axis=-1)
