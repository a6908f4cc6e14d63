"""embedded:digits: shapes per form, value range, deterministic stratified splits, batching."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from keras_nn.data import DatasetBundle, list_datasets, load_dataset, split_indices


@pytest.fixture(scope="module")
def digits_image():
    return load_dataset("embedded:digits", batch_size=64)


@pytest.fixture(scope="module")
def digits_sequence():
    return load_dataset("embedded:digits", form="sequence", batch_size=64)


def test_image_form_shapes_and_metadata(digits_image):
    bundle = digits_image
    assert isinstance(bundle, DatasetBundle)
    assert bundle.form == "image"
    assert bundle.source == "embedded:digits"
    assert bundle.input_shape == (8, 8, 1)
    assert bundle.num_classes == 10
    assert bundle.class_names == [str(i) for i in range(10)]
    assert bundle.num_examples == {"train": 1293, "validation": 144, "test": 360}
    assert sum(bundle.num_examples.values()) == 1797
    x, y = next(iter(bundle.train))
    assert tuple(x.shape) == (64, 8, 8, 1)
    assert x.dtype.name == "float32"
    assert y.dtype.name == "int32"


def test_values_are_normalized_digits(digits_image):
    x, y = digits_image.as_numpy("train")
    assert x.dtype == np.float32 and y.dtype == np.int32
    assert x.min() == 0.0 and x.max() == 1.0
    # Every normalized pixel is a raw 0..16 count divided by 16.
    np.testing.assert_array_equal(x * 16, np.round(x * 16))
    # And the examples are the real digits: each one appears in sklearn's data with the same label.
    digits = load_digits()
    lookup = {
        img.astype(np.float32).tobytes(): label
        for img, label in zip(digits.images, digits.target, strict=True)
    }
    for image, label in zip(x[:50], y[:50], strict=True):
        assert lookup[(image[..., 0] * 16).tobytes()] == label


def test_sequence_form_is_rows_as_timesteps(digits_image, digits_sequence):
    assert digits_sequence.form == "sequence"
    assert digits_sequence.input_shape == (8, 8)
    xb, _ = next(iter(digits_sequence.train))
    assert tuple(xb.shape) == (64, 8, 8)
    # Same seed -> the same test split for every form, example for example.
    x_img, y_img = digits_image.as_numpy("test")
    x_seq, y_seq = digits_sequence.as_numpy("test")
    np.testing.assert_array_equal(y_img, y_seq)
    np.testing.assert_array_equal(x_img[..., 0], x_seq)


def test_splits_are_stratified_disjoint_and_seeded():
    y = load_digits().target
    parts = split_indices(y, validation_fraction=0.1, test_fraction=0.2, seed=0)
    all_idx = np.concatenate([parts["train"], parts["validation"], parts["test"]])
    assert len(all_idx) == len(y) and len(np.unique(all_idx)) == len(y)
    overall = np.bincount(y, minlength=10) / len(y)
    for split in ("train", "validation", "test"):
        share = np.bincount(y[parts[split]], minlength=10) / len(parts[split])
        np.testing.assert_allclose(share, overall, atol=0.01)
    again = split_indices(y, validation_fraction=0.1, test_fraction=0.2, seed=0)
    other = split_indices(y, validation_fraction=0.1, test_fraction=0.2, seed=1)
    np.testing.assert_array_equal(parts["test"], again["test"])
    assert not np.array_equal(parts["test"], other["test"])
    # The test split does not move when only the validation share changes.
    more_val = split_indices(y, validation_fraction=0.3, test_fraction=0.2, seed=0)
    np.testing.assert_array_equal(parts["test"], more_val["test"])


def test_seed_changes_test_split_through_load_dataset(digits_image):
    other = load_dataset("embedded:digits", seed=1)
    same = load_dataset("embedded:digits", seed=0)
    np.testing.assert_array_equal(digits_image.as_numpy("test")[1], same.as_numpy("test")[1])
    assert not np.array_equal(digits_image.as_numpy("test")[0], other.as_numpy("test")[0])


def test_batching_and_reshuffling(digits_image):
    bundle = load_dataset("embedded:digits", batch_size=100, cache=False)
    sizes = [int(x.shape[0]) for x, _ in bundle.test]
    assert sizes == [100, 100, 100, 60]
    epoch1 = np.concatenate([y.numpy() for _, y in bundle.train])
    epoch2 = np.concatenate([y.numpy() for _, y in bundle.train])
    assert len(epoch1) == 1293
    assert not np.array_equal(epoch1, epoch2)  # reshuffled every epoch
    np.testing.assert_array_equal(np.sort(epoch1), np.sort(epoch2))
    # Evaluation pipelines keep a fixed order.
    val1 = np.concatenate([y.numpy() for _, y in bundle.validation])
    val2 = np.concatenate([y.numpy() for _, y in bundle.validation])
    np.testing.assert_array_equal(val1, val2)
    np.testing.assert_array_equal(val1, bundle.as_numpy("validation")[1])


def test_as_numpy_limit_and_options():
    bundle = load_dataset(
        "embedded:digits", normalize=False, image_size=[16, 12], validation_fraction=0.0, test_fraction=0.5
    )
    assert bundle.validation is None
    assert "validation" not in bundle.num_examples
    assert bundle.num_examples["test"] == 899
    x, y = bundle.as_numpy("test", limit=5)
    assert x.shape == (5, 16, 12, 1) and y.shape == (5,)
    assert x.max() > 1.0  # raw 0..16 counts when normalize=False
    assert bundle.input_shape == (16, 12, 1)


def test_list_datasets_has_embedded_and_hints():
    rows = list_datasets()
    sources = [source for source, _ in rows]
    assert "embedded:digits" in sources
    assert any(s.startswith("tfds:") for s in sources) and any(s.startswith("dir:") for s in sources)
    assert all(isinstance(d, str) and d and "\n" not in d for _, d in rows)
    # The detection task's sources are listed too.
    assert {"embedded:shapes", "coco:FILE.json"} <= set(sources)
