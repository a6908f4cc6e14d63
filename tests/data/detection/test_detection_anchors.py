"""kmeans_anchors: YOLO v2's dimension clusters (k-means on box shapes with the 1 - IoU distance)."""

import numpy as np
import pytest

from keras_nn.data.detection import kmeans_anchors
from keras_nn.errors import ConfigError, DataError

# Three obvious shape clusters: small squares, tall boxes, wide boxes, each jittered around its center.
CENTERS = np.array([[0.05, 0.05], [0.2, 0.4], [0.6, 0.3]])
RNG = np.random.default_rng(0)
GROUPS = [center + RNG.uniform(-0.01, 0.01, size=(12, 2)) for center in CENTERS]


def as_rows(shapes, max_boxes=8):
    """(w, h) shapes as padded ground-truth rows (class, x1, y1, x2, y2), 8 rows an image."""
    rows = np.zeros((len(shapes), 5))
    rows[:, 3:] = shapes  # x1 = y1 = 0
    images = -(-len(rows) // max_boxes)
    padded = np.tile([-1.0, 0, 0, 0, 0], (images * max_boxes, 1))
    padded[: len(rows)] = rows
    return padded.reshape(images, max_boxes, 5)


def test_obvious_clusters_give_their_mean_shapes_sorted_by_area():
    shapes = np.concatenate(GROUPS)
    anchors = kmeans_anchors(shapes, 3, seed=0)
    # The clusters are far apart in IoU: each converges to the mean of its own group.
    np.testing.assert_allclose(anchors, [group.mean(axis=0) for group in GROUPS], rtol=1e-12)
    areas = [w * h for w, h in anchors]
    assert areas == sorted(areas) and all(isinstance(v, float) for pair in anchors for v in pair)
    # Deterministic, whatever the seed or the order of the boxes; ground-truth rows with padding give the same.
    assert kmeans_anchors(shapes, 3, seed=0) == anchors
    np.testing.assert_allclose(kmeans_anchors(shapes[::-1], 3, seed=5), anchors, rtol=1e-12)
    np.testing.assert_allclose(kmeans_anchors(as_rows(shapes), 3), anchors, rtol=1e-12)


def test_the_iou_distance_not_the_euclidean_one():
    # 0.25 x 0.25 is nearer 0.1 x 0.1 in Euclidean distance (0.21 against 0.35) but has the higher IoU with
    # 0.5 x 0.5 (0.25 against 0.16): under 1 - IoU it joins the large squares (mean (0.5 + 0.5 + 0.25) / 3).
    shapes = np.array([[0.1, 0.1], [0.1, 0.1], [0.5, 0.5], [0.5, 0.5], [0.25, 0.25]])
    np.testing.assert_allclose(kmeans_anchors(shapes, 2), [[0.1, 0.1], [1.25 / 3, 1.25 / 3]], rtol=1e-12)


def test_bad_arguments():
    with pytest.raises(DataError, match="4 anchors need at least 4 distinct box shapes; the boxes have 3"):
        kmeans_anchors(CENTERS, 4)
    with pytest.raises(ConfigError, match="k=0"):
        kmeans_anchors(CENTERS, 0)
    with pytest.raises(ConfigError, match=r"must be \[N, 2\]"):
        kmeans_anchors(np.zeros((3, 3)), 2)
