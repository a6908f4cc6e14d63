"""load_detection_dataset: embedded:shapes pipelines, TFDS voc on mock data, option checks."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_nn.data.detection import SHAPE_CLASSES, load_detection_dataset
from keras_nn.errors import ConfigError, DataError, UnknownDatasetError

SMALL = {"train": 12, "validation": 4, "test": 6}


def _shapes(**kwargs):
    kwargs = {"image_size": (32, 32), "batch_size": 4, "num_scenes": SMALL, **kwargs}
    return load_detection_dataset("embedded:shapes", **kwargs)


def test_embedded_shapes_bundle_and_pipelines():
    bundle = _shapes(augment=True)
    assert bundle.class_names == list(SHAPE_CLASSES) and bundle.num_classes == 4
    assert bundle.input_shape == (32, 32, 3) and bundle.max_boxes == 20
    assert bundle.num_examples == SMALL and bundle.skipped == [] and bundle.form == "detection"
    for ds in (bundle.train, bundle.validation, bundle.test):
        x, y = next(iter(ds))
        assert tuple(x.shape) == (4, 32, 32, 3) and x.dtype == tf.float32
        assert tuple(y.shape) == (4, 20, 5) and y.dtype == tf.float32
        assert 0.0 <= float(tf.reduce_min(x)) and float(tf.reduce_max(x)) <= 1.0
    assert sum(int(x.shape[0]) for x, _ in bundle.train) == 12


def test_as_numpy_is_fixed_order_unaugmented_and_test_scenes_do_not_depend_on_train_count():
    bundle = _shapes(augment=True)
    images, boxes = bundle.as_numpy("test")
    again_images, again_boxes = bundle.as_numpy("test")
    np.testing.assert_array_equal(images, again_images)
    np.testing.assert_array_equal(boxes, again_boxes)
    first, _ = bundle.as_numpy("train", limit=3)
    np.testing.assert_array_equal(first, bundle.as_numpy("train")[0][:3])
    other = _shapes(num_scenes={**SMALL, "train": 20})
    np.testing.assert_array_equal(other.as_numpy("test")[1], boxes)
    assert not np.array_equal(_shapes(seed=1).as_numpy("test")[1], boxes)


def test_voc_with_mock_data_converts_boxes():
    with tfds.testing.mock_data(num_examples=3):
        bundle = load_detection_dataset("tfds:voc/2007", image_size=(24, 24), batch_size=2, max_boxes=4)
        assert bundle.num_classes == 20 and bundle.class_names[:2] == ["aeroplane", "bicycle"]
        assert bundle.num_examples == {"train": 3, "validation": 3, "test": 3}
        images, boxes = bundle.as_numpy("test")
        raw = list(tfds.load("voc/2007", split="test", shuffle_files=False).take(3))
    assert images.shape == (3, 24, 24, 3) and boxes.shape == (3, 4, 5)
    for example, rows in zip(raw, boxes, strict=True):
        bbox = example["objects"]["bbox"].numpy()  # (ymin, xmin, ymax, xmax)
        label = example["objects"]["label"].numpy()
        n = min(len(bbox), len(label), 4)
        expected = np.stack(
            [
                label[:n],
                np.minimum(bbox[:n, 1], bbox[:n, 3]),
                np.minimum(bbox[:n, 0], bbox[:n, 2]),
                np.maximum(bbox[:n, 1], bbox[:n, 3]),
                np.maximum(bbox[:n, 0], bbox[:n, 2]),
            ],
            axis=1,
        )
        np.testing.assert_allclose(rows[:n], expected, atol=1e-6)
        assert (rows[n:, 0] == -1).all()


def test_tfds_boxes_real_order():
    from keras_nn.data.detection.tfds_voc import tfds_boxes

    rows = tfds_boxes([[0.1, 0.2, 0.5, 0.6]], [3], 2).numpy()
    np.testing.assert_allclose(rows, [[3, 0.2, 0.1, 0.6, 0.5], [-1, 0, 0, 0, 0]], atol=1e-6)


@pytest.mark.parametrize(
    "source, kwargs, error, match",
    [
        ("shapes", {}, UnknownDatasetError, "unknown detection data source"),
        ("embedded:circles", {}, UnknownDatasetError, "embedded:shapes"),
        ("embedded:shapes", {"on_bad_labels": "ignore"}, ConfigError, "on_bad_labels"),
        ("embedded:shapes", {"max_boxes": 0}, ConfigError, "max_boxes"),
        ("embedded:shapes", {"augment": {"spin": 1}}, ConfigError, "spin"),
        ("embedded:shapes", {"image_size": None}, ConfigError, "image_size"),
        ("embedded:shapes", {"num_scenes": {"train": -1}}, ConfigError, "num_scenes"),
        ("tfds:mnist", {}, DataError, "objects/bbox"),
    ],
)
def test_bad_options(source, kwargs, error, match):
    with pytest.raises(error, match=match):
        load_detection_dataset(source, **{"image_size": (16, 16), "num_scenes": SMALL, **kwargs})


def test_augmented_training_is_reproducible_by_seed_and_changes_each_epoch():
    first = [y.numpy() for _, y in _shapes(augment=True).train]
    again = _shapes(augment=True)
    assert all(np.array_equal(a, b) for a, b in zip(first, [y.numpy() for _, y in again.train], strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, [y.numpy() for _, y in again.train], strict=True))
