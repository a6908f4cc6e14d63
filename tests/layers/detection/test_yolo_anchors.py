"""YoloHead and YoloDecoder with anchor priors (YOLO v2 layout): per-anchor blocks (x, y, w, h, conf, classes)."""

import numpy as np
import pytest
from keras import ops
from testing_utils import run_layer_test

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers import YoloDecoder, YoloHead

ANCHORS = [[0.1, 0.2], [0.5, 0.4]]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_head_activations_follow_the_anchor_layout():
    features = np.random.default_rng(0).normal(size=(2, 3, 3, 6)).astype("float32")
    head = YoloHead(num_classes=3, anchors=ANCHORS)
    grid = ops.convert_to_numpy(head(features))
    assert head.boxes_per_cell == 2 and grid.shape == (2, 3, 3, 16)
    kernel, bias = head.conv.get_weights()
    logits = features @ kernel[0, 0] + bias
    for b, (anchor_w, anchor_h) in enumerate(ANCHORS):
        block, out = logits[..., 8 * b : 8 * b + 8], grid[..., 8 * b : 8 * b + 8]
        np.testing.assert_allclose(out[..., [0, 1, 4]], sigmoid(block[..., [0, 1, 4]]), rtol=1e-5, atol=1e-6)
        # w = sigmoid(t_w + logit(anchor_w)): the anchor's own size at t_w = 0.
        np.testing.assert_allclose(out[..., 2], sigmoid(block[..., 2] + np.log(anchor_w / (1 - anchor_w))), rtol=1e-5)
        np.testing.assert_allclose(out[..., 3], sigmoid(block[..., 3] + np.log(anchor_h / (1 - anchor_h))), rtol=1e-5)
        classes = np.exp(block[..., 5:] - block[..., 5:].max(-1, keepdims=True))
        np.testing.assert_allclose(out[..., 5:], classes / classes.sum(-1, keepdims=True), rtol=1e-5, atol=1e-6)
    # Zero features give zero logits (the bias starts at 0): every box has its anchor's size.
    zero = ops.convert_to_numpy(head(np.zeros((1, 1, 1, 6), "float32")))[0, 0, 0]
    np.testing.assert_allclose(zero[[2, 3, 10, 11]], [0.1, 0.2, 0.5, 0.4], rtol=1e-6)


def test_head_shared_checks_and_config():
    features = np.random.default_rng(1).normal(size=(2, 4, 4, 8)).astype("float32")
    run_layer_test(YoloHead, {"num_classes": 3, "anchors": ANCHORS}, features, (2, 4, 4, 16), run_jit_compile_check=False)
    assert YoloHead(num_classes=3, anchors=ANCHORS).get_config()["anchors"] == ANCHORS


def test_decoder_with_anchors_matches_hand_computed_boxes_on_a_2x2_grid():
    # B = 2 anchors, C = 2 classes: per anchor (x, y, w, h, conf, p0, p1), 14 channels.
    grid = np.zeros((1, 2, 2, 14), "float32")
    grid[..., :] = [0.5, 0.5, 0.1, 0.2, 0.5, 0.5, 0.5] * 2
    # Row 1, column 0, anchor 1: center ((0 + 0.5) / 2, (1 + 0.25) / 2) = (0.25, 0.625), size 0.3 x 0.4.
    grid[0, 1, 0, 7:] = [0.5, 0.25, 0.3, 0.4, 0.8, 0.25, 0.75]
    # ... and anchor 0 of the same cell has classes of its own (YOLO v2: per anchor).
    grid[0, 1, 0, :7] = [0.5, 0.5, 0.1, 0.2, 0.5, 0.9, 0.1]
    # Row 0, column 1, anchor 0: center (1.0, 0.0), size 1 x 1: corners (0.5, -0.5, 1.5, 0.5), clipped.
    grid[0, 0, 1, :7] = [1.0, 0.0, 1.0, 1.0, 0.4, 0.5, 0.5]
    boxes, scores = YoloDecoder(num_classes=2, anchors=ANCHORS)(grid)
    boxes, scores = ops.convert_to_numpy(boxes), ops.convert_to_numpy(scores)
    assert boxes.shape == (1, 8, 4) and scores.shape == (1, 8, 2)
    # Candidates are ordered row, column, anchor: (row 1, col 0) is cell 2, so anchors 0 and 1 are 4 and 5.
    np.testing.assert_allclose(boxes[0, 5], [0.1, 0.425, 0.4, 0.825], atol=1e-6)
    np.testing.assert_allclose(scores[0, 5], [0.2, 0.6], atol=1e-6)
    np.testing.assert_allclose(scores[0, 4], [0.45, 0.05], atol=1e-6)
    np.testing.assert_allclose(boxes[0, 2], [0.5, 0.0, 1.0, 0.5], atol=1e-6)
    np.testing.assert_allclose(scores[0, 2], [0.2, 0.2], atol=1e-6)
    # Row 0, column 0, anchor 0: center (0.25, 0.25), size 0.1 x 0.2 (not squared: w, h are decoded sizes).
    np.testing.assert_allclose(boxes[0, 0], [0.2, 0.15, 0.3, 0.35], atol=1e-6)


def test_decoder_config_and_bad_layouts():
    decoder = YoloDecoder(num_classes=2, anchors=ANCHORS)
    assert decoder.boxes_per_cell == 2
    assert YoloDecoder.from_config(decoder.get_config()).get_config() == decoder.get_config()
    with pytest.raises(ShapeError, match=r"\[batch, S, S, 14\].*with anchors"):
        decoder(np.zeros((1, 2, 2, 12), "float32"))  # a YOLO v1 grid (B*5 + C)
    with pytest.raises(ConfigError, match="boxes_per_cell=3 differs from the 2 anchors"):
        YoloDecoder(boxes_per_cell=3, num_classes=2, anchors=ANCHORS)
    for bad in ([], [[0.1]], [[0.0, 0.2]], [[1.5, 0.2]]):
        with pytest.raises(ConfigError, match="anchors="):
            YoloHead(num_classes=2, anchors=bad)
