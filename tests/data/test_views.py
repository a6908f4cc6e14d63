import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from keras_nn.data.views import gaussian_blur, two_view_augmentation
from keras_nn.errors import ConfigError, ShapeError

RNG = np.random.default_rng(0)
GRAY = RNG.random((8, 16, 16, 1)).astype("float32")
RGB = RNG.random((8, 16, 16, 3)).astype("float32")
#: Everything off: each view must be the image itself.
NOTHING = {"crop_scale": (1.0, 1.0), "crop_ratio": (1.0, 1.0), "flip": False, "jitter_strength": 0.0,
           "grayscale_probability": 0.0, "blur": False}


def _numpy(views):
    return tuple(view.numpy() for view in views)


def test_views_have_the_image_shape_and_range_and_differ():
    for images in (GRAY, RGB):
        first, second = _numpy(two_view_augmentation(images.shape[1:], seed=1)(images))
        assert first.shape == second.shape == images.shape and first.dtype == np.float32
        assert first.min() >= 0.0 and first.max() <= 1.0 and second.min() >= 0.0 and second.max() <= 1.0
        assert not np.allclose(first, second)
    single = two_view_augmentation((16, 16, 1), seed=1)(GRAY[0])
    assert single[0].shape == single[1].shape == (16, 16, 1)


def test_with_every_transform_off_the_views_are_the_image():
    first, second = _numpy(two_view_augmentation((16, 16, 3), **NOTHING)(RGB))
    np.testing.assert_allclose(first, RGB, atol=1e-6)
    np.testing.assert_allclose(second, RGB, atol=1e-6)


def test_flip_gives_the_image_or_its_mirror():
    views = _numpy(two_view_augmentation((16, 16, 1), **{**NOTHING, "flip": True}, seed=3)(GRAY))
    mirrored = GRAY[:, :, ::-1]
    kinds = set()
    for view in views:
        for index in range(len(GRAY)):
            same, mirror = np.allclose(view[index], GRAY[index]), np.allclose(view[index], mirrored[index])
            assert same or mirror
            kinds.add(same)
    assert kinds == {True, False}


def test_crop_area_and_ratio():
    # A horizontal ramp: a crop of a quarter of the area at ratio 1 spans half the width, so half the values.
    ramp = np.tile(np.linspace(0.0, 1.0, 16, dtype="float32")[None, None, :, None], (8, 16, 1, 1))
    options = {**NOTHING, "crop_scale": (0.25, 0.25)}
    for view in _numpy(two_view_augmentation((16, 16, 1), **options, seed=0)(ramp)):
        spans = view.max(axis=(1, 2, 3)) - view.min(axis=(1, 2, 3))
        np.testing.assert_allclose(spans, 0.5, atol=1e-5)


def test_grayscale_uses_the_luma_weights():
    options = {**NOTHING, "grayscale_probability": 1.0}
    first, _ = _numpy(two_view_augmentation((16, 16, 3), **options)(RGB))
    luma = RGB @ np.array([0.2989, 0.5870, 0.1140], "float32")
    for channel in range(3):
        np.testing.assert_allclose(first[..., channel], luma, atol=1e-3)


def test_jitter_on_one_channel_changes_brightness_and_contrast_only():
    options = {**NOTHING, "jitter_strength": 1.0, "jitter_probability": 1.0}
    first, second = _numpy(two_view_augmentation((16, 16, 1), **options, seed=2)(GRAY))
    assert first.shape == GRAY.shape and not np.allclose(first, GRAY)
    # An affine change of the pixel values (clipped to [0, 1]) keeps their order within each image.
    for view in (first, second):
        for index in range(len(GRAY)):
            inside = (view[index] > 1e-6) & (view[index] < 1 - 1e-6)
            order = np.argsort(GRAY[index][inside])
            assert np.all(np.diff(view[index][inside][order]) >= -1e-6)


def test_gaussian_blur_matches_scipy():
    sigma = np.array([0.5, 1.0, 2.0], "float32")
    images = RGB[:3]
    blurred = gaussian_blur(tf.constant(images), tf.constant(sigma), kernel_size=5).numpy()
    for index, value in enumerate(sigma):
        expected = ndimage.gaussian_filter(
            images[index].astype("float64"), sigma=(value, value, 0), mode="mirror", truncate=2.0 / value
        )
        np.testing.assert_allclose(blurred[index], expected, atol=1e-5)


def test_runs_inside_dataset_map():
    augment = two_view_augmentation((16, 16, 3), seed=0)
    dataset = tf.data.Dataset.from_tensor_slices(RGB).batch(4).map(augment)
    pairs = list(dataset.as_numpy_iterator())
    assert len(pairs) == 2 and pairs[0][0].shape == (4, 16, 16, 3) and pairs[0][1].shape == (4, 16, 16, 3)
    assert not np.allclose(pairs[0][0], pairs[0][1])
    # Blur switches itself on from side 32 and runs in the map too.
    big = np.zeros((2, 32, 32, 3), "float32")
    dataset = tf.data.Dataset.from_tensor_slices(big).batch(2).map(two_view_augmentation((32, 32, 3), seed=0))
    assert next(dataset.as_numpy_iterator())[0].shape == (2, 32, 32, 3)


@pytest.mark.parametrize(
    "arguments, error, words",
    [
        ({"crop_scale": (0.5, 1.5)}, ConfigError, "crop larger than the image"),
        ({"crop_scale": (0.9, 0.5)}, ConfigError, "low <= high"),
        ({"crop_ratio": (0.0, 1.0)}, ConfigError, "crop_ratio"),
        ({"jitter_probability": 1.5}, ConfigError, "jitter_probability"),
        ({"image_shape": (16, 16)}, ShapeError, "height, width, channels"),
        ({"image_shape": (16, 16, 2)}, ShapeError, "1- or 3-channel"),
    ],
)
def test_bad_arguments_are_refused(arguments, error, words):
    arguments = {"image_shape": (16, 16, 3), **arguments}
    with pytest.raises(error, match=words):
        two_view_augmentation(**arguments)
