"""What every detection source returns: batched train/validation/test pipelines of images and boxes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from keras_nn.data.bundle import SPLITS
from keras_nn.errors import ConfigError, DataError


@dataclass
class DetectionBundle:
    """Batched tf.data pipelines of a detection data set and what a detector needs to know about them.

    Every pipeline yields `(images, boxes)`: images float32 `[batch, H, W, 3]` in [0, 1] (RGB), boxes float32
    `[batch, max_boxes, 5]` of rows `(class_id, x1, y1, x2, y2)` in normalized image coordinates (x to the
    right, y down); rows past an image's objects are padding `(-1, 0, 0, 0, 0)`.

    Args:
        train: batched training pipeline, shuffled each epoch (augmented when the loader was asked to).
        validation: batched pipeline in a fixed order, or None.
        test: batched pipeline in a fixed order, or None.
        num_classes: number of object classes; class ids are in `[0, num_classes)`.
        class_names: the name of each class id, in id order.
        input_shape: `(H, W, 3)` of one image.
        source: the source string that was loaded, e.g. `"embedded:shapes"`.
        num_examples: images per split, e.g. `{"train": 3000, "validation": 300, "test": 500}`.
        max_boxes: rows of each image's box array.
        skipped: one `"file[:line]: problem"` line per bad label, box or image left out
            (`on_bad_labels="skip"`).
        form: always `"detection"`.

    Example:
        >>> bundle = load_detection_dataset("embedded:shapes", batch_size=32)
        >>> images, boxes = next(iter(bundle.train))
        >>> images, boxes = bundle.as_numpy("test", limit=16)
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset | None
    test: tf.data.Dataset | None
    num_classes: int
    class_names: list[str]
    input_shape: tuple
    source: str
    num_examples: dict[str, int]
    max_boxes: int
    skipped: list[str] = field(default_factory=list)
    form: str = "detection"
    # Unbatched, unshuffled, unaugmented examples per split, so `as_numpy` has a fixed order and never
    # shares an iterator with the cached, shuffled training pipeline.
    _examples: dict[str, tf.data.Dataset | None] = field(default_factory=dict, repr=False, compare=False)

    def as_numpy(self, split: str = "test", limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Returns one split as numpy arrays, unbatched, unaugmented and in a fixed order.

        Args:
            split: `"train"`, `"validation"` or `"test"`.
            limit: at most this many images (the first ones of the split); None for all.

        Returns:
            `(images, boxes)`: float32 `[n, H, W, 3]` in [0, 1] and float32 `[n, max_boxes, 5]`.

        Raises:
            ConfigError: an unknown split or a negative limit.
            DataError: the split is absent.

        Example:
            >>> images, boxes = bundle.as_numpy("test", limit=64)   # int8 calibration images
        """
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; use one of: {', '.join(SPLITS)}")
        ds = self._examples.get(split)
        if ds is None:
            present = [name for name in SPLITS if self._examples.get(name) is not None]
            raise DataError(
                f"{self.source} has no {split!r} split; use one of: {', '.join(present)} "
                f"(or set data.{split}_fraction above 0)"
            )
        if limit is not None:
            if int(limit) < 0:
                raise ConfigError(f"limit={limit} is negative; use None for all images or a count >= 0")
            ds = ds.take(int(limit))
        images, boxes = [], []
        for x, y in ds.batch(256).as_numpy_iterator():
            images.append(x)
            boxes.append(y)
        if not images:
            return (
                np.zeros((0, *self.input_shape), np.float32),
                np.zeros((0, self.max_boxes, 5), np.float32),
            )
        return np.concatenate(images), np.concatenate(boxes)
