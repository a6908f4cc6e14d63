"""The object every data source returns: batched train/validation/test pipelines plus their metadata."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from keras_nn.errors import ConfigError, DataError

SPLITS = ("train", "validation", "test")


@dataclass
class DatasetBundle:
    """Batched tf.data pipelines for one data set and what a model needs to know about them.

    Args:
        train: batched `(x, y)` pipeline, cached, shuffled each epoch, prefetched.
        validation: batched `(x, y)` pipeline, or None when the source has none and none was carved out
            (`validation_fraction=0`).
        test: batched `(x, y)` pipeline, or None when `test_fraction=0` and the source has no test split.
        num_classes: number of classes; `y` holds int32 ids in `[0, num_classes)`.
        input_shape: shape of one example's `x`, e.g. `(8, 8, 1)` (image), `(8, 8)` (sequence), `(F,)`
            (tabular) or `()` (text, a scalar string).
        class_names: the name of each class id, in id order.
        form: `"image"`, `"sequence"`, `"text"` or `"tabular"`.
        source: the source string that was loaded, e.g. `"embedded:digits"`.
        num_examples: examples per split, e.g. `{"train": 1293, "validation": 144, "test": 360}`; a split
            that is None is absent.

    Example:
        >>> bundle = load_dataset("embedded:digits", batch_size=64)
        >>> model.fit(bundle.train, validation_data=bundle.validation)
        >>> x, y = bundle.as_numpy("test", limit=100)
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset | None
    test: tf.data.Dataset | None
    num_classes: int
    input_shape: tuple
    class_names: list[str]
    form: str
    source: str
    num_examples: dict[str, int]
    # Unbatched, unshuffled, normalized examples per split; kept apart from the cached training pipeline so
    # that reading a few examples never races the cache or sees a shuffled order.
    _examples: dict[str, tf.data.Dataset | None] = field(default_factory=dict, repr=False, compare=False)

    def map(self, function) -> DatasetBundle:
        """A copy whose every split, batched pipelines and per-example datasets alike, goes through
        `function(x, y) -> (x, y)` (one that works on a batch as on one example: elementwise on `x`)."""

        def mapped(dataset):
            return None if dataset is None else dataset.map(function, num_parallel_calls=tf.data.AUTOTUNE)

        return dataclasses.replace(
            self,
            train=mapped(self.train).prefetch(tf.data.AUTOTUNE),
            validation=mapped(self.validation),
            test=mapped(self.test),
            _examples={split: mapped(dataset) for split, dataset in self._examples.items()},
        )

    def as_numpy(self, split: str = "test", limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Returns one split as numpy arrays, unbatched and in a fixed order.

        Args:
            split: `"train"`, `"validation"` or `"test"`.
            limit: at most this many examples (the first ones, in the split's fixed order); None for all.

        Returns:
            `(x, y)`: x float32 for image/sequence/tabular data (normalized like the pipelines; uint8 or
            the source's dtype when `normalize=False`), an object array of bytes for text; y int32 class ids.

        Example:
            >>> x, y = bundle.as_numpy("test", limit=256)   # representative data for int8 export
        """
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; use one of: {', '.join(SPLITS)}")
        ds = self._examples.get(split)
        if ds is None:
            ds = self._rebuild_unbatched(split)
        if limit is not None:
            if int(limit) < 0:
                raise ConfigError(f"limit={limit} is negative; use None for all examples or a count >= 0")
            ds = ds.take(int(limit))
        xs, ys = [], []
        for x, y in ds.batch(1024).as_numpy_iterator():
            xs.append(x)
            ys.append(y)
        if not xs:
            shape = tuple(self.input_shape)
            x_spec, _ = ds.element_spec
            dtype = object if x_spec.dtype == tf.string else x_spec.dtype.as_numpy_dtype
            return np.zeros((0, *shape), dtype=dtype), np.zeros((0,), dtype=np.int32)
        x = np.concatenate(xs)
        if x.dtype.kind == "S":
            # tf returns fixed-width bytes; an object array keeps each string's own length, like TF does.
            x = x.astype(object)
        return x, np.concatenate(ys).astype(np.int32)

    def _rebuild_unbatched(self, split: str) -> tf.data.Dataset:
        """Falls back to unbatching the pipeline when a bundle was built without per-example datasets."""
        batched = getattr(self, split)
        if batched is None:
            present = [name for name in SPLITS if getattr(self, name) is not None]
            raise DataError(
                f"{self.source} has no {split!r} split; use one of: {', '.join(present)} "
                f"(or set data.{split}_fraction above 0)"
            )
        return batched.unbatch()
