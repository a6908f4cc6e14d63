"""tfds: sources, offline: tfds.testing.mock_data for catalog builders, and a tiny real builder prepared
into tmp_path for split slicing."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_nn.data import load_dataset
from keras_nn.data.pipeline import LoadOptions
from keras_nn.data.tfds import plan_splits, tfds_name
from keras_nn.errors import ConfigError, DataError, UnknownDatasetError


class KerasNnTinyDigits(tfds.core.GeneratorBasedBuilder):
    """40 images of 6x5x1 in three classes; only a train split, so validation and test are carved."""

    VERSION = tfds.core.Version("1.0.0")
    # TFDS reads a builder's metadata files from its module's top-level package, found by name: this module's is
    # `tests`, which other installed distributions also ship (tf2onnx's site-packages/tests). Point it here.
    pkg_dir_path = Path(__file__).parent

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(6, 5, 1)),
                    "label": tfds.features.ClassLabel(names=["a", "b", "c"]),
                }
            ),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for i in range(40):
            # Pixel value i identifies the example; label i % 3.
            yield i, {"image": np.full((6, 5, 1), i * 6, np.uint8), "label": i % 3}


@pytest.fixture(scope="module")
def tiny_data_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("tfds")
    tfds.builder("keras_nn_tiny_digits", data_dir=str(data_dir)).download_and_prepare()
    return str(data_dir)


def test_mnist_with_mock_data():
    with tfds.testing.mock_data(num_examples=12):
        bundle = load_dataset("tfds:mnist", batch_size=4)
        assert bundle.form == "image"
        assert bundle.input_shape == (28, 28, 1)
        assert bundle.num_classes == 10
        assert bundle.class_names == [str(i) for i in range(10)]
        # The mock has no split metadata, so validation is carved from train and test is the test split.
        assert bundle.validation is not None and bundle.test is not None
        x, y = next(iter(bundle.train))
        assert tuple(x.shape) == (4, 28, 28, 1)
        assert x.dtype.name == "float32" and y.dtype.name == "int32"
        x, y = bundle.as_numpy("test")
        assert x.shape == (12, 28, 28, 1)
        assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.5  # uint8 / 255
        assert set(np.unique(y)) <= set(range(10))
        assert bundle.num_examples["test"] == 12


def test_mnist_sequence_form_and_resize_with_mock_data():
    with tfds.testing.mock_data(num_examples=3):
        seq = load_dataset("tfds:mnist", form="sequence")
        assert seq.input_shape == (28, 28)
        assert seq.as_numpy("train")[0].shape == (3, 28, 28)
        big = load_dataset("tfds:mnist", image_size=[32, 30], normalize=False)
        x, _ = big.as_numpy("train")
        assert big.input_shape == (32, 30, 1) and x.shape == (3, 32, 30, 1)
        assert x.dtype == np.uint8 and x.max() > 1


def test_text_dataset_with_mock_data():
    with tfds.testing.mock_data(num_examples=5):
        bundle = load_dataset("tfds:imdb_reviews", batch_size=2)
        assert bundle.form == "text"
        assert bundle.input_shape == ()
        assert bundle.num_classes == 2 and bundle.class_names == ["neg", "pos"]
        x, y = bundle.as_numpy("test")
        assert x.dtype == object and isinstance(x[0], bytes)
        with pytest.raises(ConfigError, match="'image'.*text"):
            load_dataset("tfds:imdb_reviews", form="image")


def test_real_builder_carves_validation_and_test(tiny_data_dir):
    bundle = load_dataset(
        "tfds:keras_nn_tiny_digits", data_dir=tiny_data_dir, validation_fraction=0.25, test_fraction=0.2
    )
    # test = train[80%:] (8), validation = train[60%:80%] (8), train = train[:60%] (24).
    assert bundle.num_examples == {"train": 24, "validation": 8, "test": 8}
    assert bundle.input_shape == (6, 5, 1) and bundle.class_names == ["a", "b", "c"]
    ids = {}
    for split in ("train", "validation", "test"):
        x, y = bundle.as_numpy(split)
        pixel = np.round(x[:, 0, 0, 0] * 255).astype(int)
        np.testing.assert_allclose(x * 255, np.round(x * 255), atol=1e-4)
        index = pixel // 6
        np.testing.assert_array_equal(y, index % 3)  # labels travel with their images
        ids[split] = set(index.tolist())
    assert ids["train"].isdisjoint(ids["validation"]) and ids["train"].isdisjoint(ids["test"])
    assert ids["validation"].isdisjoint(ids["test"])
    assert len(ids["train"] | ids["validation"] | ids["test"]) == 40


def test_real_builder_without_test_fraction(tiny_data_dir):
    bundle = load_dataset("tfds:keras_nn_tiny_digits", data_dir=tiny_data_dir, test_fraction=0.0)
    assert bundle.test is None
    assert bundle.num_examples == {"train": 36, "validation": 4}


def test_plan_splits_uses_existing_splits():
    opts = LoadOptions(validation_fraction=0.1, test_fraction=0.2)
    assert plan_splits({"train", "validation", "test"}, opts) == {
        "train": "train",
        "validation": "validation",
        "test": "test",
    }
    assert plan_splits({"train", "test"}, opts) == {
        "train": "train[:90%]",
        "validation": "train[90%:]",
        "test": "test",
    }
    assert plan_splits({"train"}, opts) == {
        "train": "train[:72%]",
        "validation": "train[72%:80%]",
        "test": "train[80%:]",
    }
    assert plan_splits({"train", "test"}, LoadOptions(validation_fraction=0.0))["train"] == "train"


def test_tfds_name_spellings():
    assert tfds_name("mnist") == "mnist"
    assert tfds_name("imdb_reviews:plain_text") == "imdb_reviews/plain_text"
    assert tfds_name("imdb_reviews/plain_text:1.0.0") == "imdb_reviews/plain_text:1.0.0"
    assert tfds_name("mnist:3.0.1") == "mnist:3.0.1"
    assert tfds_name("imdb_reviews:plain_text:1.0.0") == "imdb_reviews/plain_text:1.0.0"


def test_unknown_tfds_name():
    with pytest.raises(UnknownDatasetError, match="not_a_real_dataset_xyz") as err:
        load_dataset("tfds:not_a_real_dataset_xyz")
    assert "list_builders" in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_tfds_config():
    with pytest.raises(UnknownDatasetError, match="'nope'.*imdb_reviews/plain_text"):
        load_dataset("tfds:imdb_reviews:nope")


def test_variable_size_images_need_image_size():
    # tf_flowers images have no fixed size; the check runs before any download.
    with pytest.raises(DataError, match=r"data\.image_size"):
        load_dataset("tfds:tf_flowers")
