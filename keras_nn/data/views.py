"""SimCLR's two-view augmentation in tf.data: two independent random views of every image.

Chen et al. 2020 (section 3 and appendix A) compose, for each view independently: a random resized crop
(resized back to the image size) with a random horizontal flip, colour distortion (colour jitter with
probability 0.8, then grayscale with probability 0.2) and, on images large enough for it, Gaussian blur with
probability 0.5. Every transform here works on a whole batch at once, one random draw per image, so it runs
as one `dataset.map` over batched (or single) images in [0, 1].

Example:
    >>> augment = two_view_augmentation((24, 24, 1), seed=0)
    >>> pairs = images_dataset.batch(128).map(augment)      # each element: (view1, view2)
"""

import itertools
import math

import tensorflow as tf

from keras_nn.errors import ConfigError, ShapeError

#: Blur is on by default from this image side up (the paper leaves it out on 32x32 CIFAR-10 only because it
#: gave no gain there; on smaller images a kernel of 10% of the side is a pixel or two and does nothing useful).
BLUR_MIN_SIDE = 32


def check_view_arguments(image_shape, crop_scale, crop_ratio, jitter_strength, probabilities):
    """Returns `image_shape` as `(height, width, channels)`; raises `ConfigError`/`ShapeError` for values that
    cannot give a view (a crop larger than the image, a range with its ends swapped, a probability outside
    [0, 1])."""
    if image_shape is None or len(tuple(image_shape)) != 3 or any(
        not isinstance(side, int) or side < 1 for side in tuple(image_shape)
    ):
        raise ShapeError(
            f"two_view_augmentation takes image_shape (height, width, channels) with known sizes; got {image_shape!r}"
        )
    low, high = (float(value) for value in crop_scale)
    if high > 1.0:
        raise ConfigError(
            f"crop_scale={tuple(crop_scale)!r} asks for a crop larger than the image (area fraction {high} > 1); "
            "use fractions in (0, 1], e.g. (0.08, 1.0)"
        )
    if not 0.0 < low <= high:
        raise ConfigError(f"crop_scale={tuple(crop_scale)!r} must be (low, high) with 0 < low <= high <= 1, e.g. (0.08, 1.0)")
    low, high = (float(value) for value in crop_ratio)
    if not 0.0 < low <= high:
        raise ConfigError(f"crop_ratio={tuple(crop_ratio)!r} must be (low, high) with 0 < low <= high, e.g. (0.75, 1.333)")
    if not 0.0 <= float(jitter_strength):
        raise ConfigError(f"jitter_strength={jitter_strength!r} must be >= 0 (SimCLR uses 0.5 on CIFAR-10, 1.0 on ImageNet)")
    for name, value in probabilities.items():
        if not 0.0 <= float(value) <= 1.0:
            raise ConfigError(f"{name}={value!r} must be a probability in [0, 1]")
    return tuple(int(side) for side in image_shape)


def two_view_augmentation(
    image_shape,
    crop_scale=(0.08, 1.0),
    crop_ratio=(3 / 4, 4 / 3),
    flip=True,
    jitter_strength=0.5,
    jitter_probability=0.8,
    grayscale_probability=0.2,
    blur=None,
    seed=None,
):
    """A function `images -> (view1, view2)` giving two independent SimCLR augmentations of each image.

    Args:
        image_shape: `(height, width, channels)` of one image; the views have the same shape.
        crop_scale: range of the crop's area as a fraction of the image's (torchvision's `scale`); above 1
            (a crop larger than the image) raises `ConfigError`.
        crop_ratio: range of the crop's aspect ratio (width / height), drawn log-uniformly. A crop that would
            leave the image is clipped to it (torchvision retries instead; the difference is in rare draws).
        flip: random horizontal flips (probability 0.5). Leave off where a mirror image changes the class.
        jitter_strength: s of the paper's colour distortion: brightness, contrast and saturation factors drawn
            from [1 - 0.8s, 1 + 0.8s], hue shifted by up to 0.2s, in that fixed order (the paper draws the
            order at random). One-channel images get brightness and contrast only.
        jitter_probability: probability of colour jitter per view.
        grayscale_probability: probability of converting a view to grayscale (RGB only).
        blur: Gaussian blur with probability 0.5, sigma in [0.1, 2.0], kernel 10% of the height; None switches it
            on for images of side >= 32.
        seed: base seed; each random draw gets its own seed derived from it, and the two views differ.

    Call arguments:
        images: float images in [0, 1], `(batch, height, width, channels)` or one `(height, width, channels)`.

    Returns:
        `(view1, view2)`, float32, the shape of `images`, values in [0, 1].

    Example:
    >>> augment = two_view_augmentation((32, 32, 3), seed=0)
    >>> view1, view2 = augment(images)

    References:
        Chen, Kornblith, Norouzi & Hinton, "A Simple Framework for Contrastive Learning of Visual
        Representations", ICML 2020, https://arxiv.org/abs/2002.05709 (appendix A: data augmentation details).
    """
    height, width, channels = check_view_arguments(
        image_shape,
        crop_scale,
        crop_ratio,
        jitter_strength,
        {"jitter_probability": jitter_probability, "grayscale_probability": grayscale_probability},
    )
    if channels not in (1, 3):
        raise ShapeError(f"two_view_augmentation takes 1- or 3-channel images; image_shape {image_shape!r} has {channels}")
    if blur is None:
        blur = min(height, width) >= BLUR_MIN_SIDE
    counter = itertools.count(1)

    def uniform(shape, low, high):
        # A distinct op seed per draw: two ops with the same seed would give both views the same numbers.
        return tf.random.uniform(shape, low, high, seed=None if seed is None else int(seed) * 1_000_003 + next(counter))

    def one_view(images):
        count = tf.shape(images)[0]
        images = random_resized_crop(images, count, uniform, (height, width), crop_scale, crop_ratio)
        if flip:
            flipped = uniform([count, 1, 1, 1], 0.0, 1.0) < 0.5
            images = tf.where(flipped, tf.reverse(images, axis=[2]), images)
        if jitter_strength and jitter_probability:
            jittered = color_jitter(images, count, uniform, jitter_strength)
            images = tf.where(uniform([count, 1, 1, 1], 0.0, 1.0) < jitter_probability, jittered, images)
        if channels == 3 and grayscale_probability:
            gray = tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(images))
            images = tf.where(uniform([count, 1, 1, 1], 0.0, 1.0) < grayscale_probability, gray, images)
        if blur:
            blurred = gaussian_blur(images, uniform([count], 0.1, 2.0), max(3, int(0.1 * height) | 1))
            images = tf.where(uniform([count, 1, 1, 1], 0.0, 1.0) < 0.5, blurred, images)
        return tf.clip_by_value(images, 0.0, 1.0)

    def augment(images):
        images = tf.convert_to_tensor(images)
        single = images.shape.rank == 3
        images = tf.cast(images[tf.newaxis] if single else images, tf.float32)
        first, second = one_view(images), one_view(images)
        return (first[0], second[0]) if single else (first, second)

    return augment


def random_resized_crop(images, count, uniform, size, crop_scale, crop_ratio):
    """A crop of random area fraction and aspect ratio per image, resized (bilinear) to `size`."""
    height, width = size
    area = uniform([count], float(crop_scale[0]), float(crop_scale[1]))
    ratio = tf.exp(uniform([count], math.log(crop_ratio[0]), math.log(crop_ratio[1])))
    # Crop sides as fractions of the image's: w * h = area * H * W and w / h = ratio, in pixels.
    crop_width = tf.minimum(tf.sqrt(area * ratio * height / width), 1.0)
    crop_height = tf.minimum(tf.sqrt(area / ratio * width / height), 1.0)
    top = uniform([count], 0.0, 1.0) * (1.0 - crop_height)
    left = uniform([count], 0.0, 1.0) * (1.0 - crop_width)
    boxes = tf.stack([top, left, top + crop_height, left + crop_width], axis=1)
    return tf.image.crop_and_resize(images, boxes, tf.range(count), (height, width))


def color_jitter(images, count, uniform, strength):
    """Brightness, contrast, saturation and hue changes with a random factor per image (torchvision's
    ColorJitter(0.8s, 0.8s, 0.8s, 0.2s)); one-channel images get brightness and contrast only."""
    shape = [count, 1, 1, 1]
    spread = 0.8 * strength
    images = images * uniform(shape, max(0.0, 1.0 - spread), 1.0 + spread)
    images = tf.clip_by_value(images, 0.0, 1.0)
    mean = tf.reduce_mean(tf.image.rgb_to_grayscale(images) if images.shape[-1] == 3 else images, axis=[1, 2, 3], keepdims=True)
    images = tf.clip_by_value((images - mean) * uniform(shape, max(0.0, 1.0 - spread), 1.0 + spread) + mean, 0.0, 1.0)
    if images.shape[-1] != 3:
        return images
    gray = tf.image.rgb_to_grayscale(images)
    images = tf.clip_by_value(gray + (images - gray) * uniform(shape, max(0.0, 1.0 - spread), 1.0 + spread), 0.0, 1.0)
    hsv = tf.image.rgb_to_hsv(images)
    hue = tf.math.floormod(hsv[..., :1] + uniform(shape, -0.2 * strength, 0.2 * strength), 1.0)
    return tf.image.hsv_to_rgb(tf.concat([hue, hsv[..., 1:]], axis=-1))


def gaussian_blur(images, sigma, kernel_size):
    """Each image blurred by a separable Gaussian of its own `sigma` (`(batch,)`), reflect-padded."""
    radius = kernel_size // 2
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)

    def blur_one(arguments):
        image, image_sigma = arguments
        kernel = tf.exp(-(offsets**2) / (2.0 * image_sigma**2))
        kernel = kernel / tf.reduce_sum(kernel)
        channels = tf.shape(image)[-1]
        padded = tf.pad(image[tf.newaxis], [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
        vertical = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, channels, 1])
        horizontal = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, channels, 1])
        padded = tf.nn.depthwise_conv2d(padded, vertical, [1, 1, 1, 1], "VALID")
        return tf.nn.depthwise_conv2d(padded, horizontal, [1, 1, 1, 1], "VALID")[0]

    return tf.map_fn(blur_one, (images, sigma), fn_output_signature=images.dtype)
