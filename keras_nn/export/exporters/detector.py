"""`DetectorExporter`: a YOLO-style detector as one file per target with decoding and NMS inside.

Files (names from `keras_nn.edge.contract`):
- `saved_model/`: `serve(image)` returns the detections.
- `model.tflite` (float32) and one `model.<mode>.tflite` per quantize mode: builtin ops only (no Flex). The
  int8 file has int8 weights and activations calibrated on `representative_data` and keeps a float32 input and
  float outputs; operators without an int8 kernel (the NMS) stay float.
- `model.onnx`: through tf2onnx, the NMS as ONNX `NonMaxSuppression`.
- `labels.txt`: the class names, one a line, in id order.

Each takes ONE image `image` float32 `[1, H, W, 3]` RGB in [0, 1] and returns `boxes [1, max_detections, 4]`
(x1, y1, x2, y2 normalized), `scores [1, max_detections]`, `classes [1, max_detections]` int32 and `count [1]`
int32: the model's grid decoded by `YoloDecoder` and suppressed by `NonMaxSuppression`, the layers
`YOLO.detect` uses, with the plan's thresholds.

Parity (`parity.json`), per file against `model.detect` on `verify_images`, one image at a time:
`count_agreement` (share of images with the same count), `class_agreement` (share of the reference detections
whose slot, in score order, has the same class), `boxes_max_abs_error` and `boxes_max_relative_error` (over
the slots both hold; relative to the coordinate, at least 0.01 of the image so edge coordinates do not divide
by zero), `scores_max_abs_error`, `matched_fraction` (share of the reference detections that the file finds
with the same class at IoU >= 0.5: robust where scores are close and slots swap, as under int8) and
`matched_boxes_max_abs_error` (over those pairs), the `tolerance` the file is held to (`FLOAT_TOLERANCE`
relative on boxes slot by slot; int8: `INT8_MIN_MATCHED` of the detections matched, and its own mAP@0.5 within
`INT8_MAX_MAP_DROP` of the Keras model's when the true boxes are known, else the matched boxes within
`INT8_TOLERANCE` absolute) and `within_tolerance`, plus `operators` and `flex_operators`. When the plan has the
true boxes of the images (`verify_boxes`), each row adds the file's own `map_50` and `map_50_95` (pycocotools,
`keras_nn.metrics.coco_evaluation`, of the detections the file returns at its built-in thresholds) and
`keras_map_50`, the Keras model's at the same thresholds: what quantization costs in accuracy.
"""

import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_nn.config.export_plan import DetectorExport
from keras_nn.edge.contract import (
    DETECTOR_INPUT,
    DETECTOR_OUTPUTS,
    LABELS_FILE,
    ONNX_FILE,
    SAVED_MODEL_DIR,
    format_of,
    runtime_of,
    tflite_file,
)
from keras_nn.edge.operators import flex_operators
from keras_nn.edge.run_detector import DetectorRunner
from keras_nn.errors import ConfigError, ShapeError
from keras_nn.export.exporters.base import ExportedFile, Exporter
from keras_nn.export.onnx import function_to_onnx
from keras_nn.export.savedmodel import write_archive
from keras_nn.export.tflite import run_converter
from keras_nn.export.verify import file_operators
from keras_nn.layers import NonMaxSuppression, YoloDecoder
from keras_nn.metrics import coco_evaluation

SIGNATURE = "serve"
#: Float files: boxes within this relative error of `model.detect`, same counts and classes.
FLOAT_TOLERANCE = 1e-4
#: int8 files: at least this share of the reference detections found again (same class, IoU >= 0.5), their
#: boxes within `INT8_TOLERANCE` (absolute, a share of the image side). Slot-by-slot numbers are reported too,
#: but int8 scores may reorder detections whose float scores are close.
INT8_TOLERANCE = 0.05
INT8_MIN_MATCHED = 0.9
#: With the true boxes known, what int8 may cost in mAP@0.5 (issue 12's goal), in place of the box tolerance:
#: a few pixels of box shift count only as far as they change the detections' quality.
INT8_MAX_MAP_DROP = 0.02
#: Below this, a coordinate counts as this much when the relative error divides by it.
RELATIVE_FLOOR = 0.01


def nms_settings(plan):
    return {
        "max_detections": plan.max_detections,
        "iou_threshold": plan.iou_threshold,
        "score_threshold": plan.score_threshold,
        "class_agnostic": plan.class_agnostic,
    }


def detector_function(plan):
    """The exported graph: `image [1, H, W, 3]` -> model -> `YoloDecoder` -> `NonMaxSuppression` -> the four
    named outputs, as a `tf.function` with a fixed input signature."""
    model = plan.model
    height, width = model.image_size
    decoder = YoloDecoder(model.boxes_per_cell, model.num_classes, anchors=getattr(model, "anchors", None))
    suppress = NonMaxSuppression(**nms_settings(plan))
    spec = tf.TensorSpec((1, height, width, 3), tf.float32, name=DETECTOR_INPUT)

    @tf.function(input_signature=[spec])
    def detect(image):
        found = suppress(decoder(model(image, training=False)))
        return {name: found[name] for name in DETECTOR_OUTPUTS}

    return detect


def class_names_of(plan):
    names = list(plan.class_names) if plan.class_names is not None else []
    if not names:
        return [f"class_{i}" for i in range(plan.model.num_classes)]
    if len(names) != plan.model.num_classes:
        raise ConfigError(
            f"class_names has {len(names)} names but the model has {plan.model.num_classes} classes; give one name "
            "per class, in id order"
        )
    return names


def check_images(model, images, what):
    images = np.asarray(images, np.float32)
    expected = (*model.image_size, 3)
    if images.ndim != 4 or tuple(images.shape[1:]) != expected:
        raise ShapeError(f"{what} has shape {images.shape}; the detector takes images [N, {expected[0]}, {expected[1]}, 3]")
    return images


def write_detector_saved_model(plan, detect, path):
    archive = keras.export.ExportArchive()
    archive.track(plan.model)
    archive.add_endpoint(SIGNATURE, detect.python_function, input_signature=list(detect.input_signature))
    return write_archive(archive, path)


def write_detector_tflite(saved_model_dir, path, quantize, representative_images):
    """The detector SavedModel as TFLite, builtin ops only; int8 keeps a float32 input and float outputs."""
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=[SIGNATURE])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        images = representative_images
        converter.representative_dataset = lambda: ([images[i : i + 1]] for i in range(len(images)))
        # int8 kernels wherever TFLite has one; NON_MAX_SUPPRESSION_V5 and the decoding's gathers have none and
        # stay float. Both sets are builtin: no Flex op either way.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    Path(path).write_bytes(run_converter(converter, f"the detector (quantize={quantize})"))
    return Path(path)


def run_file(path, images):
    """The detections of an exported file, one image at a time, stacked: a dict of numpy arrays."""
    if Path(path).is_dir():
        loaded = tf.saved_model.load(str(path))  # kept alive: the endpoint does not hold its variables
        serve = getattr(loaded, SIGNATURE)
        outputs = [{k: v.numpy() for k, v in serve(tf.constant(images[i : i + 1])).items()} for i in range(len(images))]
    else:
        runner = DetectorRunner(str(path))
        outputs = [runner(images[i : i + 1]) for i in range(len(images))]
    return {name: np.concatenate([o[name] for o in outputs]) for name in DETECTOR_OUTPUTS}


def _iou(a, b):
    x1, y1 = np.maximum(a[0], b[0]), np.maximum(a[1], b[1])
    x2, y2 = np.minimum(a[2], b[2]), np.minimum(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def compare_detections(found, reference):
    """The parity numbers of one file's detections against the reference's (see the module docstring)."""
    images = len(reference["count"])
    same_count = classes_total = classes_same = matched = 0
    box_abs, box_rel, score_abs, matched_abs = [0.0], [0.0], [0.0], [0.0]
    for i in range(images):
        n_ref, n_found = int(reference["count"][i]), int(found["count"][i])
        same_count += n_ref == n_found
        both = min(n_ref, n_found)
        classes_total += n_ref
        classes_same += int(np.sum(found["classes"][i, :both] == reference["classes"][i, :both]))
        if both:
            a, b = found["boxes"][i, :both], reference["boxes"][i, :both]
            box_abs.append(float(np.abs(a - b).max()))
            box_rel.append(float((np.abs(a - b) / np.maximum(np.abs(b), RELATIVE_FLOOR)).max()))
            score_abs.append(float(np.abs(found["scores"][i, :both] - reference["scores"][i, :both]).max()))
        taken = set()
        for j in range(n_ref):
            for k in range(n_found):
                if (
                    k not in taken
                    and found["classes"][i, k] == reference["classes"][i, j]
                    and _iou(found["boxes"][i, k], reference["boxes"][i, j]) >= 0.5
                ):
                    taken.add(k)
                    matched += 1
                    matched_abs.append(float(np.abs(found["boxes"][i, k] - reference["boxes"][i, j]).max()))
                    break
    return {
        "samples": images,
        "detections": int(np.sum(reference["count"])),
        "count_agreement": same_count / images,
        "class_agreement": classes_same / classes_total if classes_total else 1.0,
        "boxes_max_abs_error": max(box_abs),
        "boxes_max_relative_error": max(box_rel),
        "scores_max_abs_error": max(score_abs),
        "matched_fraction": matched / classes_total if classes_total else 1.0,
        "matched_boxes_max_abs_error": max(matched_abs),
    }


class DetectorExporter(Exporter):
    """Exports a `DetectorExport` plan (see the module docstring for the files and parity keys)."""

    plan_type = DetectorExport

    def __init__(self):
        self._detect = None

    def _function(self, plan):
        if self._detect is None:
            self._detect = detector_function(plan)
        return self._detect

    def check(self, plan, settings):
        model = plan.model
        for attribute in ("image_size", "boxes_per_cell", "num_classes", "detect"):
            if not hasattr(model, attribute):
                raise ConfigError(f"DetectorExport needs a YOLO-style model with `{attribute}`; got {type(model).__name__}")
        NonMaxSuppression(**nms_settings(plan))  # checks the thresholds before anything is written
        class_names_of(plan)
        if plan.verify_images is not None:
            plan.verify_images = check_images(model, plan.verify_images, "verify_images")
        if "int8" in settings.quantize and "tflite" in settings.formats:
            if plan.representative_data is None:
                raise ConfigError("int8 export of a detector needs representative_data (a batch of training images)")
        if plan.representative_data is not None:
            images = check_images(model, plan.representative_data, "representative_data")
            plan.representative_data = images[: settings.representative_samples]

    def write(self, plan, folder, settings):
        detect = self._function(plan)
        formats = settings.formats
        files = []
        with tempfile.TemporaryDirectory(dir=folder, prefix=".scratch-") as scratch:
            saved_model = folder / SAVED_MODEL_DIR if "savedmodel" in formats else Path(scratch) / SAVED_MODEL_DIR
            if "savedmodel" in formats or "tflite" in formats:
                write_detector_saved_model(plan, detect, saved_model)
            if "savedmodel" in formats:
                files.append(ExportedFile(saved_model))
            if "tflite" in formats:
                for mode in (None, *settings.quantize):
                    path = write_detector_tflite(saved_model, folder / tflite_file(mode), mode, plan.representative_data)
                    files.append(ExportedFile(path))
        if "onnx" in formats:
            files.append(ExportedFile(function_to_onnx(detect, folder / ONNX_FILE, "the detector")))
        (folder / LABELS_FILE).write_text("\n".join(class_names_of(plan)) + "\n", encoding="utf-8")
        return files

    def parity(self, plan, files):
        if plan.verify_images is None:
            return []
        images = plan.verify_images
        detected = plan.model.detect(images, **nms_settings(plan))
        reference = {name: keras.ops.convert_to_numpy(detected[name]) for name in DETECTOR_OUTPUTS}
        keras_map = self._map(plan, reference)
        rows = []
        for file in files:
            found = run_file(file.path, images)
            row = compare_detections(found, reference)
            if keras_map is not None:
                row.update(self._map(plan, found), keras_map_50=keras_map["map_50"])
            int8 = format_of(file.path) == "tflite-int8"
            if int8:
                if "map_50" in row:
                    tolerance = INT8_MAX_MAP_DROP
                    close = row["keras_map_50"] - row["map_50"] <= INT8_MAX_MAP_DROP
                else:
                    tolerance = INT8_TOLERANCE
                    close = row["matched_boxes_max_abs_error"] <= INT8_TOLERANCE
                within = row["matched_fraction"] >= INT8_MIN_MATCHED and close
            else:
                tolerance = FLOAT_TOLERANCE
                within = (
                    row["boxes_max_relative_error"] <= FLOAT_TOLERANCE
                    and row["count_agreement"] == 1.0
                    and row["class_agreement"] == 1.0
                )
            counts = file_operators(file.path)
            rows.append(
                {
                    "path": str(file.path),
                    "format": format_of(file.path),
                    "runtime": runtime_of(file.path),
                    **row,
                    "tolerance": tolerance,
                    "within_tolerance": bool(within),
                    "operators": counts,
                    "flex_operators": flex_operators(counts) if counts else [],
                }
            )
        return rows

    @staticmethod
    def _map(plan, detections):
        """`{"map_50", "map_50_95"}` of `detections` on the verify images, or None without their true boxes."""
        if plan.verify_boxes is None:
            return None
        scores = coco_evaluation(
            np.asarray(plan.verify_boxes), detections, class_names_of(plan), tuple(plan.model.image_size)
        )
        return {"map_50": scores["map_50"], "map_50_95": scores["map_50_95"]}

    def timing(self, plan, files):
        if plan.verify_images is None:
            return [], None
        return [file.path for file in files], plan.verify_images

    def notes(self, plan, settings):
        height, width = plan.model.image_size
        return "\n".join(
            [
                "# detector export",
                "",
                f"- Every file takes one image `{DETECTOR_INPUT}` float32 [1, {height}, {width}, 3], RGB in [0, 1], and "
                f"returns `boxes` [1, {plan.max_detections}, 4] (x1, y1, x2, y2, normalized), `scores`, `classes` "
                "(int32) and `count` [1] (int32): decoding and non-max suppression are inside (score threshold "
                f"{plan.score_threshold}, IoU threshold {plan.iou_threshold}, "
                f"{'class-agnostic' if plan.class_agnostic else 'per-class'} NMS).",
                f"- `{LABELS_FILE}`: the class names, one a line, in id order.",
                f"- `{tflite_file('int8')}` (when written): int8 weights and activations, float32 input and outputs; "
                f"the NMS stays float. Its parity row is held to {INT8_MIN_MATCHED:.0%} of the detections found again "
                f"and a mAP@0.5 drop of at most {INT8_MAX_MAP_DROP} (without true boxes: matched boxes within "
                f"{INT8_TOLERANCE} absolute), the float files to {FLOAT_TOLERANCE} relative.",
                "- Run on a device with the edge kit: `python run_detector.py model.tflite --source video.mp4 "
                "--output annotated.mp4`.",
            ]
        )
