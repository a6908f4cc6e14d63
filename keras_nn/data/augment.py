"""On-the-fly image augmentation and input normalization for training pipelines.

Augmentation is built from Keras preprocessing layers (`keras.layers.RandomRotation`, `RandomFlip`,
`RandomBrightness`, `RandomZoom`, `RandomTranslation`, `RandomContrast`) and mapped over the batched training
pipeline only: validation, test and the exported model never see it. The layers run inside tf.data, so they
cost no accelerator time and work whatever the Keras backend.

Input normalization maps the pipeline's [0, 1] pixels to what pretrained weights expect (keras.applications'
"caffe", "torch" and "tf" conventions). Unlike augmentation it applies to every split, so the trained model,
its parity checks and its exports all take the same normalized input; `denormalize_images` undoes it for
plots.

Example:
    >>> options = check_augment_options({"rotation": 0.05, "brightness": 0.1})
    >>> bundle = augment_bundle(load_dataset("embedded:digits", form="image"), options, seed=0)
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from keras_nn.config.schema import Field, defaults, validate_section
from keras_nn.errors import ConfigError

FILL_MODES = ("constant", "reflect", "nearest", "wrap")
NORMALIZATIONS = ("unit", "tf", "torch", "caffe")
#: The transforms that take a strength in [0, 1), with what the strength means.
_STRENGTHS = {
    "rotation": "fraction of a full turn, e.g. 0.05 (+-18 degrees)",
    "brightness": "largest change as a fraction of the [0, 1] range, e.g. 0.1",
    "contrast": "largest contrast change factor, e.g. 0.1",
    "zoom": "largest zoom in or out as a fraction of the size, e.g. 0.1",
    "translation": "largest shift as a fraction of the size, e.g. 0.125 (4 of 32 pixels)",
}


def _strength(help_text):
    return Field((float,), 0.0, minimum=0.0, maximum=1.0, exclusive_maximum=True, none_is_default=True, help=help_text)


#: The schema of `task_options.augment` (everything off by default: a recipe switches on what suits its classes).
AUGMENT_SCHEMA = {
    "rotation": _strength(_STRENGTHS["rotation"]),
    "flip": Field(
        (bool,), False,
        help="horizontal flips; leave them off where a mirror image changes the class, as for digits and letters",
    ),
    "brightness": _strength(_STRENGTHS["brightness"]),
    "contrast": _strength(_STRENGTHS["contrast"]),
    "zoom": _strength(_STRENGTHS["zoom"]),
    "translation": _strength(_STRENGTHS["translation"]),
    "fill_mode": Field((str,), "constant", choices=FILL_MODES),
}
AUGMENT_DEFAULTS = defaults(AUGMENT_SCHEMA)

_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)


def check_augment_options(options, key="task_options.augment"):
    """Validates an augmentation mapping against `AUGMENT_SCHEMA` and fills in the defaults.

    Args:
        options: a mapping of `AUGMENT_SCHEMA` keys, or None/False (no augmentation).
        key: the recipe key, for messages.

    Returns:
        A full mapping of every key in `AUGMENT_SCHEMA`.

    Raises:
        ConfigError: an unknown key or a value of the wrong type or out of range.
    """
    return validate_section(options, AUGMENT_SCHEMA, key)


def augmentation_enabled(options):
    """True when a checked augmentation mapping switches on at least one transform."""
    return bool(options["flip"]) or any(options[name] > 0 for name in _STRENGTHS)


def build_augmenter(options, seed=None):
    """The augmentation as a list of Keras preprocessing layers (empty when everything is off).

    Args:
        options: a mapping checked by `check_augment_options`.
        seed: base seed of the random layers (each layer gets its own, derived from it).

    Returns:
        A list of layers; `apply_augmenter` runs them in order.
    """
    import keras

    options = check_augment_options(options)

    def next_seed(offset):
        return None if seed is None else int(seed) + offset

    layers = []
    fill = {"fill_mode": options["fill_mode"], "fill_value": 0.0}
    if options["flip"]:
        layers.append(keras.layers.RandomFlip("horizontal", seed=next_seed(1), name="augment_flip"))
    if options["rotation"]:
        layers.append(keras.layers.RandomRotation(options["rotation"], seed=next_seed(2), name="augment_rotation", **fill))
    if options["zoom"]:
        layers.append(keras.layers.RandomZoom(options["zoom"], seed=next_seed(3), name="augment_zoom", **fill))
    if options["translation"]:
        factor = options["translation"]
        layers.append(
            keras.layers.RandomTranslation(factor, factor, seed=next_seed(4), name="augment_translation", **fill)
        )
    if options["brightness"]:
        layers.append(
            keras.layers.RandomBrightness(
                options["brightness"], value_range=(0.0, 1.0), seed=next_seed(5), name="augment_brightness"
            )
        )
    if options["contrast"]:
        layers.append(
            keras.layers.RandomContrast(
                options["contrast"], value_range=(0.0, 1.0), seed=next_seed(6), name="augment_contrast"
            )
        )
    return layers


def apply_augmenter(layers, images, training=True):
    """Runs the augmentation layers on a batch of `(batch, height, width, channels)` images in [0, 1].

    With `training=False` every Keras preprocessing layer is the identity, so evaluation is deterministic.
    Pixels stay in [0, 1] (rotation and zoom interpolate; brightness and contrast clip to the value range).
    """
    for layer in layers:
        images = layer(images, training=training)
    return images


def augment_dataset(dataset, options, seed=None):
    """Maps the augmentation over a batched `(images, labels)` pipeline (the training one).

    Args:
        dataset: batched `(x, y)` tf.data pipeline of `(batch, H, W, C)` float images in [0, 1].
        options: augmentation mapping (checked here).
        seed: base seed of the random layers.

    Returns:
        The augmented pipeline (new random transforms every epoch), or `dataset` itself when every transform
        is off.
    """
    options = check_augment_options(options)
    layers = build_augmenter(options, seed=seed)
    if not layers:
        return dataset
    element = dataset.element_spec[0]
    if element.shape.rank != 4:
        raise ConfigError(
            f"augmentation needs batches of images (batch, height, width, channels); got {element.shape}. Use "
            "data.form=image or switch task_options.augment off"
        )

    def augment(x, y):
        return apply_augmenter(layers, x, training=True), y

    # One batch at a time: the random layers draw from a shared seed state, and parallel calls would draw in
    # a racy order, making a seeded run irreproducible. The ops inside still use every core, and prefetching
    # overlaps the augmentation with the training step.
    return dataset.map(augment).prefetch(tf.data.AUTOTUNE)


def normalize_images(images, mode):
    """Maps [0, 1] RGB (or grey) pixels to what a model's weights expect.

    Args:
        images: float tensor or array `(..., H, W, C)` in [0, 1].
        mode: `"unit"` (unchanged), `"tf"` ([-1, 1], keras.applications MobileNet/Inception), `"torch"`
            (ImageNet mean/std), `"caffe"` (BGR, 0..255 minus the ImageNet mean: keras.applications ResNet50
            and VGG).

    Returns:
        The normalized images (a tensor for tensor input).
    """
    check_normalization(mode)
    if mode == "unit":
        return images
    if mode == "tf":
        return images * 2.0 - 1.0
    _check_rgb(images, mode)
    if mode == "torch":
        return (images - _IMAGENET_MEAN) / _IMAGENET_STD
    return images[..., ::-1] * 255.0 - _CAFFE_MEAN_BGR


def denormalize_images(images, mode):
    """The inverse of `normalize_images`: back to [0, 1] RGB for plotting (numpy in, numpy out)."""
    check_normalization(mode)
    images = np.asarray(images, np.float32)
    if mode == "tf":
        images = (images + 1.0) / 2.0
    elif mode == "torch":
        images = images * _IMAGENET_STD + _IMAGENET_MEAN
    elif mode == "caffe":
        images = ((images + _CAFFE_MEAN_BGR) / 255.0)[..., ::-1]
    return np.clip(images, 0.0, 1.0)


def check_normalization(mode, key="task_options.input_normalization"):
    if mode not in NORMALIZATIONS:
        raise ConfigError(f"recipe key {key!r} = {mode!r} is not allowed; choose one of: {', '.join(NORMALIZATIONS)}")
    return mode


def _check_rgb(images, mode):
    channels = images.shape[-1]
    if channels is not None and channels != 3:
        raise ConfigError(
            f"input_normalization={mode!r} uses the ImageNet RGB statistics, but the images have {channels} "
            "channel(s); use 'unit' or 'tf'"
        )


def augment_bundle(bundle, augment=None, normalization="unit", seed=None):
    """A copy of a `DatasetBundle` with augmentation on its training pipeline and normalization on every split.

    Augmentation runs first, on [0, 1] pixels (brightness and contrast are defined on that range), then
    normalization. The per-example datasets behind `bundle.as_numpy` are normalized too, so parity checks and
    representative data for export see what the model sees; they are never augmented.

    Args:
        bundle: a `DatasetBundle` of images.
        augment: augmentation mapping (see `check_augment_options`), or None for none.
        normalization: one of `NORMALIZATIONS`.
        seed: base seed of the random layers.

    Returns:
        A new `DatasetBundle` (the original is left as it was).
    """
    check_normalization(normalization)
    if normalization in ("torch", "caffe"):
        _check_rgb(np.zeros((1, *bundle.input_shape), np.float32), normalization)  # here, not inside a tf.data trace
    train = augment_dataset(bundle.train, augment, seed=seed)
    if normalization == "unit":
        return dataclasses.replace(bundle, train=train)

    def normalize(x, y):
        return normalize_images(x, normalization), y

    return dataclasses.replace(bundle, train=train).map(normalize)
