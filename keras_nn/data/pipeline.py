"""Shared pieces of every data source: option checks, deterministic splits, image preprocessing, batching.

Each source (`embedded`, `tfds`, `files`) turns its data into unbatched, normalized `(x, y)` datasets per
split and hands them to `assemble`, which builds the batched pipelines and the `DatasetBundle`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from sklearn.model_selection import train_test_split

from keras_nn.config.vocabulary import DATA_FORMS
from keras_nn.data.bundle import SPLITS, DatasetBundle
from keras_nn.errors import ConfigError, DataError

FORMS = DATA_FORMS
AUTOTUNE = tf.data.AUTOTUNE


@dataclass(frozen=True)
class LoadOptions:
    """The source-independent options of `load_dataset`, checked once.

    Args:
        batch_size: examples per batch (the last batch may be smaller).
        image_size: `(height, width)` to resize images to with aspect-preserving padding, or None.
        validation_fraction: share of the training data carved out for validation when the source has no
            validation split.
        test_fraction: share of the data carved out for testing when the source has no test split.
        seed: seed of the split and of the training shuffle.
        cache: cache the normalized examples in memory after the first pass.
        shuffle_buffer: size of the training shuffle buffer.
        normalize: scale pixels to float32 in [0, 1].
        skip_unreadable: leave out (with a warning naming each) the files of a `dir:` folder that cannot be
            decoded, instead of stopping.
    """

    batch_size: int = 32
    image_size: tuple[int, int] | None = None
    validation_fraction: float = 0.1
    test_fraction: float = 0.2
    seed: int = 0
    cache: bool = True
    shuffle_buffer: int = 10000
    normalize: bool = True
    skip_unreadable: bool = False


def check_options(
    *,
    batch_size,
    image_size,
    validation_fraction,
    test_fraction,
    seed,
    cache,
    shuffle_buffer,
    normalize,
    skip_unreadable=False,
) -> LoadOptions:
    """Validates the generic `load_dataset` arguments and returns them as `LoadOptions`.

    Args:
        batch_size, image_size, validation_fraction, test_fraction, seed, cache, shuffle_buffer,
        normalize, skip_unreadable: as given to `load_dataset`.

    Returns:
        A `LoadOptions` with `image_size` as a tuple of two ints (or None).

    Raises:
        ConfigError: a value is of the wrong type or out of range; the message names it and the fix.

    Example:
        >>> check_options(batch_size=32, image_size=[32, 32], validation_fraction=0.1, test_fraction=0.2,
        ...               seed=0, cache=True, shuffle_buffer=1000, normalize=True).image_size
        (32, 32)
    """
    return LoadOptions(
        batch_size=_positive_int("batch_size", batch_size, example=32),
        image_size=check_image_size(image_size),
        validation_fraction=_fraction("validation_fraction", validation_fraction, example=0.1),
        test_fraction=_fraction("test_fraction", test_fraction, example=0.2),
        seed=_int("seed", seed),
        cache=bool(cache),
        shuffle_buffer=_positive_int("shuffle_buffer", shuffle_buffer, example=10000),
        normalize=bool(normalize),
        skip_unreadable=bool(skip_unreadable),
    )


def is_int(value) -> bool:
    """True for a Python or numpy integer that is not a bool."""
    # bool is an int subclass, but `batch_size=True` is a config mistake, not 1.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _int(name: str, value) -> int:
    if not is_int(value):
        raise ConfigError(
            f"data.{name}={value!r} is not an integer; set data.{name} to a whole number, e.g. 0"
        )
    return int(value)


def _positive_int(name: str, value, example: int) -> int:
    if not is_int(value) or value < 1:
        raise ConfigError(f"data.{name}={value!r} must be an integer >= 1; set e.g. data.{name}={example}")
    return int(value)


def _fraction(name: str, value, example: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) < 1.0:
        raise ConfigError(
            f"data.{name}={value!r} is out of range; use a number in [0, 1), e.g. data.{name}={example}"
        )
    return float(value)


def check_image_size(image_size) -> tuple[int, int] | None:
    """Turns `image_size` (None, an int, or a pair) into `(height, width)` or None.

    Args:
        image_size: None, a positive int (square), or a list/tuple of two positive ints `[H, W]`.

    Returns:
        `(height, width)` or None.

    Raises:
        ConfigError: anything else; the message shows the accepted spelling.

    Example:
        >>> check_image_size([32, 28])
        (32, 28)
    """
    if image_size is None:
        return None
    if is_int(image_size):
        image_size = (image_size, image_size)
    if (
        isinstance(image_size, Sequence)
        and not isinstance(image_size, str)
        and len(image_size) == 2
        and all(is_int(v) and v >= 1 for v in image_size)
    ):
        return (int(image_size[0]), int(image_size[1]))
    raise ConfigError(
        f"data.image_size={image_size!r} is not [height, width] of two positive integers; "
        "set e.g. data.image_size=[32,32]"
    )


def resolve_form(form: str, allowed: Sequence[str], source: str) -> str:
    """Checks `form` against the forms a source can produce and resolves `"auto"` to the first of them.

    Args:
        form: the requested form (`"auto"`, `"image"`, `"sequence"`, `"text"`, `"tabular"`).
        allowed: the forms this source supports, preferred first.
        source: the source string, for the message.

    Returns:
        The concrete form.

    Raises:
        ConfigError: `form` is unknown or not available for this source; the message lists the choices.

    Example:
        >>> resolve_form("auto", ("image", "sequence"), "embedded:digits")
        'image'
    """
    if form not in FORMS:
        raise ConfigError(f"unknown data.form {form!r}; use one of: {', '.join(FORMS)}")
    if form == "auto":
        return allowed[0]
    if form not in allowed:
        raise ConfigError(
            f"form {form!r} is not available for {source}; set data.form to one of: "
            f"{', '.join(('auto', *allowed))}"
        )
    return form


def _can_stratify(labels: np.ndarray, n_holdout: int) -> bool:
    # train_test_split(stratify=...) needs two members per class and room for every class on both sides;
    # tiny folders (a handful of files) fall back to a plain seeded shuffle instead of failing.
    counts = np.unique(labels, return_counts=True)[1]
    n_classes = len(counts)
    return bool(counts.min() >= 2 and n_holdout >= n_classes and len(labels) - n_holdout >= n_classes)


def _holdout(indices: np.ndarray, labels: np.ndarray, fraction: float, seed: int, what: str, source: str):
    n_holdout = math.ceil(fraction * len(indices))
    if len(indices) - n_holdout < 1:
        raise DataError(
            f"{source} has only {len(indices)} examples left, too few to carve a {what} split of "
            f"{fraction:g}; add data or lower data.{what}_fraction"
        )
    sub_labels = labels[indices]
    stratify = sub_labels if _can_stratify(sub_labels, n_holdout) else None
    keep, held = train_test_split(indices, test_size=n_holdout, random_state=seed, stratify=stratify)
    return np.sort(keep), np.sort(held)


def split_indices(
    labels: np.ndarray, *, validation_fraction: float, test_fraction: float, seed: int, source: str = "data"
) -> dict[str, np.ndarray | None]:
    """Splits example indices into train/validation/test, stratified by label and deterministic in `seed`.

    The test split is taken first from all examples, then validation from what is left, so the test split
    depends only on the labels, `test_fraction` and `seed` (not on the form or `validation_fraction`).

    Args:
        labels: int class id of every example.
        validation_fraction: share of the remaining (non-test) examples held out for validation; 0 for none.
        test_fraction: share of all examples held out for testing; 0 for none.
        seed: random state of both splits.
        source: the source string, for error messages.

    Returns:
        `{"train": idx, "validation": idx or None, "test": idx or None}`, each sorted ascending.

    Raises:
        DataError: too few examples to leave any for training.

    Example:
        >>> parts = split_indices(y, validation_fraction=0.1, test_fraction=0.2, seed=0)
        >>> x[parts["test"]]
    """
    labels = np.asarray(labels)
    indices = np.arange(len(labels))
    test = validation = None
    if test_fraction > 0:
        indices, test = _holdout(indices, labels, test_fraction, seed, "test", source)
    if validation_fraction > 0:
        indices, validation = _holdout(indices, labels, validation_fraction, seed, "validation", source)
    return {"train": indices, "validation": validation, "test": test}


def image_preprocess(
    *, normalize: bool, scale: float, image_size: tuple[int, int] | None, squeeze_channels: bool = False
):
    """Returns a tf function that normalizes and optionally resizes one image tensor `(H, W, C)`.

    Args:
        normalize: divide by `scale` into float32 in [0, 1]; when False the source dtype is kept.
        scale: the largest pixel value of the source (255 for uint8, 16 for digits).
        image_size: `(height, width)` to resize to with `tf.image.resize_with_pad`, or None.
        squeeze_channels: drop the single channel axis, giving `(H, W)` (the row-by-row sequence form).

    Returns:
        A function `image -> image` usable inside `tf.data.Dataset.map`.

    Example:
        >>> fn = image_preprocess(normalize=True, scale=255.0, image_size=(32, 32))
        >>> ds = ds.map(lambda x, y: (fn(x), y))
    """

    def preprocess(image):
        source_dtype = image.dtype
        if normalize:
            image = tf.cast(image, tf.float32) / scale
        if image_size is not None:
            # resize_with_pad keeps the aspect ratio and pads with zeros, so objects are not distorted.
            image = tf.image.resize_with_pad(image, image_size[0], image_size[1])
            if not normalize and image.dtype != source_dtype:
                if source_dtype.is_integer:
                    image = tf.round(image)
                image = tf.saturate_cast(image, source_dtype)
        if squeeze_channels:
            image = tf.squeeze(image, axis=-1)
        return image

    return preprocess


def batch_train(ds: tf.data.Dataset, opts: LoadOptions) -> tf.data.Dataset:
    """cache -> shuffle (reshuffled each epoch, seeded) -> batch -> prefetch."""
    if opts.cache:
        ds = ds.cache()
    ds = ds.shuffle(opts.shuffle_buffer, seed=opts.seed, reshuffle_each_iteration=True)
    return ds.batch(opts.batch_size).prefetch(AUTOTUNE)


def batch_eval(ds: tf.data.Dataset, opts: LoadOptions) -> tf.data.Dataset:
    """cache -> batch -> prefetch, in a fixed order; the cache filled at once (`filled`)."""
    if not opts.cache:
        return ds.batch(opts.batch_size).prefetch(AUTOTUNE)
    return filled(ds.cache().batch(opts.batch_size).prefetch(AUTOTUNE))


def filled(ds: tf.data.Dataset) -> tf.data.Dataset:
    """Reads a cached evaluation pipeline through once, so its cache is complete before Keras reads it.

    Under a tf.distribute strategy Keras stops an evaluation after the known number of batches and drops the
    iterator before it reaches the end; tf.data then throws the partial cache away (and logs
    "The calling iterator did not fully read the dataset being cached") on every evaluation.
    """
    ds.reduce(np.int64(0), lambda count, _: count + 1)
    return ds


def batch_examples(examples, split, batch_size, shuffle, seed, shuffle_buffer, cache):
    """The batched pipeline of `examples[split]` (None when the split is absent): cached, shuffled if asked."""
    ds = examples.get(split)
    if ds is None:
        return None
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return filled(ds) if cache and not shuffle else ds


def cardinality(ds: tf.data.Dataset, fallback: int = -1) -> int:
    """Number of examples of an unbatched dataset when tf.data knows it, else `fallback`."""
    n = int(ds.cardinality().numpy())
    return n if n >= 0 else fallback


def assemble(
    examples: dict[str, tf.data.Dataset | None],
    opts: LoadOptions,
    *,
    num_classes: int,
    input_shape: tuple,
    class_names: Sequence[str],
    form: str,
    source: str,
    num_examples: dict[str, int] | None = None,
) -> DatasetBundle:
    """Builds the batched pipelines from unbatched, normalized `(x, y)` datasets and wraps them in a bundle.

    Args:
        examples: `{"train": ds, "validation": ds or None, "test": ds or None}`; each yields one normalized
            example `(x, y)` with y int32.
        opts: the checked options.
        num_classes, input_shape, class_names, form, source: the bundle's metadata.
        num_examples: examples per split when the caller knows them; otherwise taken from cardinality.

    Returns:
        The `DatasetBundle`.

    Example:
        >>> assemble({"train": tr, "validation": va, "test": te}, opts, num_classes=10,
        ...          input_shape=(8, 8, 1), class_names=names, form="image", source="embedded:digits")
    """
    if examples.get("train") is None:
        raise DataError(f"{source} produced no training data; check the source holds labelled examples")
    counts = {}
    for split in SPLITS:
        ds = examples.get(split)
        if ds is not None:
            counts[split] = (num_examples or {}).get(split, cardinality(ds))
    train = batch_train(examples["train"], opts)
    validation = batch_eval(examples["validation"], opts) if examples.get("validation") is not None else None
    test = batch_eval(examples["test"], opts) if examples.get("test") is not None else None
    return DatasetBundle(
        train=train,
        validation=validation,
        test=test,
        num_classes=int(num_classes),
        input_shape=tuple(int(d) for d in input_shape),
        class_names=[str(name) for name in class_names],
        form=form,
        source=source,
        num_examples=counts,
        _examples={split: examples.get(split) for split in SPLITS},
    )


def split_examples(labels: np.ndarray, opts: LoadOptions, source: str, make):
    """Splits by label and builds each split's dataset with `make(indices)`; returns (examples, counts)."""
    parts = split_indices(
        labels,
        validation_fraction=opts.validation_fraction,
        test_fraction=opts.test_fraction,
        seed=opts.seed,
        source=source,
    )
    examples = {split: (make(idx) if idx is not None else None) for split, idx in parts.items()}
    counts = {split: len(idx) for split, idx in parts.items() if idx is not None}
    return examples, counts
