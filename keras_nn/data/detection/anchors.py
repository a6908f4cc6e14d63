"""Anchor priors from the data: k-means on the training boxes' shapes with the 1 - IoU distance (YOLO v2)."""

from __future__ import annotations

import numpy as np

from keras_nn.errors import ConfigError, DataError

MAX_ITERATIONS = 300
#: k-means runs from this many seeded k-means++ starts; the one with the highest mean IoU is kept.
RESTARTS = 10


def box_shapes(boxes) -> np.ndarray:
    """`(w, h)` of every real box: `[N, 2]` shapes as they are, or ground-truth rows `[..., 5]`
    `(class_id, x1, y1, x2, y2)` with the padding rows (`class_id < 0`) and empty boxes dropped."""
    boxes = np.asarray(boxes, np.float64)
    if boxes.ndim == 2 and boxes.shape[-1] == 2:
        shapes = boxes
    elif boxes.ndim >= 2 and boxes.shape[-1] == 5:
        rows = boxes.reshape(-1, 5)
        rows = rows[rows[:, 0] >= 0]
        shapes = np.stack([rows[:, 3] - rows[:, 1], rows[:, 4] - rows[:, 2]], axis=-1)
    else:
        raise ConfigError(
            f"boxes of shape {boxes.shape} must be [N, 2] (w, h) or ground-truth rows [..., 5] (class, x1, y1, x2, y2)"
        )
    return shapes[(shapes[:, 0] > 0) & (shapes[:, 1] > 0)]


def shape_iou(shapes, centroids):
    """IoU of boxes sharing a center: `[N, 2]` x `[K, 2]` -> `[N, K]`."""
    intersection = np.minimum(shapes[:, None, 0], centroids[None, :, 0]) * np.minimum(
        shapes[:, None, 1], centroids[None, :, 1]
    )
    areas = shapes[:, 0] * shapes[:, 1]
    return intersection / (areas[:, None] + (centroids[:, 0] * centroids[:, 1])[None, :] - intersection)


def kmeans_anchors(boxes, k: int, seed: int = 0) -> list[tuple[float, float]]:
    """YOLO v2's dimension clusters: `k` anchor shapes from the training boxes.

    k-means on the boxes' `(w, h)` with `d(box, centroid) = 1 - IoU(box, centroid)`, both centered at one point
    (so large boxes do not dominate as they would under a Euclidean distance). Seeded k-means++ picks the first
    centroids (each next one drawn with probability proportional to its squared distance to the nearest chosen
    one); Lloyd iterations then assign every box to its nearest centroid and move each centroid to its
    cluster's mean shape, until the assignment no longer changes. Of `RESTARTS` such runs (one seeded generator
    for all), the one whose boxes have the highest mean IoU with their nearest anchor (YOLO v2's "Avg IoU") wins,
    so one unlucky start does not split a cluster. The same boxes and seed give the same anchors.

    Args:
        boxes: `[N, 2]` widths and heights (fractions of the image), or ground-truth box rows `[..., 5]`
            `(class_id, x1, y1, x2, y2)` as a `DetectionBundle` gives them (padding rows are dropped).
        k: the number of anchors (YOLO v2: 5).
        seed: the k-means++ seed.

    Returns:
        `k` `(w, h)` pairs, sorted by area (smallest first), as Python floats.

    Raises:
        ConfigError: `k` is not a positive integer, or `boxes` has another shape.
        DataError: fewer distinct box shapes than `k`.

    Example:
        >>> _, boxes = bundle.as_numpy("train")
        >>> model = keras_nn.create_model("yolo_tiny", anchors=kmeans_anchors(boxes, 5))

    References:
        Redmon & Farhadi, "YOLO9000: Better, Faster, Stronger", CVPR 2017, https://arxiv.org/abs/1612.08242,
        section 2, "Dimension Clusters".
        Arthur & Vassilvitskii, "k-means++: The Advantages of Careful Seeding", SODA 2007.
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ConfigError(f"k={k!r} anchors: use a positive integer (YOLO v2: 5)")
    shapes = box_shapes(boxes)
    distinct = len(np.unique(shapes, axis=0))
    if distinct < k:
        raise DataError(f"{k} anchors need at least {k} distinct box shapes; the boxes have {distinct}: use fewer anchors")
    rng = np.random.default_rng(seed)
    runs = [lloyd(shapes, kmeans_plus_plus(shapes, k, rng)) for _ in range(RESTARTS)]
    best = max(runs, key=lambda centroids: np.max(shape_iou(shapes, centroids), axis=1).mean())
    order = np.argsort(best[:, 0] * best[:, 1], kind="stable")
    return [(float(w), float(h)) for w, h in best[order]]


def kmeans_plus_plus(shapes, k, rng):
    """k-means++ starts under the 1 - IoU distance."""
    centroids = [shapes[rng.integers(len(shapes))]]
    for _ in range(1, k):
        nearest = np.min(1.0 - shape_iou(shapes, np.array(centroids)), axis=1)
        weights = nearest**2
        centroids.append(shapes[rng.choice(len(shapes), p=weights / weights.sum())])
    return np.array(centroids)


def lloyd(shapes, centroids):
    """Lloyd iterations from `centroids` (each box to the centroid of highest IoU) until nothing moves."""
    centroids = centroids.copy()
    k = len(centroids)
    assignment = None
    for _ in range(MAX_ITERATIONS):
        new_assignment = np.argmax(shape_iou(shapes, centroids), axis=1)
        if assignment is not None and np.array_equal(new_assignment, assignment):
            break
        assignment = new_assignment
        for cluster in range(k):
            members = shapes[assignment == cluster]
            if len(members):  # an emptied cluster keeps its centroid
                centroids[cluster] = members.mean(axis=0)
    return centroids
