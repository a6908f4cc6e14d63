"""Box-aware augmentation of one detection example (TensorFlow, for the training pipeline only).

A horizontal flip, a random zoom in or out with a shift (one `tf.image.crop_and_resize` whose window may reach
past the image; the outside is filled with grey), then brightness and contrast. Boxes go through the same
mapping as the pixels, are clipped to the image, and are dropped (their rows become padding) when less than
`min_visible` of their area is left in the image or they are under a pixel wide or high.

Example:
    >>> options = check_detection_augment(True)
    >>> image, boxes = augment_detection(image, boxes, tf.constant([1, 2], tf.int64), options)
"""

from __future__ import annotations

import numbers

import tensorflow as tf

from keras_nn.errors import ConfigError

#: What `augment=True` means; a dict given as `augment` overrides some of these.
DETECTION_AUGMENT_DEFAULTS = {
    "flip": True,  # horizontal flips (shapes, people, cars and VOC's classes keep their class in a mirror)
    "zoom": 0.25,  # object size multiplied by a factor in [1 - zoom, 1 + zoom]
    "translate": 0.1,  # extra shift, as a fraction of the image side
    "brightness": 0.15,  # added to every pixel, in [-brightness, brightness]
    "contrast": 0.15,  # contrast factor in [1 - contrast, 1 + contrast]
    "min_visible": 0.4,  # a box keeps at least this share of its area inside the image, else it is dropped
    "fill": 0.5,  # grey for the pixels a zoom-out brings in
}


def check_detection_augment(augment) -> dict | None:
    """Turns the loader's `augment` argument into a full options dict, or None for no augmentation.

    Args:
        augment: False/None (none), True (`DETECTION_AUGMENT_DEFAULTS`) or a dict overriding some defaults.

    Returns:
        The options, or None.

    Raises:
        ConfigError: an unknown key or a value out of range.

    Example:
        >>> check_detection_augment({"zoom": 0.1})["flip"]
        True
    """
    if augment is None or augment is False:
        return None
    if augment is True:
        return dict(DETECTION_AUGMENT_DEFAULTS)
    if not isinstance(augment, dict):
        raise ConfigError(
            f"augment={augment!r} is not true, false or a mapping; use e.g. augment=true or "
            "augment={zoom: 0.2, flip: true}"
        )
    unknown = sorted(set(augment) - set(DETECTION_AUGMENT_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"unknown detection augmentation option(s) {', '.join(map(repr, unknown))}; use: "
            f"{', '.join(DETECTION_AUGMENT_DEFAULTS)}"
        )
    options = {**DETECTION_AUGMENT_DEFAULTS, **augment}
    if not isinstance(options["flip"], bool):
        raise ConfigError(f"augment.flip={options['flip']!r} must be true or false")
    for key in ("zoom", "translate", "brightness", "contrast", "min_visible", "fill"):
        value = options[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
            raise ConfigError(f"augment.{key}={value!r} must be a number in [0, 1]; e.g. augment.{key}=0.2")
        options[key] = float(value)
    if options["zoom"] >= 1.0:
        raise ConfigError(f"augment.zoom={options['zoom']} must be below 1; e.g. augment.zoom=0.25")
    return options


def augment_detection(image, boxes, seed, options: dict):
    """Augments one example; the boxes follow the pixels.

    Args:
        image: float32 `[H, W, 3]` in [0, 1].
        boxes: float32 `[max_boxes, 5]` rows `(class_id, x1, y1, x2, y2)` normalized; padding rows have
            `class_id = -1`.
        seed: int64 `[2]`, the stateless seed of this example's draws.
        options: from `check_detection_augment`.

    Returns:
        `(image, boxes)` of the same shapes: kept boxes first, in their original order, then padding rows.
    """
    image = tf.convert_to_tensor(image, tf.float32)
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    seed = tf.cast(seed, tf.int64)
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    cls, x1, y1, x2, y2 = tf.unstack(boxes, axis=-1)

    def draw(k, low, high, shape=()):
        return tf.random.stateless_uniform(shape, seed + tf.constant([0, k], tf.int64), low, high)

    if options["flip"]:
        flip = draw(1, 0.0, 1.0) < 0.5
        image = tf.cond(flip, lambda: image[:, ::-1, :], lambda: image)
        x1, x2 = tf.where(flip, 1.0 - x2, x1), tf.where(flip, 1.0 - x1, x2)

    zoom, shift = options["zoom"], options["translate"]
    if zoom > 0 or shift > 0:
        scale = draw(2, 1.0 - zoom, 1.0 + zoom)  # > 1 zooms in (objects grow)
        window = 1.0 / scale  # the crop window's side in normalized input coordinates
        # The window's origin: anywhere that keeps the image covered (zoom in) or inside (zoom out), plus a shift.
        origin = draw(3, 0.0, 1.0, [2]) * (1.0 - window) + draw(4, -shift, shift, [2]) * window
        top, left = origin[0], origin[1]
        crop = tf.stack([top, left, top + window, left + window])[None]
        image = tf.image.crop_and_resize(
            image[None], crop, [0], tf.stack([height, width]), extrapolation_value=options["fill"]
        )[0]
        x1, x2 = _map_edges(x1, left, window, width), _map_edges(x2, left, window, width)
        y1, y2 = _map_edges(y1, top, window, height), _map_edges(y2, top, window, height)

    if options["brightness"] > 0:
        b = options["brightness"]
        image = image + draw(5, -b, b)
    if options["contrast"] > 0:
        c = options["contrast"]
        mean = tf.reduce_mean(image, axis=[0, 1], keepdims=True)
        image = (image - mean) * draw(6, 1.0 - c, 1.0 + c) + mean
    image = tf.clip_by_value(image, 0.0, 1.0)

    area = (x2 - x1) * (y2 - y1)
    x1c, y1c = tf.clip_by_value(x1, 0.0, 1.0), tf.clip_by_value(y1, 0.0, 1.0)
    x2c, y2c = tf.clip_by_value(x2, 0.0, 1.0), tf.clip_by_value(y2, 0.0, 1.0)
    visible = tf.maximum(x2c - x1c, 0.0) * tf.maximum(y2c - y1c, 0.0)
    min_w = 1.0 / tf.cast(width, tf.float32)
    min_h = 1.0 / tf.cast(height, tf.float32)
    keep = (
        (cls >= 0)
        & (visible >= options["min_visible"] * area)
        & (x2c - x1c >= min_w)
        & (y2c - y1c >= min_h)
    )
    out = tf.stack([cls, x1c, y1c, x2c, y2c], axis=-1)
    out = tf.where(keep[:, None], out, tf.constant([-1.0, 0.0, 0.0, 0.0, 0.0]))
    # Kept rows first, in order (a stable sort on "dropped").
    order = tf.argsort(tf.cast(tf.logical_not(keep), tf.int32), stable=True)
    return image, tf.gather(out, order)


def _map_edges(edge, origin, window, size):
    """Where a normalized box edge of the input lands in the output of `crop_and_resize`.

    `crop_and_resize` (output as large as the input) samples output pixel i at input pixel index
    `origin * (size - 1) + i * window` (pixel-center indices, `align_corners`-like), so in pixel-edge coordinates
    (`X * size` with pixel centers at index + 0.5) the exact map is
    `X_out * size - 0.5 = (X_in * size - 0.5 - origin * (size - 1)) / window`.
    """
    size = tf.cast(size, tf.float32)
    return ((edge * size - 0.5 - origin * (size - 1.0)) / window + 0.5) / size
