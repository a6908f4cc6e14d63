"""`tfds:voc` (`tfds:voc/2007`, `tfds:voc/2012`): PASCAL VOC, or any TFDS detection set with the same features.

TFDS gives each image's `objects/bbox` as `(ymin, xmin, ymax, xmax)` normalized and `objects/label` as class
ids (VOC's 20 classes); they become rows `(class_id, x1, y1, x2, y2)`. Objects VOC marks `difficult` are kept.
An image with more objects than `max_boxes` keeps its first `max_boxes`. The builder's own train, validation
and test splits are used; a missing one is carved out of train (TFDS split slicing).
"""

from __future__ import annotations

import tensorflow as tf

from keras_nn.data.pipeline import LoadOptions
from keras_nn.data.tfds import open_builder, plan_splits, tfds_name
from keras_nn.errors import DataError, UnknownDatasetError


def tfds_boxes(bbox, label, max_boxes: int) -> tf.Tensor:
    """TFDS `(ymin, xmin, ymax, xmax)` boxes and their labels -> padded `[max_boxes, 5]` rows.

    Args:
        bbox: float `[n, 4]` normalized `(ymin, xmin, ymax, xmax)`.
        label: int `[n]` class ids.
        max_boxes: rows of the result; objects beyond it are dropped.

    Returns:
        float32 `[max_boxes, 5]` rows `(class_id, x1, y1, x2, y2)`, padded with `(-1, 0, 0, 0, 0)`.

    Example:
        >>> tfds_boxes([[0.1, 0.2, 0.5, 0.6]], [3], 2).numpy()
        array([[ 3. ,  0.2,  0.1,  0.6,  0.5],
               [-1. ,  0. ,  0. ,  0. ,  0. ]], dtype=float32)
    """
    bbox = tf.reshape(tf.cast(bbox, tf.float32), [-1, 4])
    label = tf.cast(tf.reshape(label, [-1]), tf.float32)
    n = tf.minimum(tf.minimum(tf.shape(bbox)[0], tf.shape(label)[0]), max_boxes)
    ymin, xmin, ymax, xmax = tf.unstack(bbox[:n], axis=1)
    # Ordered corners: real VOC boxes already are; TFDS's mock data draws them at random.
    corners = [tf.minimum(xmin, xmax), tf.minimum(ymin, ymax), tf.maximum(xmin, xmax), tf.maximum(ymin, ymax)]
    rows = tf.stack([label[:n], *corners], axis=1)
    pad = max_boxes - tf.shape(rows)[0]
    padding = tf.concat([-tf.ones([pad, 1]), tf.zeros([pad, 4])], axis=1)
    return tf.ensure_shape(tf.concat([rows, padding], axis=0), [max_boxes, 5])


def read_tfds_detection(
    spec: str,
    opts: LoadOptions,
    image_size: tuple[int, int],
    max_boxes: int,
    data_dir: str | None,
    source: str,
) -> tuple[dict, list[str], dict]:
    """Loads a TFDS detection builder as unbatched examples per split.

    Args:
        spec: what follows `tfds:`, e.g. `voc` or `voc/2007`.
        opts: the checked options (fractions of the carved splits).
        image_size: `(H, W)` every image is resized to (a plain resize; boxes stay normalized).
        max_boxes: rows of each box array.
        data_dir: TFDS data directory (None: TFDS's default).
        source: the source string, for messages.

    Returns:
        `(examples, class_names, num_examples)`: `examples[split]` yields `(image float32 [H, W, 3] in [0, 1],
        boxes [max_boxes, 5])` or is None.

    Raises:
        UnknownDatasetError: no such TFDS data set or config.
        DataError: the data set has no `image` and `objects/bbox`, `objects/label` features, or no train split.
    """

    name = tfds_name(spec)
    if not name:
        raise UnknownDatasetError(f"no TFDS name given in {source!r}; use tfds:voc or tfds:voc/2007")
    builder = open_builder(name, source, data_dir)
    features = builder.info.features
    objects = features["objects"] if "objects" in features else None
    if "image" not in features or objects is None or "bbox" not in objects or "label" not in objects:
        raise DataError(
            f"{source} has no 'image' with 'objects/bbox' and 'objects/label' features; use a detection data "
            "set such as tfds:voc/2007"
        )
    class_names = list(objects["label"].names)

    builder.download_and_prepare()
    available = set(builder.info.splits.keys()) or {"train", "validation", "test"}
    if "train" not in available:
        raise DataError(f"{source} has no 'train' split (splits: {', '.join(sorted(available))})")
    plan = plan_splits(available, opts)
    height, width = image_size

    def to_example(example):
        image = tf.image.resize(tf.cast(example["image"], tf.float32) / 255.0, [height, width])
        image = tf.clip_by_value(image, 0.0, 1.0)
        boxes = tfds_boxes(example["objects"]["bbox"], example["objects"]["label"], max_boxes)
        return tf.ensure_shape(image, [height, width, 3]), boxes

    examples, num_examples = {}, {}
    for split, split_spec in plan.items():
        if split_spec is None:
            examples[split] = None
            continue
        ds = builder.as_dataset(split=split_spec, shuffle_files=False)
        examples[split] = ds.map(to_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        n = int(ds.cardinality().numpy())
        num_examples[split] = n
    return examples, class_names, num_examples
