"""Tests for the edge kit's detector front end, export/run_detector.py (keras_nn.edge.run_detector).

A toy detector written with TensorFlow here (a fixed 4x4 grid of candidate boxes scored by each cell's mean
colour, through the NMS kernel) is converted to TFLite and ONNX like keras-nn's detector export, and run on
generated videos and images. Its detections are known: a coloured square fills a cell, the box is that cell,
and the class is the square's strongest RGB channel, so a frame that reached the model as BGR shows up as the
wrong class. The command-line runs happen in a copy of the kit where TensorFlow and keras_nn cannot be imported.
"""

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tensorflow as tf
from edge_kit_utils import copy_device_kit, run_kit_script

from keras_nn.edge import contract
from keras_nn.edge.operators import operators
from keras_nn.edge.run_detector import DetectorRunner, detect_stream, preprocess, run_detector

SIZE, GRID, MAX_DETECTIONS = 32, 4, 6
CLASS_NAMES = ["red", "green", "blue"]
FRAME_W, FRAME_H, FRAMES = 64, 48, 10
# BGR colours (OpenCV order) and the class the toy detector gives them (their RGB channel).
RED, BLUE = (0, 0, 255), (150, 0, 0)  # scores about 1.0 and 0.59


def toy_detector_function(score_threshold=0.3):
    """`image [1, SIZE, SIZE, 3] -> boxes, scores, classes, count`: each cell of a GRID x GRID grid is a
    candidate box scored by the highest mean channel inside it, of that channel's class."""
    cell = 1.0 / GRID
    ys, xs = np.meshgrid(np.arange(GRID), np.arange(GRID), indexing="ij")
    corners = np.stack([xs * cell, ys * cell, (xs + 1) * cell, (ys + 1) * cell], -1).reshape(-1, 4)

    @tf.function(input_signature=[tf.TensorSpec((1, SIZE, SIZE, 3), tf.float32, name=contract.DETECTOR_INPUT)])
    def detect(image):
        # Made inside the function: a tensor captured from outside would become a second ONNX input.
        candidates = tf.constant(corners.astype(np.float32))
        means = tf.reshape(tf.nn.avg_pool2d(image, SIZE // GRID, SIZE // GRID, "VALID"), (GRID * GRID, 3))
        scores = tf.reduce_max(means, -1)
        classes = tf.cast(tf.argmax(means, -1), tf.int32)
        indices, selected, count = tf.raw_ops.NonMaxSuppressionV5(
            boxes=candidates, scores=scores, max_output_size=MAX_DETECTIONS, iou_threshold=0.5,
            score_threshold=score_threshold, soft_nms_sigma=0.0, pad_to_max_output_size=True,
        )
        valid = tf.range(MAX_DETECTIONS) < count
        return {
            "boxes": tf.where(valid[:, None], tf.gather(candidates, indices), 0.0)[None],
            "scores": tf.where(valid, selected, 0.0)[None],
            "classes": tf.where(valid, tf.gather(classes, indices), 0)[None],
            "count": tf.reshape(count, [1]),
        }

    return detect


def _frame(index):
    """A BGR frame: a red square on the cell (column 1, row 1) of the 4x4 grid, a blue one on (3, 2) in
    even frames only."""
    frame = np.full((FRAME_H, FRAME_W, 3), 20, np.uint8)
    cw, ch = FRAME_W // GRID, FRAME_H // GRID
    frame[ch : 2 * ch, cw : 2 * cw] = RED
    if index % 2 == 0:
        frame[2 * ch : 3 * ch, 3 * cw : 4 * cw] = BLUE
    return frame


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("detector")
    detect = toy_detector_function()
    module = tf.Module()
    module.detect = detect
    tf.saved_model.save(module, str(root / "saved_model"), signatures=detect.get_concrete_function())
    export = root / "export"
    export.mkdir()
    converter = tf.lite.TFLiteConverter.from_saved_model(str(root / "saved_model"))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    (export / contract.tflite_file()).write_bytes(converter.convert())
    import tf2onnx

    tf2onnx.convert.from_function(
        detect, input_signature=detect.input_signature, opset=17, output_path=str(export / contract.ONNX_FILE)
    )
    (export / contract.LABELS_FILE).write_text("\n".join(CLASS_NAMES) + "\n")

    video = root / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (FRAME_W, FRAME_H))
    for i in range(FRAMES):
        writer.write(_frame(i))
    writer.release()
    images = root / "images"
    images.mkdir()
    for i in range(3):
        cv2.imwrite(str(images / f"shot_{i}.png"), _frame(i))
    (images / "notes.txt").write_text("not an image")
    return {
        "root": root,
        "detect": detect,
        "tflite": export / contract.tflite_file(),
        "onnx": export / contract.ONNX_FILE,
        "video": video,
        "images": images,
    }


@pytest.fixture(scope="module")
def device_kit(tmp_path_factory):
    return copy_device_kit(tmp_path_factory.mktemp("device"))


def _read_video(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_runner_matches_tensorflow(toy, fmt):
    runner = DetectorRunner(str(toy[fmt]), num_threads=1)
    assert runner.input_size == (SIZE, SIZE)
    ops = operators(str(toy[fmt]))
    assert ("NON_MAX_SUPPRESSION_V5" if fmt == "tflite" else "NonMaxSuppression") in ops, ops
    for i in range(2):
        image = preprocess(_frame(i), runner.input_size)
        expected = {k: v.numpy() for k, v in toy["detect"](tf.constant(image)).items()}
        found = runner(image)
        assert found["count"].tolist() == expected["count"].tolist() == [2 - i]
        np.testing.assert_array_equal(found["classes"], expected["classes"])
        np.testing.assert_allclose(found["boxes"], expected["boxes"], atol=1e-6)
        np.testing.assert_allclose(found["scores"], expected["scores"], atol=1e-6)


def test_video_in_annotated_video_out(toy, tmp_path):
    seen = []
    output = tmp_path / "out" / "annotated.mp4"
    summary = detect_stream(
        DetectorRunner(str(toy["tflite"])),
        (SIZE, SIZE),
        str(toy["video"]),
        str(output),
        CLASS_NAMES,
        on_frame=lambda index, detections: seen.append(detections),
    )
    frames = _read_video(output)
    assert len(frames) == FRAMES == summary["frames"]
    assert frames[0].shape == (FRAME_H, FRAME_W, 3)
    assert summary["detections"] == sum(len(d) for d in seen) == 15  # red in every frame, blue in every other
    assert 0 < summary["mean_latency_ms"] <= summary["p90_latency_ms"] and summary["fps"] > 0
    # The red square is class 0 (red) only if the frame reached the model as RGB; its box is its cell in pixels.
    red = seen[0][0]
    assert red["class"] == 0 and red["score"] > 0.9
    np.testing.assert_allclose(red["box"], (FRAME_W / 4, FRAME_H / 4, FRAME_W / 2, FRAME_H / 2), atol=1e-3)
    assert {d["class"] for d in seen[0]} == {0, 2} and [d["class"] for d in seen[1]] == [0]
    # Boxes and the FPS were drawn: the annotated frame differs from the source frame around the red box.
    source = _read_video(toy["video"])[0]
    assert np.abs(frames[0].astype(int) - source.astype(int)).max() > 100
    assert sorted(os.listdir(output.parent)) == ["annotated.mp4"]  # no staging left behind


def test_score_threshold_filters_drawn_detections(toy, tmp_path):
    summary = run_detector(str(toy["onnx"]), str(toy["video"]), str(tmp_path / "a.mp4"), score_threshold=0.8)
    # Only the red squares (about 1.0) are left; the blue ones (about 0.59) pass the model's 0.3 but not 0.8.
    assert summary["frames"] == FRAMES and summary["detections"] == FRAMES


@pytest.mark.parametrize("way", ["script", "package"])
def test_device_images_folder_in_images_out(toy, device_kit, tmp_path, way):
    output = tmp_path / "annotated"
    proc = run_kit_script(device_kit, "run_detector.py", toy["onnx"], "--source", toy["images"], "--output", output, way=way)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("3 frames") and "FPS" in proc.stdout and "5 detections" in proc.stdout
    assert sorted(os.listdir(output)) == ["shot_0.png", "shot_1.png", "shot_2.png"]
    annotated = cv2.imread(str(output / "shot_0.png"))
    assert annotated.shape == (FRAME_H, FRAME_W, 3)
    assert np.abs(annotated.astype(int) - _frame(0).astype(int)).max() > 100


def test_device_video_and_single_image(toy, device_kit, tmp_path):
    proc = run_kit_script(
        device_kit, "run_detector.py", toy["tflite"], "--source", toy["video"], "--output", tmp_path / "v.mp4",
        "--threads", "1", "--max-frames", "4",
    )
    assert proc.returncode == 0, proc.stderr
    assert len(_read_video(tmp_path / "v.mp4")) == 4 and proc.stdout.startswith("4 frames")
    # An image in, a folder out; a video out from an image works too.
    image = toy["images"] / "shot_1.png"
    proc = run_kit_script(device_kit, "run_detector.py", toy["tflite"], "--source", image, "--output", tmp_path / "one")
    assert proc.returncode == 0, proc.stderr
    assert os.listdir(tmp_path / "one") == ["shot_1.png"]


@pytest.mark.slow
def test_installed_module_runs(toy, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "keras_nn.edge.run_detector", str(toy["tflite"]), "--source", str(toy["video"]),
         "--output", str(tmp_path / "v.mp4")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(_read_video(tmp_path / "v.mp4")) == FRAMES


def test_device_bad_inputs_exit_2_and_write_nothing(toy, device_kit, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video" * 10)
    existing = tmp_path / "taken.mp4"
    existing.write_bytes(b"keep me")
    empty = tmp_path / "empty"
    empty.mkdir()
    junk = tmp_path / "junk.tflite"
    junk.write_text("not a model")
    cases = [
        (toy["tflite"], tmp_path / "missing.mp4", "source not found"),
        (toy["tflite"], broken, "cannot open video"),
        (toy["tflite"], "7", "webcam index 7 is not there"),
        (toy["tflite"], empty, "holds no images"),
        (tmp_path / "missing.tflite", toy["video"], "model file not found"),
        (junk, toy["video"], "cannot load"),
    ]
    before = sorted(os.listdir(tmp_path))
    for model, source, message in cases:
        proc = run_kit_script(device_kit, "run_detector.py", model, "--source", source, "--output", tmp_path / "out.mp4")
        assert proc.returncode == 2, (source, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("run_detector.py: error:") and message in lines[0], lines
        assert str(source) in lines[0] or str(model) in lines[0], lines
    proc = run_kit_script(device_kit, "run_detector.py", toy["tflite"], "--source", toy["video"], "--output", existing)
    assert proc.returncode == 2 and "already exists" in proc.stderr and str(existing) in proc.stderr
    assert existing.read_bytes() == b"keep me"
    assert sorted(os.listdir(tmp_path)) == before


def test_contract_detector_names():
    assert contract.DETECTOR_INPUT == "image"
    assert contract.DETECTOR_OUTPUTS == ("boxes", "scores", "classes", "count")
    assert contract.LABELS_FILE == "labels.txt"
