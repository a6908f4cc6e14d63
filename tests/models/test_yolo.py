import keras
import numpy as np
import pytest
from keras import ops
from testing_utils import run_model_test

import keras_nn
from keras_nn.errors import ConfigError, ShapeError
from keras_nn.losses import YoloLoss
from keras_nn.models import YOLO

TINY = dict(num_classes=3, input_shape=(128, 128, 3), filters=(4, 4, 8, 8, 8, 8, 16, 8))
RNG = np.random.default_rng(0)
IMAGES = RNG.random((2, 128, 128, 3), dtype=np.float32)


def grid_targets(batch, size, num_classes):
    """One object per image in a random cell: (1, x, y, w, h, one-hot class)."""
    targets = np.zeros((batch, size, size, 5 + num_classes), "float32")
    for image in range(batch):
        row, column = RNG.integers(0, size, 2)
        targets[image, row, column, :5] = [1, *RNG.uniform(0.1, 0.9, 2), *RNG.uniform(0.1, 0.6, 2)]
        targets[image, row, column, 5 + RNG.integers(num_classes)] = 1
    return targets


def test_tiny_darknet_yolo_shared_checks():
    # 64x64 with stride 64: a 1x1 grid keeps the XLA and mixed-precision checks short.
    run_model_test(
        lambda: keras_nn.create_model("yolo_tiny", **{**TINY, "input_shape": (64, 64, 3)}),
        IMAGES[:, :64, :64],
        (2, 1, 1, 13),
        targets=grid_targets(2, 1, 3),
        loss=YoloLoss(num_classes=3),
    )


@pytest.mark.parametrize(
    "name, expected, trainable",
    [
        ("yolo_tiny", 8_666_510, 8_661_934),
        ("yolo_mobilenet_v2", 5_215_838, 5_181_214),
        ("yolo_resnet18", 12_374_494, 12_364_382),
        ("yolo_resnet50", 33_042_334, 32_988_190),
    ],
)
def test_registered_parameter_counts(name, expected, trainable):
    # Convolutional throughout: the counts do not depend on the input size, so build at the smallest.
    model = keras_nn.create_model(name, input_shape=(64, 64, 3) if name == "yolo_tiny" else (32, 32, 3))
    assert model.count_params() == expected
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == trainable
    assert (model.boxes_per_cell, model.num_classes) == (2, 20)


def test_darknet_tiny_stack_and_paper_grid():
    # darknet's yolov1-tiny.cfg: 8 3x3 convolutions without bias (batch norm), 6 stride-2 pools.
    backbone = keras_nn.create_model("yolo_tiny", input_shape=(64, 64, 3)).get_layer("backbone")
    kernels = [w.shape for w in backbone.weights if w.path.endswith("kernel")]
    widths = [3, 16, 32, 64, 128, 256, 512, 1024, 256]
    assert kernels == [(3, 3, widths[i], widths[i + 1]) for i in range(8)]
    assert sum(int(np.prod(k)) for k in kernels) == 8_649_648
    connected = 7 * 7 * 256 * 1470 + 1470  # darknet's [connected] head, for the docstring's comparison
    assert connected == 18_441_150
    # 448 / 64 = 7, the paper's S; checked on the symbolic graph (no 448x448 forward pass).
    model = YOLO(input_shape=(448, 448, 3), filters=(2, 2, 2, 2, 2, 2, 2, 2))
    assert model.grid_size == 7 and model.image_size == (448, 448) and model.output_shape == (None, 7, 7, 30)


def test_detect_returns_the_nms_dict():
    model = keras_nn.create_model("yolo_tiny", **TINY)
    detections = model.detect(IMAGES, score_threshold=0.0, max_detections=5)
    assert {k: tuple(v.shape) for k, v in detections.items()} == {
        "boxes": (2, 5, 4),
        "scores": (2, 5),
        "classes": (2, 5),
        "count": (2,),
    }
    # Score threshold 0: every image keeps at least its best candidate; scores are sorted.
    scores = ops.convert_to_numpy(detections["scores"])
    assert (ops.convert_to_numpy(detections["count"]) >= 1).all()
    assert (np.diff(scores, axis=1) <= 0).all()
    nothing = model.detect(IMAGES, score_threshold=0.99, max_detections=5)
    assert not ops.convert_to_numpy(nothing["count"]).any()


@pytest.mark.parametrize(
    "backbone, arguments, size",
    [
        ("mobilenet_v2", {"alpha": 0.35}, 64),
        ("resnet18", {"filters": [4, 4, 8, 8], "stem_filters": 4}, 64),
        ("resnet50", {"filters": [4, 4, 4, 4], "stem_filters": 4, "blocks": [1, 1, 1, 1]}, 96),
    ],
)
def test_registry_backbones_build_small(backbone, arguments, size):
    model = keras_nn.create_model(
        f"yolo_{backbone}", num_classes=3, input_shape=(size, size, 3), backbone_arguments=arguments, head_filters=[8]
    )
    grid = ops.convert_to_numpy(model(RNG.random((1, size, size, 3), dtype=np.float32)))
    assert grid.shape == (1, size // 32, size // 32, 13) and model.grid_size == size // 32
    assert ((grid >= 0) & (grid <= 1)).all()
    np.testing.assert_allclose(grid[..., 10:].sum(-1), 1.0, rtol=1e-5)
    reloaded = YOLO.from_config(model.get_config())
    assert reloaded.get_config() == model.get_config()


def test_freezing_the_backbone_survives_a_round_trip(tmp_path):
    model = keras_nn.create_model("yolo_tiny", freeze_backbone=True, **TINY)
    backbone = model.get_layer("backbone")
    assert backbone.weights and not backbone.trainable_weights
    assert len(model.trainable_weights) == 2  # the head's kernel and bias
    before = [w.copy() for w in backbone.get_weights()]
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=YoloLoss(num_classes=3))
    model.fit(IMAGES, grid_targets(2, 2, 3), epochs=2, verbose=0)
    for old, new in zip(before, backbone.get_weights(), strict=True):
        np.testing.assert_array_equal(new, old)
    model.save(tmp_path / "frozen.keras")
    reloaded = keras.saving.load_model(tmp_path / "frozen.keras")
    assert not reloaded.get_layer("backbone").trainable_weights
    model.get_layer("backbone").trainable = True  # fine-tuning's second phase
    assert YOLO.from_config(model.get_config()).get_layer("backbone").trainable_weights


def test_weights_path_loads_a_backbone(tmp_path):
    source = keras_nn.create_model(
        "resnet18", include_top=False, input_shape=(64, 64, 3), filters=(4, 4, 8, 8), stem_filters=4
    )
    path = tmp_path / "resnet18.weights.h5"
    source.save_weights(path)
    model = keras_nn.create_model(
        "yolo_resnet18",
        num_classes=3,
        input_shape=(64, 64, 3),
        backbone_arguments={"filters": [4, 4, 8, 8], "stem_filters": 4},
        weights=str(path),
        freeze_backbone=True,
    )
    for expected, loaded in zip(source.get_weights(), model.get_layer("backbone").get_weights(), strict=True):
        np.testing.assert_array_equal(loaded, expected)
    images = RNG.random((1, 64, 64, 3), dtype=np.float32)
    np.testing.assert_allclose(model.get_layer("backbone")(images), source(images), atol=1e-6)
    assert model.get_config()["weights"] is None


def test_bad_configurations():
    with pytest.raises(ShapeError, match="multiple of 64"):
        YOLO(input_shape=(100, 100, 3))
    with pytest.raises(ShapeError, match="multiple of 32"):
        YOLO(backbone="resnet18", input_shape=(64, 96, 3))
    with pytest.raises(ConfigError, match="backbone='vgg16'"):
        YOLO(backbone="vgg16")
    with pytest.raises(ConfigError, match="must give 8 widths"):
        YOLO(input_shape=(64, 64, 3), filters=(4, 4))
