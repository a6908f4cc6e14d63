"""The detector export (keras_nn.export.exporters.detector): decoding and NMS inside every file, checked
against `YOLO.detect` in each file's own runtime (the edge kit's runner for TFLite and ONNX)."""

import json

import keras
import numpy as np
import pytest

import keras_nn
from keras_nn.config.export_plan import DetectorExport
from keras_nn.edge import contract
from keras_nn.edge.operators import operators
from keras_nn.edge.run_detector import DetectorRunner
from keras_nn.errors import ConfigError, ShapeError
from keras_nn.export.exporters import DetectorExporter, exporter_for
from keras_nn.export.pipeline import run_export
from keras_nn.export.settings import ExportSettings

# Exports written and run in TFLite, ONNX Runtime and TensorFlow: end to end, so the quick run leaves them out.
pytestmark = pytest.mark.slow

TINY = dict(num_classes=3, input_shape=(128, 128, 3), filters=(4, 4, 8, 8, 8, 8, 16, 8))
NAMES = ["circle", "square", "triangle"]
# An untrained model's scores are about confidence 0.5 x class probability 1/3; a low threshold keeps some, and
# with a 2x2 grid of 2 boxes (8 candidates) every count is below MAX_DETECTIONS, so padding is exercised.
SETTINGS = dict(score_threshold=0.1, iou_threshold=0.5, max_detections=10)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = keras_nn.create_model("yolo_tiny", **TINY)
    images = np.random.default_rng(0).random((6, 128, 128, 3), dtype=np.float32)
    plan = DetectorExport(model, representative_data=images, verify_images=images, class_names=NAMES, **SETTINGS)
    export_dir = tmp_path_factory.mktemp("detector") / "export"
    report = run_export(plan, export_dir, ExportSettings(quantize=("int8",), benchmark_runs=5))
    reference = model.detect(images, **SETTINGS)
    reference = {k: keras.ops.convert_to_numpy(v) for k, v in reference.items()}
    return {"model": model, "images": images, "dir": export_dir, "report": report, "reference": reference}


def test_plan_picks_the_detector_exporter():
    assert isinstance(exporter_for(DetectorExport(model=None)), DetectorExporter)


def test_files_labels_and_notes(exported):
    folder = exported["dir"]
    names = {p.name for p in folder.iterdir()}
    assert {contract.SAVED_MODEL_DIR, contract.tflite_file(), contract.tflite_file("int8"), contract.ONNX_FILE} <= names
    assert (folder / contract.LABELS_FILE).read_text().splitlines() == NAMES
    assert "decoding and non-max suppression are inside" in (folder / contract.NOTES_FILE).read_text()
    parity = json.loads((folder / contract.PARITY_FILE).read_text())
    assert [row["format"] for row in parity] == ["savedmodel", "tflite-float32", "tflite-int8", "onnx"]
    latency = json.loads((folder / contract.LATENCY_FILE).read_text())
    assert len(latency) == 4 and all(row["median_ms"] > 0 for row in latency)


@pytest.mark.parametrize("name", [contract.tflite_file(), contract.ONNX_FILE])
def test_float_files_match_yolo_detect(exported, name):
    runner = DetectorRunner(str(exported["dir"] / name))
    assert runner.input_size == (128, 128)
    reference = exported["reference"]
    assert reference["count"].min() > 0 and reference["count"].max() < SETTINGS["max_detections"]
    for i, image in enumerate(exported["images"]):
        found = runner(image[None])
        assert found["classes"].dtype == np.int32 and found["count"].dtype == np.int32
        assert found["boxes"].shape == (1, SETTINGS["max_detections"], 4)
        # The count from the NMS kernel's valid_outputs: TFLite's NMS returns max_output_size indices.
        assert found["count"][0] == reference["count"][i]
        np.testing.assert_array_equal(found["classes"][0], reference["classes"][i])
        np.testing.assert_allclose(found["boxes"][0], reference["boxes"][i], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(found["scores"][0], reference["scores"][i], rtol=1e-4, atol=1e-6)


def test_parity_rows(exported):
    rows = {row["format"]: row for row in exported["report"].parity}
    for fmt in ("savedmodel", "tflite-float32", "onnx"):
        row = rows[fmt]
        assert row["within_tolerance"], row
        assert row["count_agreement"] == row["class_agreement"] == row["matched_fraction"] == 1.0
        assert row["boxes_max_relative_error"] <= 1e-4 and row["detections"] == exported["reference"]["count"].sum()
    int8 = rows["tflite-int8"]
    # Reported as measured, against its own tolerance; an untrained model's close scores may reorder slots.
    assert int8["tolerance"] == 0.05 and isinstance(int8["within_tolerance"], bool)
    assert 0.0 <= int8["matched_fraction"] <= 1.0


def test_builtin_ops_only_and_nms_inside(exported):
    folder = exported["dir"]
    for name in (contract.tflite_file(), contract.tflite_file("int8")):
        ops = operators(str(folder / name))
        assert "NON_MAX_SUPPRESSION_V5" in ops and not any(op.startswith("Flex") for op in ops), ops
    assert "CONV_2D" in operators(str(folder / contract.tflite_file("int8")))
    assert "QUANTIZE" in operators(str(folder / contract.tflite_file("int8")))
    assert "NonMaxSuppression" in operators(str(folder / contract.ONNX_FILE))


def test_int8_file_runs_with_float_io(exported):
    runner = DetectorRunner(str(exported["dir"] / contract.tflite_file("int8")))
    found = runner(exported["images"][:1])
    assert found["boxes"].dtype == np.float32 and found["scores"].dtype == np.float32
    count = int(found["count"][0])
    assert 0 < count < SETTINGS["max_detections"]
    assert np.all((found["boxes"][0, :count] >= 0) & (found["boxes"][0, :count] <= 1))


def test_bad_plans_fail_before_writing(exported, tmp_path):
    model, images = exported["model"], exported["images"]
    cases = [
        (DetectorExport(model, verify_images=images), ExportSettings(quantize=("int8",)), ConfigError, "representative_data"),
        (DetectorExport(model, class_names=["a"]), ExportSettings(), ConfigError, "1 names but the model has 3"),
        (DetectorExport(model, verify_images=images[:, :64]), ExportSettings(), ShapeError, "128, 128, 3"),
        (DetectorExport(model, iou_threshold=2.0), ExportSettings(), ConfigError, "iou_threshold"),
    ]
    for plan, settings, error, message in cases:
        with pytest.raises(error, match=message):
            run_export(plan, tmp_path / "export", settings)
    assert list(tmp_path.iterdir()) == []


def test_an_anchors_model_exports_with_its_anchor_decoding(tmp_path):
    # YOLO v2-style anchors: the exporter builds its YoloDecoder from the model's anchors; float files match
    # model.detect, every TFLite file keeps builtin ops only (int8 included) and ONNX has NonMaxSuppression.
    keras.utils.set_random_seed(1)
    model = keras_nn.create_model("yolo_tiny", **TINY, anchors=[[0.1, 0.1], [0.3, 0.4], [0.7, 0.6]])
    images = np.random.default_rng(1).random((4, 128, 128, 3), dtype=np.float32)
    plan = DetectorExport(model, representative_data=images, verify_images=images, class_names=NAMES, **SETTINGS)
    report = run_export(
        plan, tmp_path / "export", ExportSettings(formats=("tflite", "onnx"), quantize=("int8",), benchmark_runs=2)
    )
    rows = {row["format"]: row for row in report.parity}
    reference = model.detect(images, **SETTINGS)
    assert int(keras.ops.convert_to_numpy(reference["count"]).min()) > 0
    for fmt in ("tflite-float32", "onnx"):
        assert rows[fmt]["within_tolerance"] and rows[fmt]["matched_fraction"] == 1.0, rows[fmt]
        assert rows[fmt]["boxes_max_relative_error"] <= 1e-4
    for name in (contract.tflite_file(), contract.tflite_file("int8")):
        ops = operators(str(tmp_path / "export" / name))
        assert "NON_MAX_SUPPRESSION_V5" in ops and not any(op.startswith("Flex") for op in ops), ops
    assert "NonMaxSuppression" in operators(str(tmp_path / "export" / contract.ONNX_FILE))
    runner = DetectorRunner(str(tmp_path / "export" / contract.tflite_file()))
    np.testing.assert_allclose(
        runner(images[:1])["boxes"][0], keras.ops.convert_to_numpy(reference["boxes"])[0], rtol=1e-4, atol=1e-6
    )
