"""dir: (YOLO .txt labels, both layouts) and coco: (JSON) sources on small generated files, bad input included."""

import json

import numpy as np
import pytest
from PIL import Image

from keras_nn.data.detection import load_detection_dataset
from keras_nn.errors import DataError, MissingPathError

SIZE = (16, 16)


def _image(path, value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((20, 24, 3), value, np.uint8)).save(path)


def _load(source, **kwargs):
    kwargs = {"image_size": SIZE, "batch_size": 2, "validation_fraction": 0.0, "test_fraction": 0.0, **kwargs}
    return load_detection_dataset(source, **kwargs)


def _rows(boxes):
    return boxes[boxes[:, 0] >= 0]


# ------------------------------------------------------------------------------------------------ YOLO


def _ultralytics(root):
    # Two splits, names as a {id: name} map in data.yaml, a polygon line, and a background image.
    _image(root / "images" / "train" / "a.png", 10)
    _image(root / "images" / "train" / "b.png", 20)
    _image(root / "images" / "val" / "c.png", 30)
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "val").mkdir(parents=True)
    (root / "labels" / "train" / "a.txt").write_text("1 0.5 0.5 0.2 0.4\n\n0 0.25 0.75 0.5 0.5\n")
    (root / "labels" / "val" / "c.txt").write_text("0 0.1 0.2 0.3 0.2 0.3 0.6\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\nnames:\n  0: cat\n  1: dog\n")


def test_ultralytics_layout_with_splits_and_yaml_names(tmp_path):
    _ultralytics(tmp_path)
    bundle = _load(f"dir:{tmp_path}")
    assert bundle.class_names == ["cat", "dog"] and bundle.num_classes == 2
    assert bundle.num_examples == {"train": 2, "validation": 1}
    assert bundle.test is None and bundle.skipped == []
    images, boxes = bundle.as_numpy("train")
    assert images.shape == (2, 16, 16, 3) and boxes.shape == (2, 20, 5)
    np.testing.assert_allclose(images[0], 10 / 255, atol=1e-6)
    # `class cx cy w h` -> (class, cx - w/2, cy - h/2, cx + w/2, cy + h/2).
    np.testing.assert_allclose(_rows(boxes[0]), [[1, 0.4, 0.3, 0.6, 0.7], [0, 0.0, 0.5, 0.5, 1.0]], atol=1e-6)
    assert len(_rows(boxes[1])) == 0  # b.png has no label file: background
    _, val = bundle.as_numpy("validation")
    # The polygon (0.1, 0.2), (0.3, 0.2), (0.3, 0.6) read as its bounding box.
    np.testing.assert_allclose(_rows(val[0]), [[0, 0.1, 0.2, 0.3, 0.6]], atol=1e-6)
    x, y = next(iter(bundle.train))
    assert tuple(x.shape) == (2, 16, 16, 3) and tuple(y.shape) == (2, 20, 5)


def test_side_by_side_layout_with_classes_txt_carves_splits(tmp_path):
    for i in range(10):
        _image(tmp_path / f"img{i}.jpg", 10 * i)
        (tmp_path / f"img{i}.txt").write_text(f"{i % 3} 0.5 0.5 0.5 0.5\n")
    (tmp_path / "classes.txt").write_text("circle\nsquare\ntriangle\n")
    bundle = _load(f"dir:{tmp_path}", validation_fraction=0.2, test_fraction=0.2, seed=1)
    assert bundle.class_names == ["circle", "square", "triangle"]
    assert bundle.num_examples == {"train": 6, "validation": 2, "test": 2}
    again = _load(f"dir:{tmp_path}", validation_fraction=0.2, test_fraction=0.2, seed=1)
    np.testing.assert_array_equal(bundle.as_numpy("test")[1], again.as_numpy("test")[1])


def test_names_list_in_yaml_and_ids_when_no_names(tmp_path):
    _image(tmp_path / "a" / "x.png")
    (tmp_path / "a" / "x.txt").write_text("2 0.5 0.5 0.1 0.1\n")
    assert _load(f"dir:{tmp_path / 'a'}").class_names == ["0", "1", "2"]
    (tmp_path / "a" / "data.yaml").write_text("names: [a, b, c, d]\n")
    assert _load(f"dir:{tmp_path / 'a'}").class_names == ["a", "b", "c", "d"]


BAD_LINES = {
    "malformed": ("0 0.5 0.5 0.2\n", "malformed line"),
    "not numbers": ("zero 0.5 0.5 0.2 0.2\n", "malformed line"),
    "outside": ("1 0.9 0.5 0.4 0.2\n", "outside the image"),
    "pixels": ("1 12 10 4 4\n", "not pixels"),
    "zero size": ("1 0.5 0.5 0.0 0.2\n", "zero-size box"),
    "class beyond": ("5 0.5 0.5 0.2 0.2\n", "class id 5 is beyond the 2 classes"),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_yolo_line_errors_or_is_skipped(tmp_path, case):
    line, problem = BAD_LINES[case]
    _image(tmp_path / "a.png")
    _image(tmp_path / "b.png")
    (tmp_path / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n" + line)
    (tmp_path / "b.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    with pytest.raises(DataError, match=problem) as err:
        _load(f"dir:{tmp_path}")
    message = str(err.value)
    assert "\n" not in message and f"{tmp_path / 'a.txt'}:2:" in message and "on_bad_labels='skip'" in message
    bundle = _load(f"dir:{tmp_path}", on_bad_labels="skip")
    assert len(bundle.skipped) == 1 and bundle.skipped[0].startswith(f"{tmp_path / 'a.txt'}:2: ")
    assert problem in bundle.skipped[0]
    _, boxes = bundle.as_numpy("train")
    # The bad line is dropped; the good box of a.txt and the image b.png stay.
    assert [len(_rows(b)) for b in boxes] == [1, 1]


def test_unreadable_image_errors_or_is_skipped(tmp_path):
    _image(tmp_path / "good.png")
    (tmp_path / "good.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    (tmp_path / "broken.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    with pytest.raises(DataError, match="cannot read the image") as err:
        _load(f"dir:{tmp_path}")
    assert str(tmp_path / "broken.png") in str(err.value)
    bundle = _load(f"dir:{tmp_path}", on_bad_labels="skip")
    assert bundle.num_examples == {"train": 1}
    assert len(bundle.skipped) == 1 and "broken.png" in bundle.skipped[0]


def test_too_many_objects_and_missing_folder(tmp_path):
    _image(tmp_path / "a.png")
    (tmp_path / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n" * 3)
    with pytest.raises(DataError, match="more than max_boxes=2"):
        _load(f"dir:{tmp_path}", max_boxes=2)
    bundle = _load(f"dir:{tmp_path}", max_boxes=2, on_bad_labels="skip")
    assert len(_rows(bundle.as_numpy("train")[1][0])) == 2
    with pytest.raises(MissingPathError, match="not a folder"):
        _load(f"dir:{tmp_path / 'nowhere'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        _load(f"dir:{tmp_path / 'empty'}")


# ------------------------------------------------------------------------------------------------ COCO


def _coco(root, annotations, images=None):
    _image(root / "images" / "a.jpg", 50)
    _image(root / "b.png", 60)
    data = {
        "images": images
        or [
            {"id": 7, "file_name": "a.jpg", "width": 200, "height": 100},
            {"id": 9, "file_name": "b.png", "width": 50, "height": 40},
        ],
        "annotations": annotations,
        "categories": [{"id": 3, "name": "dog"}, {"id": 1, "name": "cat"}],
    }
    path = root / "annotations.json"
    path.write_text(json.dumps(data))
    return path


GOOD = [
    {"id": 1, "image_id": 7, "category_id": 3, "bbox": [20, 10, 100, 50], "iscrowd": 0},
    {"id": 2, "image_id": 7, "category_id": 1, "bbox": [0, 0, 200, 100], "iscrowd": 1},
    {"id": 3, "image_id": 9, "category_id": 1, "bbox": [5, 4, 10, 20]},
]


def test_coco_json_boxes_categories_and_image_folders(tmp_path):
    path = _coco(tmp_path, GOOD)
    bundle = _load(f"coco:{path}")
    # Category ids in id order: 1 (cat) -> 0, 3 (dog) -> 1.
    assert bundle.class_names == ["cat", "dog"]
    images, boxes = bundle.as_numpy("train")
    np.testing.assert_allclose(images[0], 50 / 255, atol=2 / 255)  # images/a.jpg (JPEG)
    np.testing.assert_allclose(images[1], 60 / 255, atol=1e-6)  # b.png beside the JSON
    # [x, y, w, h] pixels / (width, height); the crowd annotation is skipped.
    np.testing.assert_allclose(_rows(boxes[0]), [[1, 0.1, 0.1, 0.6, 0.6]], atol=1e-6)
    np.testing.assert_allclose(_rows(boxes[1]), [[0, 0.1, 0.1, 0.3, 0.6]], atol=1e-6)


BAD_ANNOTATIONS = {
    "zero size": ({"bbox": [5, 4, 0, 20]}, "zero-size box"),
    "outside": ({"bbox": [40, 4, 30, 20]}, "outside the image"),
    "category": ({"category_id": 99}, "category_id 99 is not in 'categories'"),
    "malformed": ({"bbox": [5, 4, 10]}, "malformed bbox"),
}


@pytest.mark.parametrize("case", sorted(BAD_ANNOTATIONS))
def test_bad_coco_annotation_errors_or_is_skipped(tmp_path, case):
    change, problem = BAD_ANNOTATIONS[case]
    bad = {"id": 4, "image_id": 9, "category_id": 1, "bbox": [5, 4, 10, 20], **change}
    path = _coco(tmp_path, [*GOOD, bad])
    with pytest.raises(DataError, match=problem) as err:
        _load(f"coco:{path}")
    assert f"{path}: annotation 4: " in str(err.value)
    bundle = _load(f"coco:{path}", on_bad_labels="skip")
    assert len(bundle.skipped) == 1 and bundle.skipped[0].startswith(f"{path}: annotation 4: ")
    assert [len(_rows(b)) for b in bundle.as_numpy("train")[1]] == [1, 1]


def test_coco_missing_and_unreadable_images(tmp_path):
    images = [
        {"id": 7, "file_name": "a.jpg", "width": 200, "height": 100},
        {"id": 8, "file_name": "gone.jpg", "width": 20, "height": 20},
        {"id": 9, "file_name": "b.png", "width": 50, "height": 40},
    ]
    path = _coco(tmp_path, GOOD, images)
    with pytest.raises(DataError, match="references missing image 'gone.jpg'") as err:
        _load(f"coco:{path}")
    assert f"{path}: image 8" in str(err.value)
    (tmp_path / "b.png").write_bytes(b"\x89PNG broken")
    bundle = _load(f"coco:{path}", on_bad_labels="skip")
    assert bundle.num_examples == {"train": 1}
    assert len(bundle.skipped) == 2
    assert "gone.jpg" in bundle.skipped[0] and "cannot read the image" in bundle.skipped[1]


def test_coco_not_json(tmp_path):
    (tmp_path / "x.json").write_text("{nope")
    with pytest.raises(DataError, match="not a readable JSON file"):
        _load(f"coco:{tmp_path / 'x.json'}")
    with pytest.raises(MissingPathError):
        _load(f"coco:{tmp_path / 'y.json'}")
