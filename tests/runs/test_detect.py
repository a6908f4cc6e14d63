"""`keras-nn detect` (keras_nn.runs.detect) on a generated video: the run's exported TFLite file through the edge
kit's front end, and the Keras model's `YOLO.detect` through the same frame loop."""

import cv2
import keras
import numpy as np
import pytest

import keras_nn
from keras_nn.cli import main
from keras_nn.config.export_plan import DetectorExport
from keras_nn.edge import contract
from keras_nn.export.pipeline import run_export
from keras_nn.export.settings import ExportSettings
from keras_nn.runs import RunDirectory

# The command over a video, end to end: the quick run leaves it out.
pytestmark = pytest.mark.slow

TINY = dict(num_classes=3, input_shape=(128, 128, 3), filters=(4, 4, 8, 8, 8, 8, 16, 8))
FRAMES, WIDTH, HEIGHT = 8, 96, 72
# Low enough for an untrained model's scores (about 0.5 x 1/3) to leave boxes to draw.
SCORE = 0.1


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("detect")
    keras.utils.set_random_seed(0)
    model = keras_nn.create_model("yolo_tiny", **TINY)
    run = RunDirectory(root / "run")
    run.root.mkdir()
    model.save(run.model)
    plan = DetectorExport(model, class_names=["circle", "square", "triangle"], score_threshold=SCORE, max_detections=10)
    run_export(plan, run.export, ExportSettings(formats=("tflite",)))
    video = root / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (WIDTH, HEIGHT))
    rng = np.random.default_rng(0)
    for _ in range(FRAMES):
        writer.write(rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8))
    writer.release()
    return {"run": run, "video": video}


def _frame_count(path):
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def test_detect_command_writes_annotated_video(run, tmp_path, capsys):
    out = tmp_path / "tflite.mp4"
    code = main(["detect", str(run["run"].root), "--source", str(run["video"]), "--output", str(out)])
    summary = capsys.readouterr().out
    assert code == 0
    assert _frame_count(out) == FRAMES and summary.startswith(f"{FRAMES} frames") and "FPS" in summary
    assert (run["run"].export / contract.LABELS_FILE).read_text().splitlines()[0] == "circle"

    # The Keras model through the same loop finds the same boxes on the same frames as the exported file.
    out_keras = tmp_path / "keras.mp4"
    code = main(
        ["detect", str(run["run"].root), "--source", str(run["video"]), "--output", str(out_keras),
         "--format", "keras", "--score-threshold", str(SCORE), "--iou-threshold", "0.5"]
    )
    keras_summary = capsys.readouterr().out
    assert code == 0 and _frame_count(out_keras) == FRAMES
    detections = [int(line.split(" detections")[0].split()[-1]) for line in (summary, keras_summary)]
    assert detections[0] == detections[1] > 0

    # Bad input: one line, exit 2, nothing written.
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    before = sorted(p.name for p in tmp_path.iterdir())
    cases = [
        (["--source", str(tmp_path / "missing.mp4"), "--output", str(tmp_path / "x.mp4")], "source not found"),
        (["--source", str(broken), "--output", str(tmp_path / "x.mp4")], "cannot open video"),
        (["--source", "9", "--output", str(tmp_path / "x.mp4")], "webcam index 9 is not there"),
        (["--source", str(run["video"]), "--output", str(out)], "already exists"),
        (["--source", str(run["video"]), "--output", str(tmp_path / "x.mp4"), "--format", "onnx"], "no model.onnx"),
        (["--source", str(run["video"]), "--output", str(tmp_path / "x.mp4"), "--iou-threshold", "0.3"], "--format keras only"),
    ]
    for args, message in cases:
        assert main(["detect", str(run["run"].root), *args]) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("keras-nn: error:") and message in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
