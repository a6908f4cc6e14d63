"""COCO box evaluation of a detector: mAP@0.5, mAP@[.5:.95], per-class AP and precision-recall curves, computed
by pycocotools (numpy only, no TensorFlow)."""

import contextlib
import io

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from keras_nn.errors import DataError, ShapeError

# The twelve numbers COCOeval.summarize() prints, in its order.
COCO_STAT_NAMES = (
    "ap",
    "ap_50",
    "ap_75",
    "ap_small",
    "ap_medium",
    "ap_large",
    "ar_1",
    "ar_10",
    "ar_100",
    "ar_small",
    "ar_medium",
    "ar_large",
)
DETECTION_KEYS = ("boxes", "scores", "classes", "count")


def coco_evaluation(true_boxes, detections, class_names, image_size):
    """Evaluates detections against ground truth with pycocotools' `COCOeval` (box IoU, the COCO protocol).

    Both sides are turned into in-memory COCO data sets (no JSON files): image `i` of `true_boxes` is COCO image
    `i + 1`, class id `c` is COCO category `c + 1`, and each normalized box is scaled to pixels with
    `image_size`. The pixels matter only for COCO's area ranges (small < 32², medium < 96², large above, in
    pixels of `image_size`), which decide `ap_small`/`ap_medium`/`ap_large`; every other number is the same at
    any scale. COCO counts at most 100 detections per image (its `maxDets`), the NonMaxSuppression default.

    A class with no ground-truth box has no AP: it is reported as None, and its detections (all false
    positives) do not lower the mean, as in pycocotools (whose precision array holds -1 there). With no ground
    truth at all, every mean is None. Zero detections are valid and score 0 for every class that has ground
    truth (pycocotools' `loadRes` cannot take an empty list, so the empty result set is built directly).

    Args:
        true_boxes: per image a `[max_boxes, 5]` array of rows `(class_id, x1, y1, x2, y2)`, boxes normalized to
            [0, 1]; rows with `class_id < 0` are padding. A list of arrays or one `[N, max_boxes, 5]` array.
        detections: the `NonMaxSuppression` output as numpy: `{"boxes": [N, D, 4] (x1, y1, x2, y2 normalized),
            "scores": [N, D], "classes": [N, D] int, "count": [N]}`; entries past `count` are ignored.
        class_names: the name of each class id, in id order.
        image_size: `(height, width)` in pixels of the images the boxes belong to.

    Returns:
        A dict: `map_50` (COCO AP at IoU 0.5), `map_50_95` (AP averaged over IoU 0.50:0.05:0.95, the COCO
        mAP), `map_75`; `per_class_ap_50` and `per_class_ap_50_95` (`{name: AP or None}`); `precision_recall`
        (`{"iou": 0.5, "recall": the 101-point recall grid, "precision": {name: 101 precisions or None}}`, the
        interpolated curve whose mean is the class's AP@0.5); `num_true` and `num_detections` per class name;
        `coco_stats` (the twelve numbers of `COCOeval.summarize`, None where pycocotools gives -1).

    Example:
    ```python
    detections = {key: value.numpy() for key, value in model.detect(images).items()}
    report = coco_evaluation(true_boxes, detections, bundle.class_names, image_size=(448, 448))
    report["map_50"], report["per_class_ap_50"]["circle"]
    ```

    References:
        - [Lin et al., 2014](https://arxiv.org/abs/1405.0312), Microsoft COCO: Common Objects in Context.
        - [cocodataset/cocoapi](https://github.com/cocodataset/cocoapi), `PythonAPI/pycocotools/cocoeval.py`.
    """
    class_names = list(class_names)
    height, width = (float(value) for value in image_size)
    true_boxes = [np.asarray(boxes, dtype=np.float64) for boxes in true_boxes]
    if not true_boxes:
        raise ShapeError("true_boxes is empty; give one [max_boxes, 5] array per evaluated image")
    detections = _checked_detections(detections, len(true_boxes))
    scale = np.array([width, height, width, height])

    images = [{"id": index + 1, "height": int(height), "width": int(width)} for index in range(len(true_boxes))]
    categories = [{"id": index + 1, "name": str(name)} for index, name in enumerate(class_names)]
    annotations = []
    for index, boxes in enumerate(true_boxes):
        if boxes.ndim != 2 or boxes.shape[-1] != 5:
            raise ShapeError(
                f"true_boxes[{index}] has shape {boxes.shape}; give [max_boxes, 5] rows (class, x1, y1, x2, y2)"
            )
        rows = boxes[boxes[:, 0] >= 0]
        _check_class_ids(rows[:, 0], len(class_names), f"true_boxes[{index}]")
        for row in rows:
            box = _to_coco_box(row[1:] * scale)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": index + 1,
                    "category_id": int(row[0]) + 1,
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": 0,
                }
            )
    results = []
    for index in range(len(true_boxes)):
        count = int(detections["count"][index])
        boxes, scores = detections["boxes"][index, :count], detections["scores"][index, :count]
        classes = detections["classes"][index, :count]
        _check_class_ids(classes, len(class_names), f"detections['classes'][{index}]")
        for box, score, class_id in zip(boxes, scores, classes, strict=True):
            results.append(
                {
                    "image_id": index + 1,
                    "category_id": int(class_id) + 1,
                    "bbox": _to_coco_box(box * scale),
                    "score": float(score),
                }
            )

    # pycocotools reports every step with print(); a library call stays quiet.
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = {"images": images, "categories": categories, "annotations": annotations}
        truth.createIndex()
        if results:
            predicted = truth.loadRes(results)
        else:
            predicted = COCO()
            predicted.dataset = {"images": images, "categories": categories, "annotations": []}
            predicted.createIndex()
        evaluation = COCOeval(truth, predicted, "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()

    # precision: [IoU thresholds, recall points, categories, area ranges, maxDets]; area "all" is index 0 and
    # maxDets 100 the last index, the setting of summarize()'s first three numbers.
    precision = evaluation.eval["precision"][:, :, :, 0, -1]
    iou_thresholds = evaluation.params.iouThrs
    at_50 = int(np.argmin(np.abs(iou_thresholds - 0.5)))
    at_75 = int(np.argmin(np.abs(iou_thresholds - 0.75)))
    per_class_50, per_class_50_95, curves = {}, {}, {}
    for index, name in enumerate(class_names):
        curve = precision[at_50, :, index]
        has_truth = bool(np.all(precision[:, :, index] > -1))
        per_class_50[name] = float(np.mean(curve)) if has_truth else None
        per_class_50_95[name] = float(np.mean(precision[:, :, index])) if has_truth else None
        curves[name] = [float(value) for value in curve] if has_truth else None
    stats = [None if value == -1 else float(value) for value in evaluation.stats]
    true_ids = [int(annotation["category_id"]) - 1 for annotation in annotations]
    predicted_ids = [int(result["category_id"]) - 1 for result in results]
    return {
        "map_50": stats[1],
        "map_50_95": stats[0],
        "map_75": stats[2],
        "per_class_ap_50": per_class_50,
        "per_class_ap_50_95": per_class_50_95,
        "per_class_ap_75": {
            name: (float(np.mean(precision[at_75, :, index])) if per_class_50[name] is not None else None)
            for index, name in enumerate(class_names)
        },
        "precision_recall": {
            "iou": float(iou_thresholds[at_50]),
            "recall": [float(value) for value in evaluation.params.recThrs],
            "precision": curves,
        },
        "num_true": {name: true_ids.count(index) for index, name in enumerate(class_names)},
        "num_detections": {name: predicted_ids.count(index) for index, name in enumerate(class_names)},
        "coco_stats": dict(zip(COCO_STAT_NAMES, stats, strict=True)),
    }


def _checked_detections(detections, num_images):
    missing = [key for key in DETECTION_KEYS if key not in detections]
    if missing:
        raise ShapeError(f"detections lacks {missing}; give the NonMaxSuppression dict {list(DETECTION_KEYS)}")
    arrays = {key: np.asarray(detections[key]) for key in DETECTION_KEYS}
    boxes = arrays["boxes"]
    if boxes.ndim != 3 or boxes.shape[-1] != 4 or len(boxes) != num_images:
        raise ShapeError(
            f"detections['boxes'] has shape {boxes.shape}; give [{num_images}, max_detections, 4], one row of "
            "boxes per image of true_boxes"
        )
    for key in ("scores", "classes"):
        if arrays[key].shape != boxes.shape[:2]:
            raise ShapeError(f"detections[{key!r}] has shape {arrays[key].shape}; give {boxes.shape[:2]} as the boxes")
    count = arrays["count"]
    if count.shape != (num_images,) or np.any(count > boxes.shape[1]) or np.any(count < 0):
        raise ShapeError(
            f"detections['count'] is {count.tolist()}; give {num_images} counts in 0..{boxes.shape[1]}"
        )
    return arrays


def _check_class_ids(class_ids, num_classes, where):
    bad = [int(value) for value in class_ids if not 0 <= int(value) < num_classes]
    if bad:
        raise DataError(f"{where} holds class ids {sorted(set(bad))}; class ids run from 0 to {num_classes - 1}")


def _to_coco_box(corners):
    """(x1, y1, x2, y2) in pixels -> COCO's [x, y, width, height] as plain floats."""
    x1, y1, x2, y2 = (float(value) for value in corners)
    return [x1, y1, x2 - x1, y2 - y1]
