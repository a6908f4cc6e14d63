"""encode_grid_targets against a grid computed by hand."""

import numpy as np
import tensorflow as tf

from keras_nn.data.detection import encode_grid_targets

PAD = [-1, 0, 0, 0, 0]


def _expected():
    # S = 4, C = 3. Box A (class 1) (0.1, 0.1, 0.3, 0.5): center (0.2, 0.3) -> cell row 1, col 0, offsets
    # (0.8, 0.2), size (0.2, 0.4). Box B (class 2) has the same center but is smaller: A keeps the cell.
    # Box C (class 0) (0.5, 0.5, 1.0, 1.0): center (0.75, 0.75) -> cell (3, 3), offsets (0, 0), size 0.5.
    grid = np.zeros((4, 4, 8), np.float32)
    grid[1, 0] = [1, 0.8, 0.2, 0.2, 0.4, 0, 1, 0]
    grid[3, 3] = [1, 0.0, 0.0, 0.5, 0.5, 1, 0, 0]
    return grid


BOXES = np.array(
    [[2, 0.15, 0.25, 0.25, 0.35], [1, 0.1, 0.1, 0.3, 0.5], PAD, [0, 0.5, 0.5, 1.0, 1.0], PAD], np.float32
)


def test_single_example_matches_hand_computed_grid():
    np.testing.assert_allclose(encode_grid_targets(BOXES, 4, 3).numpy(), _expected(), atol=1e-6)


def test_larger_box_wins_whatever_the_order_and_batches_match_singles():
    swapped = BOXES[[1, 0, 2, 3, 4]]
    np.testing.assert_allclose(encode_grid_targets(swapped, 4, 3).numpy(), _expected(), atol=1e-6)
    empty = np.tile(np.array(PAD, np.float32), (5, 1))
    batched = encode_grid_targets(np.stack([BOXES, empty]), 4, 3).numpy()
    assert batched.shape == (2, 4, 4, 8)
    np.testing.assert_allclose(batched[0], _expected(), atol=1e-6)
    np.testing.assert_array_equal(batched[1], 0)


def test_center_on_the_far_edge_and_use_in_dataset_map():
    edge = np.array([[0, 0.8, 0.8, 1.0, 1.0], [1, 0.0, 0.0, 0.2, 0.2]], np.float32)
    grid = encode_grid_targets(edge, 2, 2).numpy()
    # Center (0.9, 0.9) -> cell (1, 1), offsets 0.8; center (0.1, 0.1) -> cell (0, 0), offsets 0.2.
    np.testing.assert_allclose(grid[1, 1], [1, 0.8, 0.8, 0.2, 0.2, 1, 0], atol=1e-6)
    np.testing.assert_allclose(grid[0, 0], [1, 0.2, 0.2, 0.2, 0.2, 0, 1], atol=1e-6)
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((2, 8, 8, 3), np.float32), np.stack([BOXES, BOXES])))
    for batch in (False, True):
        d = ds.batch(2) if batch else ds
        _, y = next(iter(d.map(lambda x, b: (x, encode_grid_targets(b, 4, 3)))))
        np.testing.assert_allclose(y.numpy()[0] if batch else y.numpy(), _expected(), atol=1e-6)
