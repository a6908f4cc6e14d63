"""`keras-nn detect`: a detector run (or one exported or Keras file) over a video, webcam, image or image folder.

The exported files run in the edge kit's own front end (`keras_nn.edge.run_detector`), the one a device uses;
`format="keras"` sends the Keras model's `YOLO.detect` through the same frame loop, so the loop, the drawing and
the summary are written once.
"""

from pathlib import Path

import keras
import tensorflow as tf

from keras_nn.edge import edge_common
from keras_nn.edge.contract import DETECTOR_INPUT, LABELS_FILE, ONNX_FILE, tflite_file
from keras_nn.edge.run_detector import detect_stream, load_labels, run_detector
from keras_nn.errors import ConfigError, DataError, MissingPathError
from keras_nn.runs.load import load_model_file
from keras_nn.runs.run_directory import RunDirectory

DETECT_FORMATS = ("tflite", "onnx", "keras")
SUFFIX_FORMATS = {".tflite": "tflite", ".onnx": "onnx", ".keras": "keras"}


def resolve_detector(model, fmt=None):
    """`(path, format, labels path or None)` of what `keras-nn detect` runs.

    `model` is a run directory (its `export/` files or its `model.keras`), an export directory, or a
    `.tflite`, `.onnx` or `.keras` file; `fmt` (default: the file's own, `tflite` for a directory) picks among a
    directory's files.
    """
    model = Path(model)
    if fmt is not None and fmt not in DETECT_FORMATS:
        raise ConfigError(f"--format {fmt!r} is not allowed; choose one of: {', '.join(DETECT_FORMATS)}")
    if not model.exists():
        raise MissingPathError(f"{str(model)!r} does not exist; give a run directory or a .tflite, .onnx or .keras file")
    if model.is_file():
        own = SUFFIX_FORMATS.get(model.suffix)
        if own is None:
            raise ConfigError(f"{str(model)!r} is not a detector file; give a .tflite, .onnx or .keras file or a run directory")
        if fmt is not None and fmt != own:
            raise ConfigError(f"--format {fmt} does not fit {str(model)!r} (a {own} file); leave --format out")
        labels = model.parent / LABELS_FILE
        return model, own, labels if labels.is_file() else None
    fmt = fmt or "tflite"
    run = RunDirectory(model)
    # A run directory keeps its files in export/; an export directory holds them itself.
    export = run.export if run.export.is_dir() else model
    path = {"tflite": export / tflite_file(), "onnx": export / ONNX_FILE, "keras": run.model}[fmt]
    if not path.is_file():
        fix = "keras-nn export RUN_DIR" if fmt != "keras" else "train the run to the end"
        raise MissingPathError(f"{str(model)!r} has no {path.name} for --format {fmt}; {fix}, or pick another --format")
    labels = export / LABELS_FILE
    return path, fmt, labels if labels.is_file() else None


def keras_detector(model, score_threshold=None, iou_threshold=None):
    """`image [1, H, W, 3] -> detections as numpy` from a Keras YOLO model's `detect`, traced once."""
    settings = {}
    if score_threshold is not None:
        settings["score_threshold"] = score_threshold
    if iou_threshold is not None:
        settings["iou_threshold"] = iou_threshold
    height, width = model.image_size
    spec = tf.TensorSpec((1, height, width, 3), tf.float32, name=DETECTOR_INPUT)
    traced = tf.function(lambda image: model.detect(image, **settings), input_signature=[spec])

    def detect(image):
        return {name: keras.ops.convert_to_numpy(value) for name, value in traced(image).items()}

    return detect


def detect_source(
    model,
    source,
    output,
    fmt=None,
    score_threshold=None,
    iou_threshold=None,
    max_frames=None,
    num_threads=None,
):
    """Runs a detector over `source` and writes the annotated frames to `output` (`keras-nn detect`).

    Args:
        model: a detection run directory, an export directory, or a `.tflite`, `.onnx` or `.keras` file.
        source: a video file, an image, a folder of images, or a webcam index (`"0"`).
        output: a `.mp4` file or a folder (new).
        fmt: `tflite` (a directory's default), `onnx` or `keras`.
        score_threshold: keras: the NMS score threshold; exported files: hides detections below it (their own
            threshold, built in at export, applies first).
        iou_threshold: keras only: the NMS IoU threshold (an exported file's is built in).
        max_frames: stop after this many frames.
        num_threads: CPU threads for the TFLite or ONNX runtime.

    Returns:
        The edge kit's summary: `frames`, `mean_latency_ms`, `p90_latency_ms`, `fps`, `detections`, ...

    Raises:
        keras-nn usage errors (exit 2 from the CLI) for a missing file, a video that cannot be opened, a webcam
        index that is not there or an output that exists, before anything is written.
    """
    path, fmt, labels = resolve_detector(model, fmt)
    if iou_threshold is not None and fmt != "keras":
        raise ConfigError(
            f"--iou-threshold applies to --format keras only: {path.name}'s NMS has its IoU threshold built in "
            "at export; use --format keras, or export again with another threshold"
        )
    if Path(output).exists():
        raise ConfigError(f"output {output} already exists; remove it or give another --output")
    try:
        if fmt != "keras":
            return run_detector(
                str(path), str(source), str(output), labels=str(labels) if labels else None,
                score_threshold=score_threshold, num_threads=num_threads, max_frames=max_frames,
            )
        detector = load_model_file(path)
        if not hasattr(detector, "detect"):
            raise ConfigError(f"{str(path)!r} is not a detector (a model with `detect`); give a detection run")
        return detect_stream(
            keras_detector(detector, score_threshold, iou_threshold),
            detector.image_size,
            str(source),
            str(output),
            load_labels(str(labels)) if labels else [],
            max_frames=max_frames,
            model=str(path),
        )
    except FileNotFoundError as error:
        if isinstance(error, MissingPathError):
            raise
        raise MissingPathError(str(error)) from None
    except edge_common.EdgeKitUsageError as error:
        raise DataError(str(error)) from None
