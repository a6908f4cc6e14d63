"""What the file sources (`dir:` YOLO folders, `coco:` JSON) share: bad-label reporting, image reading,
padded box arrays, splits and the in-memory example datasets.

A file source first turns its labels into `LabeledImage` records (checking every box), then `read_records`
decodes and resizes every image once with PIL (an unreadable image is found here, before training, not in
the middle of an epoch) into one uint8 array.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from keras_nn.data.pipeline import LoadOptions, split_indices
from keras_nn.errors import ConfigError, DataError

BAD_LABEL_MODES = ("error", "skip")
# Box edges this far outside [0, 1] (rounding in a label writer) are clipped rather than reported.
EDGE_TOLERANCE = 0.01
# Above this many bytes of images, examples stream from a generator: a tf.data constant must stay under 2 GB.
_IN_GRAPH_LIMIT = 1 << 30


def check_bad_label_mode(mode) -> str:
    """Checks `on_bad_labels` (`"error"` or `"skip"`)."""
    if mode not in BAD_LABEL_MODES:
        raise ConfigError(
            f"on_bad_labels={mode!r} is not one of {', '.join(BAD_LABEL_MODES)}; use 'error' (stop at the first "
            "bad label) or 'skip' (drop bad boxes and images and list them)"
        )
    return mode


class BadLabels:
    """Collects bad boxes, label lines and images: raises at the first one (`"error"`) or lists them (`"skip"`).

    Args:
        mode: `"error"` or `"skip"`.

    Example:
        >>> problems = BadLabels("skip")
        >>> problems.report("labels/a.txt:3", "zero-size box (w=0)")
        >>> problems.lines
        ['labels/a.txt:3: zero-size box (w=0)']
    """

    def __init__(self, mode: str):
        self.mode = check_bad_label_mode(mode)
        self.lines: list[str] = []

    def report(self, where: str, problem: str) -> None:
        """Records one problem at `where` (a file, `file:line` or `file: annotation N`)."""
        line = f"{where}: {problem}"
        if self.mode == "error":
            raise DataError(f"{line}; fix it or set on_bad_labels='skip' to leave such boxes and images out")
        self.lines.append(line)


def check_box(x1, y1, x2, y2) -> tuple[str | None, tuple]:
    """Checks one normalized box; returns `(problem or None, clipped box)`.

    Args:
        x1, y1, x2, y2: the box, normalized.

    Returns:
        `(None, (x1, y1, x2, y2))` clipped to [0, 1] for a good box, else `(problem, box)`.
    """
    if not all(np.isfinite(v) for v in (x1, y1, x2, y2)):
        return "box has a non-finite coordinate", (x1, y1, x2, y2)
    if x2 - x1 <= 0 or y2 - y1 <= 0:
        return f"zero-size box (width {x2 - x1:g}, height {y2 - y1:g} of the image)", (x1, y1, x2, y2)
    low, high = -EDGE_TOLERANCE, 1.0 + EDGE_TOLERANCE
    if min(x1, y1) < low or max(x2, y2) > high:
        return (
            f"box ({x1:.4g}, {y1:.4g}, {x2:.4g}, {y2:.4g}) reaches outside the image (normalized corners must "
            "lie in [0, 1])",
            (x1, y1, x2, y2),
        )
    return None, tuple(float(np.clip(v, 0.0, 1.0)) for v in (x1, y1, x2, y2))


@dataclass
class LabeledImage:
    """One image file and its checked boxes.

    Args:
        path: the image file.
        boxes: float32 `[n, 5]` rows `(class_id, x1, y1, x2, y2)` normalized (n may be 0: background).
        split: `"train"`, `"validation"` or `"test"` when the source's layout says so, else None.
        name: how messages name the image (a path relative to the source).
    """

    path: Path
    boxes: np.ndarray
    split: str | None = None
    name: str = ""


def read_image(path: Path, image_size: tuple[int, int]) -> np.ndarray:
    """Decodes an image file as RGB uint8 resized to `image_size` `(H, W)` (a plain resize, no letterbox).

    Raises:
        OSError, ValueError, PIL errors: the file cannot be decoded.
    """
    height, width = image_size
    with Image.open(path) as image:
        # JPEG can decode straight to a smaller size; much faster for large photos.
        image.draft("RGB", (width, height))
        image = image.convert("RGB")
        if image.size != (width, height):
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8)


def read_records(
    records: list[LabeledImage], image_size: tuple[int, int], max_boxes: int, problems: BadLabels
) -> tuple[np.ndarray, np.ndarray, list[LabeledImage]]:
    """Reads every record's image and pads its boxes; unreadable images and overfull ones go to `problems`.

    Returns:
        `(images uint8 [n, H, W, 3], boxes float32 [n, max_boxes, 5], the records kept)`.
    """
    images, boxes, kept = [], [], []
    for record in records:
        try:
            pixels = read_image(record.path, image_size)
        except Exception as err:  # PIL raises OSError, ValueError, DecompressionBombError, SyntaxError...
            problems.report(record.name or str(record.path), f"cannot read the image ({type(err).__name__}: {err})")
            continue
        rows = record.boxes
        if len(rows) > max_boxes:
            problems.report(
                record.name or str(record.path),
                f"{len(rows)} objects, more than max_boxes={max_boxes} (the first {max_boxes} are kept); "
                "raise max_boxes",
            )
            rows = rows[:max_boxes]
        images.append(pixels)
        boxes.append(pad_boxes(rows, max_boxes))
        kept.append(record)
    height, width = image_size
    if not images:
        return np.zeros((0, height, width, 3), np.uint8), np.zeros((0, max_boxes, 5), np.float32), kept
    return np.stack(images), np.stack(boxes), kept


def pad_boxes(rows, max_boxes: int) -> np.ndarray:
    """`[n, 5]` rows -> `[max_boxes, 5]`, padded with `(-1, 0, 0, 0, 0)`; rows beyond max_boxes are dropped."""
    out = np.zeros((max_boxes, 5), np.float32)
    out[:, 0] = -1
    rows = np.asarray(rows, np.float32).reshape(-1, 5)[:max_boxes]
    out[: len(rows)] = rows
    return out


def split_records(records: list[LabeledImage], opts: LoadOptions, source: str) -> dict[str, list[int] | None]:
    """Indices of the records of each split: the layout's own splits, the missing ones carved from train.

    Validation and test are carved (seeded, like every other source) out of the records without a split of
    their own when the layout does not name them.
    """
    named = {split: [i for i, r in enumerate(records) if r.split == split] for split in ("train", "validation", "test")}
    free = [i for i, r in enumerate(records) if r.split in (None, "train")]
    if not free:
        raise DataError(f"{source} has no training images; add images (and labels) to its train split")
    parts = split_indices(
        np.zeros(len(free), np.int64),
        validation_fraction=0.0 if named["validation"] else opts.validation_fraction,
        test_fraction=0.0 if named["test"] else opts.test_fraction,
        seed=opts.seed,
        source=source,
    )
    free = np.asarray(free)
    out = {"train": sorted(free[parts["train"]].tolist())}
    for split in ("validation", "test"):
        if named[split]:
            out[split] = named[split]
        else:
            out[split] = sorted(free[parts[split]].tolist()) if parts[split] is not None else None
    return out


def array_examples(images: np.ndarray, boxes: np.ndarray, normalize: bool = True) -> tf.data.Dataset:
    """Unbatched `(image, boxes float32 [max_boxes, 5])` from uint8 arrays.

    Images are float32 `[H, W, 3]` in [0, 1], or uint8 as stored with `normalize=False` (a training pipeline
    shuffles those, a quarter of the memory, and normalizes after the shuffle with `normalize_example`).
    """
    images = np.ascontiguousarray(images)
    boxes = np.asarray(boxes, np.float32)
    if images.nbytes <= _IN_GRAPH_LIMIT:
        ds = tf.data.Dataset.from_tensor_slices((images, boxes))
    else:
        spec = (
            tf.TensorSpec(images.shape[1:], tf.uint8),
            tf.TensorSpec(boxes.shape[1:], tf.float32),
        )
        ds = tf.data.Dataset.from_generator(lambda: zip(images, boxes, strict=True), output_signature=spec)
        ds = ds.apply(tf.data.experimental.assert_cardinality(len(images)))
    if not normalize:
        return ds
    return ds.map(normalize_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def normalize_example(image, boxes):
    """uint8 image -> float32 in [0, 1]; boxes unchanged."""
    return tf.cast(image, tf.float32) / 255.0, boxes
