"""The detection task: a short run on generated scenes whose mAP is recomputed independently, its report and
export; bad recipes exit 2 before anything is written."""

import json

import numpy as np
import pytest

from keras_nn.cli import main
from keras_nn.metrics import coco_evaluation
from keras_nn.runs import load_recipe
from keras_nn.runs import train_run as train

# A detector small enough to train in seconds: 32x32 scenes, darknet_tiny at 8x8 widths with 3 pools (4x4 grid).
TINY = [
    "data.image_size=[32,32]", "data.batch_size=16",
    "task_options.scenes={train: 96, validation: 16, test: 24}", "task_options.report_images=4",
    "model.filters=[8,8,8,8,8,8,16,8]", "model.pools=3", "training.epochs=2",
    "export.formats=[tflite]", "export.quantize=[]", "export.verify_samples=8", "export.representative_samples=8",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("detection") / "run"
    return train(load_recipe("detection", TINY), root, verbose=0), root


@pytest.mark.slow
def test_map_is_pycocotools_on_the_models_own_detections(run):
    result, _ = run
    images, boxes = result.data.as_numpy("test")
    assert images.shape == (24, 32, 32, 3) and boxes.shape[1:] == (20, 5)
    # The task's defaults: every detection scoring >= 0.001 (as COCO evaluates), NMS at IoU 0.5.
    detections = result.model.detect(images, score_threshold=0.001, iou_threshold=0.5, max_detections=100)
    expected = coco_evaluation(
        boxes, {key: np.asarray(value) for key, value in detections.items()}, result.data.class_names, (32, 32)
    )
    metrics = result.metrics
    for key in ("map_50", "map_50_95", "map_75"):
        assert metrics[f"test_{key}"] == pytest.approx(expected[key], abs=1e-6), key
    assert set(metrics["test_per_class_ap_50"]) == set(result.data.class_names)
    assert metrics["expected"]["metric"] == "test_map_50"


@pytest.mark.slow
def test_the_run_reports_and_exports_a_detector(run):
    result, root = run
    for name in ("precision_recall.png", "detections.png", "curves.png", "model.keras", "report.md"):
        assert (root / name).is_file(), name
    assert json.loads((root / "classes.json").read_text()) == list(result.data.class_names)
    report = (root / "report.md").read_text()
    assert "mAP@[.5:.95]" in report and "## Export" in report
    for name in result.data.class_names:
        assert f"| {name} |" in report
    assert (root / "export" / "labels.txt").read_text().split() == list(result.data.class_names)
    parity = json.loads((root / "export" / "parity.json").read_text())
    tflite = next(row for row in parity if row["format"] == "tflite-float32")
    assert tflite["within_tolerance"] and tflite["flex_operators"] == []
    assert "NON_MAX_SUPPRESSION_V5" in tflite["operators"]
    # Each file's own mAP on the verify images, beside the Keras model's at the same thresholds.
    assert tflite["map_50"] == pytest.approx(tflite["keras_map_50"], abs=1e-9)


@pytest.mark.slow
def test_auto_anchors_are_kmeans_of_the_training_boxes_and_reach_the_model_file(tmp_path):
    import keras

    from keras_nn.data.detection import kmeans_anchors

    root = tmp_path / "run"
    sets = [*TINY, "training.epochs=1", "task_options.anchors=auto", "task_options.num_anchors=3"]
    result = train(load_recipe("detection", sets), root, verbose=0)
    _, boxes = result.data.as_numpy("train")
    expected = [[round(w, 6), round(h, 6)] for w, h in kmeans_anchors(boxes, 3, seed=0)]
    assert [list(pair) for pair in result.model.anchors] == expected
    assert result.model.output_shape == (None, 4, 4, 3 * (5 + result.data.num_classes))
    assert keras.saving.load_model(root / "model.keras").get_config()["anchors"] == expected
    parity = json.loads((root / "export" / "parity.json").read_text())
    assert next(row for row in parity if row["format"] == "tflite-float32")["within_tolerance"]


@pytest.mark.parametrize(
    ("sets", "words"),
    [
        (["model.name=simple_cnn"], ("not a detector", "yolo_tiny")),
        (["model.num_classes=7"], ("model.num_classes=7 differs from the data's 4",)),
        (["task_options.on_bad_labels=ignore"], ("on_bad_labels", "error, skip")),
        (["task_options.anchors=kmeans"], ("task_options.anchors", "none, auto")),
        (["task_options.anchors=[[0.1, 0.1], [0.3]]"], ("task_options.anchors", "[w, h] pairs")),
        (["task_options.anchors=[[0.2, 0.2]]", "model.anchors=[[0.1, 0.1]]"], ("both set",)),
        (["data.source=dir:/nonexistent/folder"], ("/nonexistent/folder",)),
    ],
)
def test_a_bad_detection_recipe_exits_2_and_writes_nothing(capsys, tmp_path, sets, words):
    output = tmp_path / "run"
    argv = ["train", "detection", "--output", str(output)]
    for item in [*TINY, *sets]:
        argv += ["--set", item]
    assert main(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("keras-nn: error:")]
    assert len(lines) == 1
    for word in words:
        assert word in lines[0], lines[0]
    assert not output.exists()
