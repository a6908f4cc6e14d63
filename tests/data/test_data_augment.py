import keras
import numpy as np
import pytest

from keras_nn.data import load_dataset
from keras_nn.data.augment import (
    AUGMENT_DEFAULTS,
    NORMALIZATIONS,
    apply_augmenter,
    augment_bundle,
    augment_dataset,
    augmentation_enabled,
    build_augmenter,
    check_augment_options,
    denormalize_images,
    normalize_images,
)
from keras_nn.errors import ConfigError

ALL_ON = {"rotation": 0.1, "flip": True, "brightness": 0.2, "contrast": 0.2, "zoom": 0.1, "translation": 0.1}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("embedded:digits", form="image", batch_size=16, shuffle_buffer=1)


def _batches(dataset, count=2):
    return [x for x, _ in dataset.take(count).as_numpy_iterator()]


def test_options_fill_defaults_and_name_bad_keys():
    assert check_augment_options(None) == AUGMENT_DEFAULTS
    assert check_augment_options(False) == AUGMENT_DEFAULTS
    assert not augmentation_enabled(check_augment_options({}))
    resolved = check_augment_options({"rotation": 0.05, "flip": True})
    assert resolved["rotation"] == 0.05 and resolved["flip"] is True and resolved["zoom"] == 0.0
    assert augmentation_enabled(resolved)
    with pytest.raises(ConfigError, match=r"task_options.augment.rotaton' \(did you mean 'rotation'\?\); allowed keys under 'task_options.augment': rotation"):
        check_augment_options({"rotaton": 0.1})
    with pytest.raises(ConfigError, match=r"'task_options.augment.rotation' = 1.5 must be a number in \[0, 1\)"):
        check_augment_options({"rotation": 1.5})
    with pytest.raises(ConfigError, match=r"'task_options.augment.flip' = 'yes' must be bool: horizontal flips"):
        check_augment_options({"flip": "yes"})
    with pytest.raises(ConfigError, match="fill_mode"):
        check_augment_options({"fill_mode": "mirror"})


def test_augmenter_layers_follow_the_switches():
    assert build_augmenter({}) == []
    names = [type(layer).__name__ for layer in build_augmenter(ALL_ON, seed=0)]
    assert names == ["RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomBrightness", "RandomContrast"]
    no_flip = [type(layer).__name__ for layer in build_augmenter({**ALL_ON, "flip": False}, seed=0)]
    assert "RandomFlip" not in no_flip and len(no_flip) == 5


def test_augmentation_keeps_shapes_and_range_and_is_the_identity_in_inference():
    images = np.random.default_rng(0).random((4, 16, 12, 3), dtype=np.float32)
    layers = build_augmenter(ALL_ON, seed=1)
    augmented = keras.ops.convert_to_numpy(apply_augmenter(layers, images, training=True))
    assert augmented.shape == images.shape
    assert augmented.min() >= 0.0 and augmented.max() <= 1.0
    assert not np.allclose(augmented, images)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(apply_augmenter(layers, images, training=False)), images)


def test_flip_only_when_enabled():
    image = np.zeros((1, 8, 8, 1), np.float32)
    image[0, :, :2] = 1.0  # a bar on the left edge: its mirror is a bar on the right
    batch = np.repeat(image, 64, axis=0)
    mirror = image[0, :, ::-1]
    flipped = keras.ops.convert_to_numpy(apply_augmenter(build_augmenter({"flip": True}, seed=0), batch))
    mirrored = [np.array_equal(x, mirror) for x in flipped]
    assert any(mirrored) and not all(mirrored)
    assert all(np.array_equal(x, image[0]) or m for x, m in zip(flipped, mirrored, strict=True))
    layers = build_augmenter({"flip": False, "brightness": 0.1}, seed=0)
    kept = keras.ops.convert_to_numpy(apply_augmenter(layers, batch))
    assert not any(np.allclose(x[:, :4], mirror[:, :4], atol=0.3) for x in kept)


def test_only_the_training_pipeline_is_augmented(digits):
    augmented = augment_bundle(digits, {"rotation": 0.1, "zoom": 0.1, "brightness": 0.2}, seed=0)
    for split in ("validation", "test"):
        for before, after in zip(_batches(getattr(digits, split)), _batches(getattr(augmented, split)), strict=True):
            np.testing.assert_array_equal(before, after)
    raw, first, second = _batches(digits.train, 1)[0], _batches(augmented.train, 1)[0], _batches(augmented.train, 1)[0]
    assert first.shape == raw.shape == (16, 8, 8, 1)
    assert not np.allclose(first, raw), "the training batches are augmented"
    assert not np.allclose(first, second), "every epoch draws new transforms"
    # The per-example data behind as_numpy (export parity, reports) is never augmented.
    np.testing.assert_array_equal(augmented.as_numpy("train", limit=8)[0], digits.as_numpy("train", limit=8)[0])
    assert augment_dataset(digits.train, {}) is digits.train


@pytest.mark.parametrize("mode", NORMALIZATIONS)
def test_normalization_round_trips(mode):
    images = np.random.default_rng(1).random((2, 4, 4, 3), dtype=np.float32)
    normalized = np.asarray(normalize_images(images, mode))
    np.testing.assert_allclose(denormalize_images(normalized, mode), images, atol=1e-5)
    if mode == "caffe":
        np.testing.assert_allclose(normalized, keras.applications.resnet.preprocess_input(images * 255.0), atol=1e-3)


def test_normalization_applies_to_every_split_but_augmentation_only_to_train(digits):
    grey = augment_bundle(digits, None, normalization="tf")
    x, _ = grey.as_numpy("test", limit=4)
    np.testing.assert_allclose(x, digits.as_numpy("test", limit=4)[0] * 2 - 1, atol=1e-6)
    assert _batches(grey.validation, 1)[0].min() < 0
    with pytest.raises(ConfigError, match="3 channel|channel"):
        augment_bundle(digits, None, normalization="caffe")
