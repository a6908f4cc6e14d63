"""YoloLoss with anchors (YOLO v2): the responsible anchor chosen by shape, log-space sizes, per-anchor classes."""

import math

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.losses import YoloLoss

# S = 2, B = 2 anchors, C = 2. One object, class 1, centered in cell (row 0, column 1): (0.5, 0.5) in the cell,
# 0.25 x 0.45. Shape IoU with anchor 0 (0.1 x 0.1): 0.01 / 0.1125 = 0.089; with anchor 1 (0.3 x 0.5):
# (0.25 * 0.45) / (0.15 + 0.1125 - 0.1125) = 0.75. Anchor 1 is responsible.
ANCHORS = [[0.1, 0.1], [0.3, 0.5]]
Y_TRUE = np.zeros((2, 2, 2, 7), "float32")
Y_TRUE[0, 0, 1] = [1, 0.5, 0.5, 0.25, 0.45, 0, 1]


def prediction():
    y_pred = np.zeros((2, 2, 2, 14), "float32")
    y_pred[..., :] = [0.5, 0.5, 0.1, 0.1, 0.2, 0.5, 0.5] * 2  # every confidence 0.2
    # Anchor 0 predicts the true box exactly (IoU 1), but its shape prior is the worse match: not responsible.
    y_pred[0, 0, 1, :7] = [0.5, 0.5, 0.25, 0.45, 0.6, 0.5, 0.5]
    # Anchor 1: center 0.25 cell (0.125 of the image) to the right, twice as wide: overlap 0.25 x 0.45 = 0.1125,
    # union 0.225 + 0.1125 - 0.1125: IoU 0.5.
    y_pred[0, 0, 1, 7:] = [0.75, 0.5, 0.5, 0.45, 0.3, 0.2, 0.8]
    return y_pred


# Image 0: coords 5 * (0.25^2 + (ln 0.5 - ln 0.25)^2); confidence (0.3 - 0.5)^2; classes 0.2^2 + 0.2^2 (anchor
# 1's only); anchor 0 of the cell 0.5 * 0.6^2; the 3 empty cells 3 * 2 * 0.5 * 0.2^2. Image 1: 4 * 2 * 0.5 * 0.04.
COORDS = 0.0625 + math.log(2.0) ** 2
IMAGE_0 = 5 * COORDS + 0.04 + 0.08 + 0.18 + 0.12
IMAGE_1 = 0.16


def value(loss, y_pred=None, y_true=Y_TRUE):
    return float(ops.convert_to_numpy(loss(y_true, prediction() if y_pred is None else y_pred)))


def test_anchor_loss_matches_the_hand_computed_value():
    assert value(YoloLoss(num_classes=2, anchors=ANCHORS)) == pytest.approx((IMAGE_0 + IMAGE_1) / 2, rel=1e-6)


def test_the_responsible_anchor_is_chosen_by_shape_not_by_the_prediction():
    # Swapping the anchors' order swaps which block is responsible: the same loss with the blocks swapped.
    y_pred = prediction()
    y_pred[..., :7], y_pred[..., 7:] = prediction()[..., 7:], prediction()[..., :7]
    swapped = YoloLoss(num_classes=2, anchors=ANCHORS[::-1])
    assert value(swapped, y_pred) == pytest.approx((IMAGE_0 + IMAGE_1) / 2, rel=1e-6)


def test_ignore_iou_rescore_and_lambdas():
    # Anchor 0's box overlaps the object with IoU 1 > 0.6: no no-object term for it.
    ignoring = YoloLoss(num_classes=2, anchors=ANCHORS, ignore_iou=0.6)
    assert value(ignoring) == pytest.approx((IMAGE_0 - 0.18 + IMAGE_1) / 2, rel=1e-6)
    fixed = YoloLoss(num_classes=2, anchors=ANCHORS, rescore=False)
    assert value(fixed) == pytest.approx((IMAGE_0 - 0.04 + 0.49 + IMAGE_1) / 2, rel=1e-6)
    plain = YoloLoss(num_classes=2, anchors=ANCHORS, lambda_coord=1.0, lambda_noobj=1.0)
    expected = COORDS + 0.04 + 0.08 + 0.36 + 0.24 + 0.32
    assert value(plain) == pytest.approx(expected / 2, rel=1e-6)


def test_gradients_are_finite_and_config_round_trips():
    loss = YoloLoss(num_classes=2, anchors=ANCHORS, ignore_iou=0.6)
    y_pred = tf.Variable(prediction())
    with tf.GradientTape() as tape:
        total = loss(Y_TRUE, y_pred)
    gradient = tape.gradient(total, y_pred).numpy()
    assert np.all(np.isfinite(gradient)) and np.abs(gradient).sum() > 0
    # The log-space width of the responsible anchor: d/dw 5 * (ln w - ln 0.25)^2 / 2 images = 5 ln 2 / 0.5.
    assert gradient[0, 0, 1, 9] == pytest.approx(5 * math.log(2.0) / 0.5, rel=1e-5)
    config = loss.get_config()
    assert config["anchors"] == ANCHORS and config["boxes_per_cell"] == 2 and config["ignore_iou"] == 0.6
    assert YoloLoss.from_config(config).get_config() == config


def test_bad_anchor_arguments():
    with pytest.raises(ConfigError, match="boxes_per_cell=3 differs from the 2 anchors"):
        YoloLoss(num_classes=2, boxes_per_cell=3, anchors=ANCHORS)
    with pytest.raises(ConfigError, match="ignore_iou"):
        YoloLoss(num_classes=2, anchors=ANCHORS, ignore_iou=1.5)
    with pytest.raises(ShapeError, match="14 channels"):
        YoloLoss(num_classes=2, anchors=ANCHORS)(Y_TRUE, np.zeros((2, 2, 2, 12), "float32"))
