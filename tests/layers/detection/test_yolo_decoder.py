import numpy as np
import pytest
from keras import ops

from keras_nn.errors import ShapeError
from keras_nn.layers import YoloDecoder


def test_decoding_matches_hand_computed_boxes_on_a_2x2_grid():
    # B = 2 boxes per cell, C = 3 classes: channels (x, y, sqrt_w, sqrt_h, conf) x 2, then 3 class probabilities.
    grid = np.full((1, 2, 2, 13), 0.5, "float32")
    grid[..., 10:] = [0.2, 0.3, 0.5]
    # Row 1, column 0, box 0: center ((0 + 0.5) / 2, (1 + 0.25) / 2) = (0.25, 0.625), size (0.25, 0.36).
    grid[0, 1, 0, 0:5] = [0.5, 0.25, 0.5, 0.6, 0.8]
    grid[0, 1, 0, 10:] = [0.1, 0.7, 0.2]
    # Row 0, column 1, box 1: center (1.0, 0.0), size (1, 1): corners (0.5, -0.5, 1.5, 0.5), clipped.
    grid[0, 0, 1, 5:10] = [1.0, 0.0, 1.0, 1.0, 0.4]
    boxes, scores = YoloDecoder(boxes_per_cell=2, num_classes=3)(grid)
    boxes, scores = ops.convert_to_numpy(boxes), ops.convert_to_numpy(scores)
    assert boxes.shape == (1, 8, 4) and scores.shape == (1, 8, 3)
    # Candidates are ordered row, column, box: (row 1, col 0, box 0) is 4, (row 0, col 1, box 1) is 3.
    np.testing.assert_allclose(boxes[0, 4], [0.125, 0.445, 0.375, 0.805], atol=1e-6)
    np.testing.assert_allclose(scores[0, 4], [0.08, 0.56, 0.16], atol=1e-6)
    np.testing.assert_allclose(boxes[0, 3], [0.5, 0.0, 1.0, 0.5], atol=1e-6)
    np.testing.assert_allclose(scores[0, 3], [0.08, 0.12, 0.2], atol=1e-6)
    # Row 0, column 0, box 0: center (0.25, 0.25), size 0.25 x 0.25; confidence 0.5.
    np.testing.assert_allclose(boxes[0, 0], [0.125, 0.125, 0.375, 0.375], atol=1e-6)
    np.testing.assert_allclose(scores[0, 0], [0.1, 0.15, 0.25], atol=1e-6)


def test_config_round_trip_and_bad_grid():
    decoder = YoloDecoder(boxes_per_cell=1, num_classes=4)
    assert YoloDecoder.from_config(decoder.get_config()).get_config() == decoder.get_config()
    with pytest.raises(ShapeError, match=r"\[batch, S, S, 9\]"):
        decoder(np.zeros((1, 2, 2, 10), "float32"))
