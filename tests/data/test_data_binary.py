import numpy as np
import pytest

from keras_nn.data import load_dataset
from keras_nn.data.binary import binarize_bundle, check_visible_data, labelled_bundle, labelled_share
from keras_nn.errors import ConfigError, DataError


def test_binary_data_passes_and_grey_data_needs_a_choice():
    binary = np.array([[0.0, 1.0], [1.0, 1.0]])
    check_visible_data(binary, "bernoulli", None, False, "x")
    grey = np.array([[0.0, 0.5], [0.25, 1.0]])
    with pytest.raises(DataError, match=r"data x is not binary \(4 distinct values in \[0, 1\], 2 of them strictly between\)"):
        check_visible_data(grey, "bernoulli", None, False, "x")
    check_visible_data(grey, "bernoulli", 0.5, False, "x")  # thresholded later
    check_visible_data(grey, "bernoulli", None, True, "x")  # taken as probabilities
    check_visible_data(grey * 10 - 3, "gaussian", None, False, "x")  # any real values
    with pytest.raises(DataError, match=r"values in \[-3, 7\]"):
        check_visible_data(grey * 10 - 3, "bernoulli", 0.5, False, "x")


def test_binarize_every_split_and_the_numpy_view():
    bundle = load_dataset("embedded:digits", batch_size=64, validation_fraction=0.1, test_fraction=0.1)
    binary = binarize_bundle(bundle, 0.5)
    for split in ("train", "validation", "test"):
        grey, _ = bundle.as_numpy(split)
        x, _ = binary.as_numpy(split)
        np.testing.assert_array_equal(x, (grey > 0.5).astype("float32"))
    batch, _ = next(iter(binary.train))
    assert set(np.unique(batch.numpy())) == {0.0, 1.0}
    with pytest.raises(ConfigError, match=r"binarize=1.5 must be a threshold in \(0, 1\)"):
        binarize_bundle(bundle, 1.5)


def test_labelled_share_is_stratified_and_reproducible():
    y = np.repeat(np.arange(4), [100, 50, 20, 3])
    x = np.zeros((len(y), 2))
    kept = labelled_share(x, y, 0.1, seed=0)
    assert np.bincount(y[kept]).tolist() == [10, 5, 2, 1]  # at least one of each class
    np.testing.assert_array_equal(kept, labelled_share(x, y, 0.1, seed=0))
    assert not np.array_equal(kept, labelled_share(x, y, 0.1, seed=1))
    assert len(labelled_share(x, y, 1.0, seed=0)) == len(y)
    with pytest.raises(ConfigError, match="label_fraction=0 must be in"):
        labelled_share(x, y, 0, seed=0)


def test_labelled_bundle_keeps_validation_and_test():
    bundle = load_dataset("embedded:digits", batch_size=16, validation_fraction=0.1, test_fraction=0.1)
    fewer, kept = labelled_bundle(bundle, 0.05, seed=0, batch_size=16)
    assert kept == fewer.num_examples["train"] == len(fewer.as_numpy("train")[1])
    assert kept < 0.07 * bundle.num_examples["train"]
    assert sum(len(y) for _, y in fewer.train) == kept
    np.testing.assert_array_equal(fewer.as_numpy("test")[0], bundle.as_numpy("test")[0])
