"""Data sets that ship with the installed packages, so training works offline (`embedded:NAME`).

`digits` is scikit-learn's 8x8 handwritten digits (1797 images, 10 classes, pixels 0..16). More sets are
added by putting an `EmbeddedDataset` in `EMBEDDED` (or calling `register_embedded`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from keras_nn.data.pipeline import LoadOptions, assemble, image_preprocess, resolve_form, split_examples
from keras_nn.errors import UnknownDatasetError


@dataclass(frozen=True)
class EmbeddedDataset:
    """One embedded image data set.

    Args:
        description: one line for `keras-nn list`.
        load: returns `(images, labels, class_names)`: images `(N, H, W)` or `(N, H, W, C)` with values in
            `[0, max_value]`, labels int class ids `(N,)`, and the name of each class id.
        max_value: the largest pixel value, used to normalize into [0, 1].
        forms: forms it can be served in, preferred (the `"auto"` choice) first. `"sequence"` serves each
            image row as a timestep (only for one-channel images).
    """

    description: str
    load: Callable[[], tuple[np.ndarray, np.ndarray, list[str]]]
    max_value: float
    forms: tuple[str, ...] = ("image", "sequence")


def _load_digits():
    # Imported here so `import keras_nn.data` does not pay for scikit-learn's data module.
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target, [str(name) for name in digits.target_names]


EMBEDDED: dict[str, EmbeddedDataset] = {
    "digits": EmbeddedDataset(
        description="8x8 handwritten digits, 1797 images, 10 classes (scikit-learn; no download)",
        load=_load_digits,
        max_value=16.0,
    ),
}


def register_embedded(name: str, dataset: EmbeddedDataset) -> None:
    """Adds an embedded data set under `embedded:NAME`.

    Args:
        name: the name after `embedded:`.
        dataset: its loader and description.

    Example:
        >>> register_embedded("tiny", EmbeddedDataset("4x4 toy images", load=my_loader, max_value=255.0))
    """
    EMBEDDED[name] = dataset


def load_embedded(name: str, form: str, opts: LoadOptions, source: str | None = None):
    """Loads `embedded:NAME` as a `DatasetBundle`.

    The split is stratified and depends only on the labels, `opts.test_fraction`,
    `opts.validation_fraction` and `opts.seed`, so the test split is the same for every form.

    Args:
        name: the embedded set's name, e.g. `"digits"`.
        form: `"auto"`, `"image"` (`(H, W, C)`) or `"sequence"` (`(H, W)`: rows as timesteps).
        opts: the checked options.
        source: the source string to record (defaults to `embedded:NAME`).

    Returns:
        The `DatasetBundle`.

    Raises:
        UnknownDatasetError: no embedded set has this name; the message lists them.
        ConfigError: the form is not available.

    Example:
        >>> bundle = load_embedded("digits", "sequence", LoadOptions())
        >>> bundle.input_shape
        (8, 8)
    """
    source = source or f"embedded:{name}"
    if name not in EMBEDDED:
        names = ", ".join(f"embedded:{key}" for key in sorted(EMBEDDED))
        raise UnknownDatasetError(
            f"unknown embedded data set {name!r}; use one of: {names} (see `keras-nn list`)"
        )
    spec = EMBEDDED[name]
    images, labels, class_names = spec.load()
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    channels = images.shape[-1]
    allowed = spec.forms if channels == 1 else tuple(f for f in spec.forms if f != "sequence")
    form = resolve_form(form, allowed, source)

    labels = np.asarray(labels).astype(np.int32)
    # Normalize in numpy, once, before the data enters tf.data (and its cache).
    if opts.normalize:
        images = images.astype(np.float32) / np.float32(spec.max_value)
    else:
        images = images.astype(np.float32)
    preprocess = image_preprocess(
        normalize=False,  # already scaled above
        scale=1.0,
        image_size=opts.image_size,
        squeeze_channels=form == "sequence",
    )
    examples, counts = split_examples(
        labels,
        opts,
        source,
        lambda idx: tf.data.Dataset.from_tensor_slices((images[idx], labels[idx])).map(
            lambda x, y: (preprocess(x), y), num_parallel_calls=tf.data.AUTOTUNE
        ),
    )
    height, width = opts.image_size or images.shape[1:3]
    input_shape = (height, width) if form == "sequence" else (height, width, channels)
    return assemble(
        examples,
        opts,
        num_classes=len(class_names),
        input_shape=input_shape,
        class_names=class_names,
        form=form,
        source=source,
        num_examples=counts,
    )
