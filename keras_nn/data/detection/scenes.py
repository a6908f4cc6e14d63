"""The embedded detection set `embedded:shapes`: generated scenes of coloured shapes on textured backgrounds.

The scenes are synthetic (numpy, seeded; nothing is downloaded). Each image holds 1 to 4 objects of four
classes (`circle`, `square`, `triangle`, `cross`), each 0.12 to 0.45 of the image side with a random aspect
ratio (0.75 to 1.33) and a random colour, drawn over a random background texture (a colour gradient, stripes,
a checkerboard or smooth noise) plus pixel noise, so a detector has to learn shapes rather than colours.
Objects may overlap, but each covers at most `max_occlusion` of an earlier one's box, and no two centers lie
within `min_center_distance` of each other in both x and y (a grid detector with cells of at least that size
never has two centers in one cell). The ground-truth box of an object is the tight box of its drawn pixels
(pixel-edge convention: a shape covering columns 10..19 of a 96-wide image has x1 = 10/96, x2 = 20/96).

The default set (`SCENE_COUNTS`) is 3000 train, 300 validation and 500 test scenes; `generate_scenes` draws
any number at any size.
"""

from __future__ import annotations

import numpy as np

#: The object classes, in class-id order.
SHAPE_CLASSES = ("circle", "square", "triangle", "cross")
#: Scenes per split of `embedded:shapes`.
SCENE_COUNTS = {"train": 3000, "validation": 300, "test": 500}
#: The image size `embedded:shapes` is drawn at unless the caller asks for another.
DEFAULT_IMAGE_SIZE = (96, 96)
BACKGROUNDS = ("textured", "plain")
# The width of a cross's arms as a fraction of its size.
_CROSS_ARM = 0.34
# Smallest colour distance (RGB in [0, 1]) between an object and the mean of the background behind it.
_MIN_CONTRAST = 0.35


def generate_scenes(
    num_images: int,
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
    seed: int = 0,
    *,
    max_boxes: int = 20,
    min_objects: int = 1,
    max_objects: int = 4,
    min_size: float = 0.12,
    max_size: float = 0.45,
    max_occlusion: float = 0.3,
    min_center_distance: float = 0.17,
    background: str = "textured",
    pixel_noise: float = 0.04,
) -> tuple[np.ndarray, np.ndarray]:
    """Draws seeded synthetic detection scenes.

    Args:
        num_images: how many scenes.
        image_size: `(height, width)` in pixels.
        seed: the random seed; the same seed gives the same scenes.
        max_boxes: rows of the returned box array per image (objects beyond it are not drawn).
        min_objects, max_objects: objects per image, drawn uniformly (fewer when no free place is found).
        min_size, max_size: object size as a fraction of the image side.
        max_occlusion: the largest share of an object's box a later (upper) object may cover.
        min_center_distance: two object centers differ by at least this (fraction of the image) in x or y.
        background: `"textured"` (gradients, stripes, checkerboards, smooth noise) or `"plain"` (one colour).
        pixel_noise: standard deviation of the (uniform) noise added to every pixel (0 for none).

    Returns:
        `(images, boxes)`: uint8 `[num_images, H, W, 3]` and float32 `[num_images, max_boxes, 5]` rows
        `(class_id, x1, y1, x2, y2)` normalized, in drawing order (a later row is drawn on top), padded with
        `(-1, 0, 0, 0, 0)`.

    Example:
        >>> images, boxes = generate_scenes(8, (64, 64), seed=1)
        >>> images.shape, boxes.shape
        ((8, 64, 64, 3), (8, 20, 5))
    """
    if background not in BACKGROUNDS:
        raise ValueError(f"background={background!r}; use one of {BACKGROUNDS}")
    height, width = int(image_size[0]), int(image_size[1])
    rng = np.random.default_rng(seed)
    images = np.empty((num_images, height, width, 3), np.uint8)
    boxes = np.zeros((num_images, max_boxes, 5), np.float32)
    boxes[:, :, 0] = -1
    chunk = 128
    for start in range(0, num_images, chunk):
        count = min(chunk, num_images - start)
        if background == "textured":
            canvas = _textured_backgrounds(rng, count, height, width)
        else:
            colour = rng.uniform(0, 1, (count, 1, 1, 3)).astype(np.float32)
            canvas = np.broadcast_to(colour, (count, height, width, 3)).copy()
        for i in range(count):
            n = min(int(rng.integers(min_objects, max_objects + 1)), max_boxes)
            objects = _place_objects(
                rng, n, height, width, min_size, max_size, max_occlusion, min_center_distance
            )
            for row, (cls, cx, cy, half_w, half_h, flip) in enumerate(objects):
                box = _draw(rng, canvas[i], cls, cx, cy, half_w, half_h, flip)
                boxes[start + i, row] = (cls, box[0] / width, box[1] / height, box[2] / width, box[3] / height)
        if pixel_noise > 0:
            # Uniform noise of the same standard deviation: a third of the time of Gaussian draws.
            spread = np.float32(2 * np.sqrt(3) * pixel_noise)
            canvas += (rng.random(canvas.shape, dtype=np.float32) - np.float32(0.5)) * spread
        np.clip(canvas, 0.0, 1.0, out=canvas)
        images[start : start + count] = (canvas * 255.0 + 0.5).astype(np.uint8)
    return images, boxes


def _textured_backgrounds(rng, count, height, width):
    """`count` backgrounds, each a blend of two random colours by one random pattern in [0, 1]."""
    y = ((np.arange(height, dtype=np.float32) + 0.5) / height)[None, :, None]
    x = ((np.arange(width, dtype=np.float32) + 0.5) / width)[None, None, :]
    kind = rng.integers(0, 4, count)
    pattern = np.empty((count, height, width), np.float32)
    for k in range(4):
        idx = np.flatnonzero(kind == k)
        n = len(idx)
        if n == 0:
            continue
        if k in (0, 1):
            angle = rng.uniform(0, np.pi, n).astype(np.float32)[:, None, None]
            along = x * np.cos(angle) + y * np.sin(angle)
            if k == 0:  # a linear gradient
                low = along.min(axis=(1, 2), keepdims=True)
                pattern[idx] = (along - low) / (along.max(axis=(1, 2), keepdims=True) - low)
            else:  # stripes, 2-8 cycles per image
                freq = rng.uniform(2, 8, n).astype(np.float32)[:, None, None]
                phase = rng.uniform(0, 2 * np.pi, n).astype(np.float32)[:, None, None]
                pattern[idx] = 0.5 + 0.5 * np.sin(2 * np.pi * freq * along + phase)
        elif k == 2:  # a checkerboard of 3-8 squares per side
            squares = rng.integers(3, 9, n)[:, None, None]
            pattern[idx] = (np.floor(x * squares) + np.floor(y * squares)) % 2
        else:  # smooth noise: a coarse 5x5 random grid, bilinearly upsampled
            coarse = rng.uniform(0, 1, (n, 5, 5)).astype(np.float32)
            gy, gx = y[0, :, 0] * 4, x[0, 0] * 4
            y0, x0 = np.minimum(gy.astype(int), 3), np.minimum(gx.astype(int), 3)
            fy, fx = (gy - y0)[None, :, None], (gx - x0)[None, None, :]
            rows0, rows1 = coarse[:, y0], coarse[:, y0 + 1]
            top = rows0[:, :, x0] * (1 - fx) + rows0[:, :, x0 + 1] * fx
            bottom = rows1[:, :, x0] * (1 - fx) + rows1[:, :, x0 + 1] * fx
            pattern[idx] = top * (1 - fy) + bottom * fy
    low = rng.uniform(0, 1, (count, 1, 1, 3)).astype(np.float32)
    high = rng.uniform(0, 1, (count, 1, 1, 3)).astype(np.float32)
    return low + (high - low) * pattern[..., None]


def _place_objects(rng, n, height, width, min_size, max_size, max_occlusion, min_center_distance):
    """Chooses up to `n` object geometries `(class, cx, cy, half_w, half_h, flip)` in pixels, by rejection."""
    side = min(height, width)
    placed, rects = [], []
    for _ in range(40 * n):
        if len(placed) == n:
            break
        size = rng.uniform(min_size, max_size) * side
        aspect = np.exp(rng.uniform(np.log(0.75), np.log(1.0 / 0.75)))
        half_w = min(size * np.sqrt(aspect), 0.95 * width) / 2
        half_h = min(size / np.sqrt(aspect), 0.95 * height) / 2
        cx = rng.uniform(half_w, width - half_w)
        cy = rng.uniform(half_h, height - half_h)
        rect = np.array([cx - half_w, cy - half_h, cx + half_w, cy + half_h])
        if any(
            max(abs(cx - other[1]) / width, abs(cy - other[2]) / height) < min_center_distance
            for other in placed
        ):
            continue
        # The new object is drawn on top: it must leave each earlier box mostly visible.
        if any(_intersection(rect, other) > max_occlusion * _area(other) for other in rects):
            continue
        placed.append((int(rng.integers(0, len(SHAPE_CLASSES))), cx, cy, half_w, half_h, bool(rng.integers(0, 2))))
        rects.append(rect)
    return placed


def _area(rect):
    return (rect[2] - rect[0]) * (rect[3] - rect[1])


def _intersection(a, b):
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(w, 0.0) * max(h, 0.0)


def shape_mask(cls: int, dx: np.ndarray, dy: np.ndarray, half_w: float, half_h: float, flip: bool = False):
    """The pixels of one shape: `dx`, `dy` are pixel-center offsets from the shape's center.

    Args:
        cls: the class id (index into `SHAPE_CLASSES`).
        dx, dy: broadcastable offsets of pixel centers from the shape's center, in pixels.
        half_w, half_h: half the shape's width and height in pixels.
        flip: turns a triangle upside down (other shapes are symmetric).

    Returns:
        A boolean array, True inside the shape.
    """
    u, v = dx / half_w, dy / half_h
    name = SHAPE_CLASSES[cls]
    if name == "circle":
        return u * u + v * v <= 1.0
    if name == "square":
        return (np.abs(u) <= 1.0) & (np.abs(v) <= 1.0)
    if name == "triangle":
        v = -v if flip else v
        # Apex at v = -1, base at v = +1; the half width grows linearly from 0 to 1.
        return (v <= 1.0) & (np.abs(u) <= (v + 1.0) / 2.0)
    arm = _CROSS_ARM
    return ((np.abs(u) <= 1.0) & (np.abs(v) <= arm)) | ((np.abs(u) <= arm) & (np.abs(v) <= 1.0))


def _draw(rng, canvas, cls, cx, cy, half_w, half_h, flip):
    """Paints one shape onto `canvas` (float `[H, W, 3]`) and returns its tight pixel box (x1, y1, x2, y2)."""
    height, width = canvas.shape[:2]
    x0, x1 = max(int(np.floor(cx - half_w)), 0), min(int(np.ceil(cx + half_w)) + 1, width)
    y0, y1 = max(int(np.floor(cy - half_h)), 0), min(int(np.ceil(cy + half_h)) + 1, height)
    dx = np.arange(x0, x1)[None, :] + 0.5 - cx
    dy = np.arange(y0, y1)[:, None] + 0.5 - cy
    mask = shape_mask(cls, dx, dy, half_w, half_h, flip)
    window = canvas[y0:y1, x0:x1]
    colour = rng.uniform(0, 1, 3)
    behind = window[mask].mean(axis=0) if mask.any() else window.reshape(-1, 3).mean(axis=0)
    for _ in range(8):
        if np.linalg.norm(colour - behind) >= _MIN_CONTRAST:
            break
        colour = rng.uniform(0, 1, 3)
    else:
        # The colour "opposite" the background is always far enough from it.
        colour = np.where(behind > 0.5, 0.0, 1.0)
    window[mask] = colour
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return (x0 + cols[0], y0 + rows[0], x0 + cols[-1] + 1, y0 + rows[-1] + 1)
