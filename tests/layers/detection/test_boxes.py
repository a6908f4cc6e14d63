import numpy as np
import pytest
from keras import ops

from keras_nn.layers import box_iou, center_to_corners, corners_to_center


def as_numpy(x):
    return ops.convert_to_numpy(x)


@pytest.mark.parametrize(
    "box1, box2, expected",
    [
        ([0, 0, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75], 0.0625 / (0.25 + 0.25 - 0.0625)),
        ([0.1, 0.2, 0.4, 0.6], [0.1, 0.2, 0.4, 0.6], 1.0),
        ([0, 0, 1, 1], [0, 0, 0.5, 0.5], 0.25),  # contained: area ratio
        ([0, 0, 0.5, 0.5], [0.5, 0, 1, 0.5], 0.0),  # touching edges
        ([0, 0, 0.2, 0.2], [0.6, 0.6, 0.9, 0.9], 0.0),  # apart
        ([0, 0, 0.4, 0.5], [0.2, 0.25, 0.6, 1.0], (0.2 * 0.25) / (0.2 + 0.3 - 0.05)),
        ([0.3, 0.3, 0.3, 0.3], [0.3, 0.3, 0.3, 0.3], 0.0),  # no area: 0, not NaN
    ],
)
def test_iou_of_hand_computed_pairs(box1, box2, expected):
    iou = as_numpy(box_iou(np.array([box1], "float32"), np.array([box2], "float32")))
    np.testing.assert_allclose(iou, [[expected]], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(as_numpy(box_iou(np.array([box2], "float32"), np.array([box1], "float32"))), iou)


def test_iou_is_pairwise_over_leading_batch_axes():
    rng = np.random.default_rng(0)
    low = rng.random((2, 3, 2)) * 0.5
    a = np.concatenate([low, low + rng.random((2, 3, 2)) * 0.5], -1).astype("float32")
    low = rng.random((2, 5, 2)) * 0.5
    b = np.concatenate([low, low + rng.random((2, 5, 2)) * 0.5], -1).astype("float32")
    iou = as_numpy(box_iou(a, b))
    assert iou.shape == (2, 3, 5)
    for n in range(2):
        for i in range(3):
            for j in range(5):
                expected = as_numpy(box_iou(a[n, i : i + 1], b[n, j : j + 1]))[0, 0]
                assert iou[n, i, j] == pytest.approx(expected, abs=1e-7)


def test_center_and_corner_encodings():
    centers = np.array([[0.5, 0.5, 0.2, 0.4], [0.1, 0.9, 0.2, 0.2]], "float32")
    corners = np.array([[0.4, 0.3, 0.6, 0.7], [0.0, 0.8, 0.2, 1.0]], "float32")
    np.testing.assert_allclose(as_numpy(center_to_corners(centers)), corners, atol=1e-7)
    np.testing.assert_allclose(as_numpy(corners_to_center(corners)), centers, atol=1e-7)
