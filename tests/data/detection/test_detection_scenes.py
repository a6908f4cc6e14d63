"""embedded:shapes scenes: seeded, and each box is the tight box of its shape's drawn pixels."""

import numpy as np

from keras_nn.data.detection import SHAPE_CLASSES, generate_scenes


def test_same_seed_same_scenes_other_seed_other_scenes():
    a_images, a_boxes = generate_scenes(6, (32, 32), seed=5)
    b_images, b_boxes = generate_scenes(6, (32, 32), seed=5)
    c_images, _ = generate_scenes(6, (32, 32), seed=6)
    np.testing.assert_array_equal(a_images, b_images)
    np.testing.assert_array_equal(a_boxes, b_boxes)
    assert not np.array_equal(a_images, c_images)
    assert a_images.dtype == np.uint8 and a_images.shape == (6, 32, 32, 3)
    assert a_boxes.dtype == np.float32 and a_boxes.shape == (6, 20, 5)


def test_object_counts_sizes_and_padding():
    _, boxes = generate_scenes(40, (48, 48), seed=0, max_boxes=6)
    valid = boxes[..., 0] >= 0
    counts = valid.sum(axis=1)
    assert counts.min() >= 1 and counts.max() <= 4
    # Valid rows first, then padding rows of (-1, 0, 0, 0, 0).
    for row, n in zip(boxes, counts, strict=True):
        assert (row[:n, 0] >= 0).all()
        np.testing.assert_array_equal(row[n:], np.tile([-1, 0, 0, 0, 0], (6 - n, 1)))
    b = boxes[valid]
    assert set(np.unique(b[:, 0]).astype(int)) <= set(range(len(SHAPE_CLASSES)))
    assert (b[:, 1] >= 0).all() and (b[:, 3] <= 1).all() and (b[:, 2] >= 0).all() and (b[:, 4] <= 1).all()
    side = np.maximum(b[:, 3] - b[:, 1], b[:, 4] - b[:, 2])
    # Sizes 0.12..0.45 of the side, times the aspect jitter (at most sqrt(1/0.75)) and a pixel of rounding.
    assert side.min() >= 0.12 * np.sqrt(0.75) - 1 / 48 and side.max() <= 0.45 / np.sqrt(0.75) + 2 / 48


def _foreground(image):
    # On a plain, noise-free background every pixel of the background's colour is background.
    colours, counts = np.unique(image.reshape(-1, 3), axis=0, return_counts=True)
    return np.any(image != colours[np.argmax(counts)], axis=-1)


def test_one_object_box_is_tight_on_its_pixels():
    images, boxes = generate_scenes(30, (32, 32), seed=1, min_objects=1, max_objects=1, background="plain", pixel_noise=0)
    for image, box in zip(images, boxes, strict=True):
        fg = _foreground(image)
        rows, cols = np.flatnonzero(fg.any(axis=1)), np.flatnonzero(fg.any(axis=0))
        expected = np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]) / 32.0
        np.testing.assert_allclose(box[0, 1:], expected, atol=1e-6)
        assert (box[1:, 0] == -1).all()


def test_topmost_object_box_bounds_its_colour_and_classes_have_their_shapes():
    images, boxes = generate_scenes(60, (64, 64), seed=2, background="plain", pixel_noise=0)
    # The share of its box a shape fills: circle pi/4, square 1, triangle 1/2, cross 2a - a^2 with arms a=0.34.
    fill = {0: np.pi / 4, 1: 1.0, 2: 0.5, 3: 2 * 0.34 - 0.34**2}
    seen = set()
    for image, rows in zip(images, boxes, strict=True):
        top = rows[(rows[:, 0] >= 0)][-1]  # drawn last, fully visible
        x1, y1, x2, y2 = np.round(top[1:] * 64).astype(int)
        inside = image[y1:y2, x1:x2]
        # The shape's colour: the most common one in its box that is not the background's.
        fg = _foreground(image)[y1:y2, x1:x2]
        colours, counts = np.unique(inside[fg], axis=0, return_counts=True)
        colour = colours[np.argmax(counts)]
        mask = np.all(image == colour, axis=-1)
        ys, xs = np.nonzero(mask)
        # Every pixel of that colour lies in the box, and the box touches the shape on all four sides.
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x1, y1, x2, y2)
        area = (x2 - x1) * (y2 - y1)
        if area >= 100:
            cls = int(top[0])
            assert abs(mask.sum() / area - fill[cls]) < 0.12, (SHAPE_CLASSES[cls], mask.sum() / area)
            seen.add(cls)
    assert seen == {0, 1, 2, 3}


def test_textured_backgrounds_are_not_flat():
    images, _ = generate_scenes(8, (32, 32), seed=3, pixel_noise=0)
    # A flat background is one colour over most of the image; a texture's commonest colour is at most half of it.
    for image in images:
        counts = np.unique(image.reshape(-1, 3), axis=0, return_counts=True)[1]
        assert counts.max() <= 0.55 * 32 * 32
