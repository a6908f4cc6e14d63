"""coco_evaluation against hand-computed COCO values: the 10 IoU thresholds 0.50:0.05:0.95 and the 101-point
interpolated precision (pycocotools' protocol), worked out by hand for tiny cases."""

import numpy as np
import pytest

from keras_nn.errors import DataError, ShapeError
from keras_nn.metrics import coco_evaluation

NAMES = ["circle", "square", "triangle"]
IMAGE_SIZE = (100, 200)  # (height, width): not square, so x and y scale differently


def truth(*rows, max_boxes=4):
    """One image's [max_boxes, 5] ground truth, padded with class -1."""
    boxes = np.zeros((max_boxes, 5), np.float32)
    boxes[:, 0] = -1
    if rows:
        boxes[: len(rows)] = rows
    return boxes


def detections(*per_image, max_detections=5):
    """The NonMaxSuppression dict from per-image lists of (class, score, x1, y1, x2, y2)."""
    count = len(per_image)
    result = {
        "boxes": np.zeros((count, max_detections, 4), np.float32),
        "scores": np.zeros((count, max_detections), np.float32),
        "classes": np.zeros((count, max_detections), np.int32),
        "count": np.array([len(rows) for rows in per_image], np.int32),
    }
    for index, rows in enumerate(per_image):
        for slot, (class_id, score, *box) in enumerate(sorted(rows, key=lambda row: -row[1])):
            result["boxes"][index, slot] = box
            result["scores"][index, slot] = score
            result["classes"][index, slot] = class_id
    return result


def test_perfect_predictions_score_one():
    true = [truth((0, 0.1, 0.1, 0.4, 0.5), (1, 0.5, 0.5, 0.9, 0.8)), truth((1, 0.2, 0.3, 0.6, 0.9))]
    found = detections(
        [(0, 0.9, 0.1, 0.1, 0.4, 0.5), (1, 0.8, 0.5, 0.5, 0.9, 0.8)],
        [(1, 0.7, 0.2, 0.3, 0.6, 0.9)],
    )
    report = coco_evaluation(true, found, NAMES, IMAGE_SIZE)
    assert report["map_50"] == pytest.approx(1.0)
    assert report["map_50_95"] == pytest.approx(1.0)
    assert report["map_75"] == pytest.approx(1.0)
    assert report["per_class_ap_50"] == pytest.approx({"circle": 1.0, "square": 1.0, "triangle": None})
    assert report["num_true"] == {"circle": 1, "square": 2, "triangle": 0}
    assert report["num_detections"] == {"circle": 1, "square": 2, "triangle": 0}
    curve = report["precision_recall"]
    assert curve["iou"] == pytest.approx(0.5)
    assert len(curve["recall"]) == 101 and curve["recall"][0] == 0.0 and curve["recall"][-1] == pytest.approx(1.0)
    assert curve["precision"]["circle"] == pytest.approx([1.0] * 101)
    assert curve["precision"]["triangle"] is None


def test_a_shifted_box_survives_only_the_thresholds_below_its_iou():
    # A 0.5 x 0.5 box moved right by 0.12 of the image: IoU = (0.5 - 0.12) / (0.5 + 0.12) = 0.38 / 0.62 = 0.613,
    # a true positive at IoU thresholds 0.50, 0.55, 0.60 (AP 1 there) and a false positive at 0.65..0.95 (AP 0):
    # mAP@[.5:.95] = 3 / 10. (0.613 stays clear of the 0.60 and 0.65 float edges.)
    iou = (0.5 - 0.12) / (0.5 + 0.12)
    assert 0.60 < iou < 0.65
    report = coco_evaluation(
        [truth((0, 0.1, 0.2, 0.6, 0.7))], detections([(0, 0.9, 0.22, 0.2, 0.72, 0.7)]), NAMES, IMAGE_SIZE
    )
    assert report["map_50"] == pytest.approx(1.0)
    assert report["map_75"] == pytest.approx(0.0)
    assert report["map_50_95"] == pytest.approx(0.3)
    assert report["per_class_ap_50_95"]["circle"] == pytest.approx(0.3)


def test_a_false_positive_ranked_above_a_true_positive_gives_the_101_point_interpolated_ap():
    # Two objects; by score: hit (0.9), miss (0.8), hit (0.7). Recall 1/2, 1/2, 1; precision 1, 1/2, 2/3.
    # COCO interpolates precision as the best at any recall >= r and samples r = 0.00, 0.01, ..., 1.00:
    # the 51 points r <= 0.5 get 1, the 50 points r > 0.5 get 2/3. AP@0.5 = (51 + 50 * 2/3) / 101 = 0.83498
    # (the area under the curve would be 0.8333: this is the 101-point value, not a hand-written matcher's).
    true = [truth((0, 0.1, 0.1, 0.3, 0.3), (0, 0.6, 0.6, 0.9, 0.9))]
    found = detections([(0, 0.9, 0.1, 0.1, 0.3, 0.3), (0, 0.8, 0.35, 0.6, 0.5, 0.9), (0, 0.7, 0.6, 0.6, 0.9, 0.9)])
    report = coco_evaluation(true, found, NAMES, IMAGE_SIZE)
    expected = (51 * 1.0 + 50 * 2 / 3) / 101
    assert report["map_50"] == pytest.approx(expected, abs=1e-9)
    assert report["per_class_ap_50"]["circle"] == pytest.approx(expected, abs=1e-9)
    assert report["map_50_95"] == pytest.approx(expected, abs=1e-9), "exact boxes: the same at every threshold"
    precision = report["precision_recall"]["precision"]["circle"]
    assert precision[:51] == pytest.approx([1.0] * 51) and precision[51:] == pytest.approx([2 / 3] * 50)


def test_a_class_without_ground_truth_has_no_ap_and_does_not_lower_the_mean():
    # A 'triangle' detection where there is no triangle: pycocotools leaves that class out (-1 in its precision
    # array), so the mean stays that of the classes with ground truth.
    true = [truth((0, 0.1, 0.1, 0.4, 0.5), (1, 0.5, 0.5, 0.9, 0.8))]
    found = detections(
        [(0, 0.9, 0.1, 0.1, 0.4, 0.5), (1, 0.8, 0.5, 0.5, 0.9, 0.8), (2, 0.95, 0.0, 0.0, 0.2, 0.2)]
    )
    report = coco_evaluation(true, found, NAMES, IMAGE_SIZE)
    assert report["per_class_ap_50"]["triangle"] is None
    assert report["per_class_ap_50_95"]["triangle"] is None
    assert report["precision_recall"]["precision"]["triangle"] is None
    assert report["map_50"] == pytest.approx(1.0)
    assert report["num_detections"]["triangle"] == 1


def test_zero_detections_score_zero_for_classes_with_ground_truth():
    true = [truth((0, 0.1, 0.1, 0.4, 0.5)), truth()]  # the second image is background
    report = coco_evaluation(true, detections([], []), NAMES, IMAGE_SIZE)
    assert report["map_50"] == 0.0 and report["map_50_95"] == 0.0 and report["map_75"] == 0.0
    assert report["per_class_ap_50"] == {"circle": 0.0, "square": None, "triangle": None}
    assert report["precision_recall"]["precision"]["circle"] == [0.0] * 101
    assert report["num_detections"] == {"circle": 0, "square": 0, "triangle": 0}
    nothing = coco_evaluation([truth()], detections([]), NAMES, IMAGE_SIZE)
    assert nothing["map_50"] is None and nothing["per_class_ap_50"]["circle"] is None, "no ground truth: no AP"


def test_per_class_values_and_their_mean():
    # circle exact (AP 1 at every threshold); square shifted to IoU 0.613 (AP@0.5 1, AP@[.5:.95] 0.3); the
    # means are over the two classes with ground truth, as pycocotools takes them.
    true = [truth((0, 0.0, 0.0, 0.3, 0.3), (1, 0.1, 0.2, 0.6, 0.7))]
    found = detections([(0, 0.6, 0.0, 0.0, 0.3, 0.3), (1, 0.9, 0.22, 0.2, 0.72, 0.7)])
    report = coco_evaluation(true, found, NAMES, IMAGE_SIZE)
    assert report["per_class_ap_50"] == pytest.approx({"circle": 1.0, "square": 1.0, "triangle": None})
    assert report["per_class_ap_50_95"] == pytest.approx({"circle": 1.0, "square": 0.3, "triangle": None})
    assert report["per_class_ap_75"] == pytest.approx({"circle": 1.0, "square": 0.0, "triangle": None})
    assert report["map_50_95"] == pytest.approx((1.0 + 0.3) / 2)
    assert report["map_75"] == pytest.approx(0.5)
    assert report["coco_stats"]["ap"] == report["map_50_95"]


def test_area_ranges_use_the_pixel_size():
    # A quarter-of-the-image box is 16 x 16 = 256 px² (COCO 'small', < 32²) in a 64 x 64 image and
    # 128 x 128 px² ('large', > 96²) in a 512 x 512 one.
    true = [truth((0, 0.25, 0.25, 0.5, 0.5))]
    found = detections([(0, 0.9, 0.25, 0.25, 0.5, 0.5)])
    small = coco_evaluation(true, found, NAMES, (64, 64))["coco_stats"]
    large = coco_evaluation(true, found, NAMES, (512, 512))["coco_stats"]
    assert small["ap_small"] == pytest.approx(1.0) and small["ap_large"] is None
    assert large["ap_large"] == pytest.approx(1.0) and large["ap_small"] is None


def test_bad_input_names_the_problem():
    true = [truth((0, 0.1, 0.1, 0.4, 0.5))]
    with pytest.raises(DataError, match=r"true_boxes\[0\] holds class ids \[7\]"):
        coco_evaluation([truth((7, 0.1, 0.1, 0.4, 0.5))], detections([]), NAMES, IMAGE_SIZE)
    with pytest.raises(DataError, match=r"detections\['classes'\]\[0\] holds class ids \[3\]"):
        coco_evaluation(true, detections([(3, 0.9, 0.1, 0.1, 0.4, 0.5)]), NAMES, IMAGE_SIZE)
    with pytest.raises(ShapeError, match="one row of boxes per image"):
        coco_evaluation(true, detections([], []), NAMES, IMAGE_SIZE)
    with pytest.raises(ShapeError, match="lacks"):
        coco_evaluation(true, {"boxes": np.zeros((1, 5, 4))}, NAMES, IMAGE_SIZE)


def test_quiet(capsys):
    coco_evaluation([truth((0, 0.1, 0.1, 0.4, 0.5))], detections([(0, 0.9, 0.1, 0.1, 0.4, 0.5)]), NAMES, IMAGE_SIZE)
    assert capsys.readouterr().out == ""
