"""YOLO with anchor priors (YOLO v2 style): the per-anchor grid, a .keras round trip that keeps the anchors,
training with the anchor loss, and detect()."""

import keras
import numpy as np
import pytest
from keras import ops
from testing_utils import run_model_test

import keras_nn
from keras_nn.errors import ConfigError
from keras_nn.losses import YoloLoss

ANCHORS = [[0.1, 0.15], [0.3, 0.3], [0.6, 0.5]]
TINY = dict(num_classes=2, input_shape=(64, 64, 3), filters=(4, 4, 8, 8, 8, 8, 16, 8), pools=5, anchors=ANCHORS)
RNG = np.random.default_rng(0)
IMAGES = RNG.random((2, 64, 64, 3), dtype=np.float32)


def anchors_model():
    return keras_nn.create_model("yolo_tiny", **TINY)


def test_anchor_yolo_shared_checks():
    # 64x64 with stride 32: a 2x2 grid of 3 anchors x (5 + 2) channels; the checks include a .keras round trip.
    targets = np.zeros((2, 2, 2, 7), "float32")
    targets[0, 1, 0] = [1, 0.3, 0.6, 0.25, 0.3, 1, 0]
    targets[1, 0, 1] = [1, 0.5, 0.5, 0.5, 0.4, 0, 1]
    run_model_test(
        anchors_model, IMAGES, (2, 2, 2, 21), targets=targets, loss=YoloLoss(num_classes=2, anchors=ANCHORS),
        run_mixed_precision_check=False, run_jit_compile_check=False,
    )


def test_anchors_survive_a_keras_file_and_detect_decodes_them(tmp_path):
    model = anchors_model()
    assert model.boxes_per_cell == 3 and model.get_config()["boxes_per_cell"] == 3
    model.save(tmp_path / "anchors.keras")
    reloaded = keras.saving.load_model(tmp_path / "anchors.keras")
    assert reloaded.anchors == model.anchors == tuple(tuple(pair) for pair in ANCHORS)
    assert reloaded.get_layer("yolo_head").anchors == model.anchors
    detections = reloaded.detect(IMAGES, score_threshold=0.0, max_detections=5)
    expected = model.detect(IMAGES, score_threshold=0.0, max_detections=5)
    for key in ("boxes", "scores", "classes", "count"):
        np.testing.assert_allclose(ops.convert_to_numpy(detections[key]), ops.convert_to_numpy(expected[key]), atol=1e-6)
    # The best candidate of each image is one of the 12 decoded by the anchor layout (not YOLO v1's squares).
    grid = ops.convert_to_numpy(model(IMAGES))
    blocks = grid.reshape(2, 2, 2, 3, 7)
    best = ops.convert_to_numpy(expected["boxes"])[:, 0]
    for image in range(2):
        candidates = []
        for row in range(2):
            for column in range(2):
                for x, y, w, h in blocks[image, row, column, :, :4]:
                    cx, cy = (column + x) / 2, (row + y) / 2
                    candidates.append(np.clip([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 0, 1))
        assert np.min(np.abs(np.array(candidates) - best[image]).max(axis=1)) < 1e-6


def test_yolo_v1_is_unchanged_and_bad_anchor_settings_fail():
    v1 = keras_nn.create_model("yolo_tiny", **{**TINY, "anchors": None})
    assert v1.anchors is None and v1.boxes_per_cell == 2 and v1.output_shape == (None, 2, 2, 12)
    assert v1.get_config()["boxes_per_cell"] == 2 and v1.get_config()["anchors"] is None
    with pytest.raises(ConfigError, match="boxes_per_cell=2 differs from the 3 anchors"):
        keras_nn.create_model("yolo_tiny", boxes_per_cell=2, **TINY)
    with pytest.raises(ConfigError, match="anchors="):
        keras_nn.create_model("yolo_tiny", **{**TINY, "anchors": [[0.1, 2.0]]})
