import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_nn.errors import ShapeError
from keras_nn.losses import YoloLoss

# S = 2, B = 2, C = 2. One object, class 1, centered in cell (row 0, column 1): (0.5, 0.5) in the cell, 0.25 x 0.25.
Y_TRUE = np.zeros((2, 2, 2, 7), "float32")
Y_TRUE[0, 0, 1] = [1, 0.5, 0.5, 0.25, 0.25, 0, 1]


def prediction(swap=False):
    y_pred = np.zeros((2, 2, 2, 12), "float32")
    y_pred[..., 4] = y_pred[..., 9] = 0.2  # every confidence 0.2
    y_pred[..., 10:] = 0.5
    # Box 0: center 0.25 cell to the right (0.125 of the image), right size: IoU (0.125 * 0.25) / (2 * 0.0625 -
    # 0.03125) = 1/3. Box 1: right center, a quarter of the side: IoU 0.0625. Box 0 is responsible.
    boxes = [[0.75, 0.5, 0.5, 0.5, 0.6], [0.5, 0.5, 0.25, 0.25, 0.3]]
    if swap:
        boxes = boxes[::-1]
    y_pred[0, 0, 1, :10] = boxes[0] + boxes[1]
    y_pred[0, 0, 1, 10:] = [0.4, 0.6]
    return y_pred


# Image 0: coords 5 * 0.25^2; confidence (0.6 - 1/3)^2; the other box 0.5 * 0.3^2; classes 0.4^2 + 0.4^2;
# the 3 empty cells 3 * 2 * 0.5 * 0.2^2. Image 1 (no object): 4 * 2 * 0.5 * 0.2^2.
IMAGE_0 = 5 * 0.0625 + (0.6 - 1 / 3) ** 2 + 0.5 * 0.09 + 0.32 + 0.12
IMAGE_1 = 0.16


def value(loss, y_pred, y_true=Y_TRUE):
    return float(ops.convert_to_numpy(loss(y_true, y_pred)))


def test_loss_matches_the_hand_computed_value():
    assert value(YoloLoss(num_classes=2), prediction()) == pytest.approx((IMAGE_0 + IMAGE_1) / 2, rel=1e-6)


def test_the_responsible_box_is_chosen_by_iou_not_position():
    assert value(YoloLoss(num_classes=2), prediction(swap=True)) == pytest.approx((IMAGE_0 + IMAGE_1) / 2, rel=1e-6)


def test_lambda_terms_and_rescore():
    expected = 0.0625 + (0.6 - 1 / 3) ** 2 + 0.09 + 0.32 + 0.24 + 0.32
    loss = YoloLoss(num_classes=2, lambda_coord=1.0, lambda_noobj=1.0)
    assert value(loss, prediction()) == pytest.approx(expected / 2, rel=1e-6)
    fixed_target = IMAGE_0 - (0.6 - 1 / 3) ** 2 + (0.6 - 1.0) ** 2
    assert value(YoloLoss(num_classes=2, rescore=False), prediction()) == pytest.approx((fixed_target + IMAGE_1) / 2)


def test_two_objects_and_gradients_are_finite():
    y_true = Y_TRUE.copy()
    y_true[1, 1, 0] = [1, 0.2, 0.9, 0.5, 0.1, 1, 0]
    y_pred = prediction()
    # Image 1's object (cell (1, 0), 0.5 x 0.1 at (0.2, 0.9) in the cell) against two 0 x 0 boxes at (0, 0) of
    # confidence 0.2 (IoU 0 each: box 0 is responsible, target 0) and class probabilities (0.5, 0.5). Box 0's
    # no-object term (0.5 * 0.2^2, counted in IMAGE_1) becomes its coordinate and confidence terms.
    coordinates = 5 * (0.2**2 + 0.9**2 + 0.5 + 0.1)
    extra = coordinates + 0.2**2 - 0.5 * 0.2**2 + (0.5**2 + 0.5**2)
    expected = (IMAGE_0 + IMAGE_1 + extra) / 2
    assert value(YoloLoss(num_classes=2), y_pred, y_true) == pytest.approx(expected, rel=1e-6)
    variable = keras.Variable(y_pred)
    with tf.GradientTape() as tape:
        result = YoloLoss(num_classes=2)(y_true, variable)
    assert np.isfinite(tape.gradient(result, variable).numpy()).all()


def test_config_round_trip_and_bad_shapes():
    loss = YoloLoss(num_classes=3, boxes_per_cell=1, lambda_coord=2.0, rescore=False)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is YoloLoss and restored.get_config() == loss.get_config()
    with pytest.raises(ShapeError, match="8 channels"):
        loss(np.zeros((1, 2, 2, 8), "float32"), np.zeros((1, 2, 2, 9), "float32"))
