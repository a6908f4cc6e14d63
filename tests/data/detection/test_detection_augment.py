"""Box-aware augmentation: the transformed boxes still bound their objects' pixels."""

import numpy as np
import pytest
import tensorflow as tf

from keras_nn.data.detection import DETECTION_AUGMENT_DEFAULTS, augment_detection, check_detection_augment
from keras_nn.errors import ConfigError

SIZE = 32


def _scene():
    # A grey image with a red and a green rectangle; their pixel boxes are known exactly.
    image = np.full((SIZE, SIZE, 3), 0.5, np.float32)
    image[4:16, 8:20] = [1.0, 0.0, 0.0]  # red: columns 8..19, rows 4..15
    image[20:30, 22:29] = [0.0, 1.0, 0.0]  # green: columns 22..28, rows 20..29
    boxes = np.array(
        [
            [0, 8 / SIZE, 4 / SIZE, 20 / SIZE, 16 / SIZE],
            [-1, 0, 0, 0, 0],
            [1, 22 / SIZE, 20 / SIZE, 29 / SIZE, 30 / SIZE],
            [-1, 0, 0, 0, 0],
        ],
        np.float32,
    )
    return image, boxes


def _pixel_box(mask):
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32) / SIZE


@pytest.mark.parametrize("seed", range(12))
def test_boxes_follow_their_pixels(seed):
    image, boxes = _scene()
    options = check_detection_augment({"zoom": 0.4, "translate": 0.25, "min_visible": 0.3})
    out_image, out_boxes = augment_detection(image, boxes, tf.constant([seed, 7], tf.int64), options)
    out_image, out_boxes = out_image.numpy(), out_boxes.numpy()
    assert out_image.shape == (SIZE, SIZE, 3) and out_boxes.shape == (4, 5)
    r, g, b = out_image[..., 0], out_image[..., 1], out_image[..., 2]
    # Brightness and contrast move every channel alike, so "much redder than green" still finds red pixels.
    masks = {0: (r - g > 0.5) & (r - b > 0.5), 1: (g - r > 0.5) & (g - b > 0.5)}
    kept = out_boxes[out_boxes[:, 0] >= 0]
    # Kept rows first, then padding rows of (-1, 0, 0, 0, 0).
    np.testing.assert_array_equal(out_boxes[len(kept) :], np.tile([-1, 0, 0, 0, 0], (4 - len(kept), 1)))
    for row in kept:
        mask = masks[int(row[0])]
        assert mask.any(), f"box {row} kept but its object left the image"
        np.testing.assert_allclose(row[1:], _pixel_box(mask), atol=1.5 / SIZE)
    for cls, mask in masks.items():
        # A box is dropped only when under min_visible (0.3) of its object is left: at most 0.3 of its area
        # after the largest zoom (1.4x), plus a pixel of blur around it.
        largest = {0: 13 * 13, 1: 8 * 11}[cls] * 1.4**2
        if cls not in kept[:, 0]:
            assert mask.sum() <= 0.3 * largest, f"class {cls} has {mask.sum()} pixels left but was dropped"


def test_flip_alone_mirrors_pixels_and_boxes_exactly():
    image, boxes = _scene()
    options = check_detection_augment({"zoom": 0, "translate": 0, "brightness": 0, "contrast": 0})
    results = [augment_detection(image, boxes, tf.constant([s, 0], tf.int64), options) for s in range(8)]
    flipped = [r for r in results if not np.array_equal(r[0].numpy(), image)]
    assert flipped and len(flipped) < len(results)
    out_image, out_boxes = flipped[0]
    np.testing.assert_array_equal(out_image.numpy(), image[:, ::-1])
    expected = boxes[[0, 2]].copy()
    expected[:, 1], expected[:, 3] = 1 - boxes[[0, 2], 3], 1 - boxes[[0, 2], 1]
    np.testing.assert_allclose(out_boxes.numpy()[:2], expected, atol=1e-6)


def test_options_are_checked():
    assert check_detection_augment(False) is None
    assert check_detection_augment(True) == DETECTION_AUGMENT_DEFAULTS
    with pytest.raises(ConfigError, match="rotation"):
        check_detection_augment({"rotation": 0.1})
    with pytest.raises(ConfigError, match="zoom"):
        check_detection_augment({"zoom": 1.0})
    with pytest.raises(ConfigError, match="augment"):
        check_detection_augment("yes")
