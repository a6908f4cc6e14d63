"""`load_detection_dataset`: one entry point for every detection source, chosen by the source's scheme."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_nn.data.bundle import SPLITS
from keras_nn.data.detection.augment import augment_detection, check_detection_augment
from keras_nn.data.detection.bundle import DetectionBundle
from keras_nn.data.detection.records import (
    BadLabels,
    array_examples,
    check_bad_label_mode,
    normalize_example,
    read_records,
    split_records,
)
from keras_nn.data.detection.scenes import DEFAULT_IMAGE_SIZE, SCENE_COUNTS, SHAPE_CLASSES, generate_scenes
from keras_nn.data.pipeline import check_image_size, check_options, filled, is_int
from keras_nn.errors import ConfigError, UnknownDatasetError

#: The detection sources: scheme -> what follows it.
DETECTION_SCHEMES = {
    "embedded": "embedded:shapes (generated scenes of shapes on textured backgrounds; synthetic)",
    "dir": "dir:PATH (images with YOLO .txt labels)",
    "coco": "coco:PATH.json (a COCO annotation file)",
    "tfds": "tfds:voc or tfds:voc/2007 (TensorFlow Datasets)",
}
EMBEDDED_DETECTION = ("shapes",)
#: What `keras-nn list` shows for the detection sources.
DETECTION_SOURCES = {
    "embedded:shapes": "circles, squares, triangles, crosses on textured backgrounds, 3000/300/500 (detection; synthetic)",
    "dir:PATH": "images with YOLO-format .txt labels, classes.txt or data.yaml names (detection)",
    "coco:FILE.json": "a COCO annotation file and its images (detection)",
    "tfds:voc": "PASCAL VOC 2007/2012 through TensorFlow Datasets (detection)",
}
_HELP = "use one of: " + "; ".join(DETECTION_SCHEMES.values())


def load_detection_dataset(
    source: str = "embedded:shapes",
    *,
    image_size=DEFAULT_IMAGE_SIZE,
    batch_size: int = 32,
    seed: int = 0,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.2,
    max_boxes: int = 20,
    augment=False,
    on_bad_labels: str = "error",
    data_dir: str | None = None,
    cache: bool = True,
    shuffle_buffer: int = 10000,
    num_scenes: dict | None = None,
) -> DetectionBundle:
    """Loads a detection data set as batched tf.data pipelines of images and boxes.

    Args:
        source: `"embedded:shapes"` (generated scenes, synthetic), `"dir:PATH"` (images with YOLO `.txt`
            labels), `"coco:PATH.json"` (a COCO annotation file) or `"tfds:voc"` / `"tfds:voc/2007"`.
        image_size: `(H, W)` (or one int) every image is resized to; a plain resize, boxes stay normalized.
        batch_size: images per batch.
        seed: seed of the generated scenes, of the carved splits and of the training shuffle and augmentation.
        validation_fraction: share of the training images carved out for validation when the source has no
            validation split (ignored by `embedded:shapes`, which has its own splits).
        test_fraction: share of the images carved out for testing when the source has no test split
            (ignored by `embedded:shapes`).
        max_boxes: rows of each image's box array.
        augment: False, True (`DETECTION_AUGMENT_DEFAULTS`: flip, zoom, shift, brightness, contrast) or a dict
            overriding some defaults; applied to the training pipeline only.
        on_bad_labels: `"error"` raises `DataError` at the first malformed label line, box outside the image,
            zero-size box, class id beyond the class list, missing or unreadable image; `"skip"` leaves the bad
            box (or image) out and lists it in `bundle.skipped`.
        data_dir: TFDS data directory (None: TFDS's default).
        cache: cache decoded TFDS examples in memory (file and generated sources are in memory anyway).
        shuffle_buffer: training shuffle buffer size.
        num_scenes: `embedded:shapes` scenes per split, e.g. `{"train": 200, "validation": 20, "test": 50}`
            (None: `SCENE_COUNTS`, 3000/300/500).

    Returns:
        A `DetectionBundle` whose pipelines yield `(images float32 [b, H, W, 3] in [0, 1], boxes float32
        [b, max_boxes, 5])`.

    Raises:
        UnknownDatasetError: an unknown scheme, embedded name or TFDS name.
        MissingPathError: a `dir:` folder or `coco:` file that does not exist.
        DataError: bad labels or images (with `on_bad_labels="error"`), or no usable images.
        ConfigError: an option out of range.

    Example:
        >>> bundle = load_detection_dataset("embedded:shapes", image_size=(96, 96), augment=True)
        >>> images, boxes = next(iter(bundle.train))
        >>> images.shape, boxes.shape
        (TensorShape([32, 96, 96, 3]), TensorShape([32, 20, 5]))
    """
    if not isinstance(source, str):
        raise UnknownDatasetError(f"detection data source {source!r} is not a string; {_HELP}")
    source = source.strip()
    image_size = check_image_size(image_size)
    if image_size is None:
        raise ConfigError("data.image_size is required for detection; set e.g. data.image_size=[96,96]")
    opts = check_options(
        batch_size=batch_size,
        image_size=image_size,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        seed=seed,
        cache=cache,
        shuffle_buffer=shuffle_buffer,
        normalize=True,
    )
    if not is_int(max_boxes) or max_boxes < 1:
        raise ConfigError(f"data.max_boxes={max_boxes!r} must be an integer >= 1; set e.g. data.max_boxes=20")
    augment_options = check_detection_augment(augment)
    check_bad_label_mode(on_bad_labels)
    scheme, sep, rest = source.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in DETECTION_SCHEMES:
        raise UnknownDatasetError(f"unknown detection data source {source!r}; {_HELP}")

    skipped: list[str] = []
    if scheme == "embedded":
        arrays, class_names, counts = _shapes(rest.strip(), image_size, seed, max_boxes, num_scenes, source)
    elif scheme == "tfds":
        from keras_nn.data.detection.tfds_voc import read_tfds_detection

        examples, class_names, counts = read_tfds_detection(rest, opts, image_size, max_boxes, data_dir, source)
        arrays = None
    else:
        problems = BadLabels(on_bad_labels)
        if scheme == "dir":
            from keras_nn.data.detection.yolo_files import read_yolo_folder

            records, class_names = read_yolo_folder(rest, problems, source)
        else:
            from keras_nn.data.detection.coco import read_coco_json

            records, class_names = read_coco_json(rest, problems, source)
        images, boxes, records = read_records(records, image_size, max_boxes, problems)
        parts = split_records(records, opts, source)
        arrays = {split: (images[idx], boxes[idx]) for split, idx in parts.items() if idx is not None}
        counts = {split: len(idx) for split, idx in parts.items() if idx is not None}
        skipped = problems.lines

    if arrays is not None:
        # In memory already: no cache; the training shuffle holds uint8 images, normalized after it.
        examples = {split: array_examples(*arrays[split]) if split in arrays else None for split in SPLITS}
        train = _train_pipeline(array_examples(*arrays["train"], normalize=False), opts, augment_options, uint8=True)
        cache = False
    else:
        train = _train_pipeline(examples["train"], opts, augment_options, cache=opts.cache)
        cache = opts.cache
    return DetectionBundle(
        train=train,
        validation=_eval_pipeline(examples.get("validation"), opts, cache=cache),
        test=_eval_pipeline(examples.get("test"), opts, cache=cache),
        num_classes=len(class_names),
        class_names=[str(n) for n in class_names],
        input_shape=(image_size[0], image_size[1], 3),
        source=source,
        num_examples=counts,
        max_boxes=int(max_boxes),
        skipped=list(skipped),
        _examples=dict(examples),
    )


def _shapes(name, image_size, seed, max_boxes, num_scenes, source):
    if name not in EMBEDDED_DETECTION:
        raise UnknownDatasetError(
            f"unknown embedded detection set {name!r} in {source!r}; use one of: "
            + ", ".join(f"embedded:{n}" for n in EMBEDDED_DETECTION)
        )
    counts = dict(SCENE_COUNTS)
    if num_scenes is not None:
        unknown = sorted(set(num_scenes) - set(counts))
        if unknown or not all(is_int(v) and v >= 0 for v in num_scenes.values()):
            raise ConfigError(
                f"num_scenes={num_scenes!r}: give whole numbers >= 0 for train, validation, test; "
                "e.g. {train: 3000, validation: 300, test: 500}"
            )
        counts.update({k: int(v) for k, v in num_scenes.items()})
    if counts["train"] < 1:
        raise ConfigError(f"num_scenes train={counts['train']} must be at least 1")
    # One independent stream per split: the test scenes do not change when the train count does.
    streams = np.random.SeedSequence(seed).spawn(len(SPLITS))
    arrays = {
        split: generate_scenes(counts[split], image_size, seed=stream.generate_state(1)[0], max_boxes=max_boxes)
        for stream, split in zip(streams, SPLITS, strict=True)
        if counts[split] > 0
    }
    return arrays, list(SHAPE_CLASSES), {k: v for k, v in counts.items() if v > 0}


def _train_pipeline(ds, opts, augment_options, *, cache=False, uint8=False):
    if cache:
        ds = ds.cache()
    ds = ds.shuffle(opts.shuffle_buffer, seed=opts.seed, reshuffle_each_iteration=True)
    if uint8:
        ds = ds.map(normalize_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if augment_options is not None:
        # A fresh stateless seed per example and epoch, from a seeded random stream: reproducible runs.
        seeds = tf.data.Dataset.random(seed=opts.seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(ds, seeds).map(
            lambda example, seed: augment_detection(example[0], example[1], seed, augment_options),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    return ds.batch(opts.batch_size).prefetch(tf.data.AUTOTUNE)


def _eval_pipeline(ds, opts, *, cache):
    if ds is None:
        return None
    if not cache:
        return ds.batch(opts.batch_size).prefetch(tf.data.AUTOTUNE)
    return filled(ds.cache().batch(opts.batch_size).prefetch(tf.data.AUTOTUNE))
