import keras
import numpy as np
import pytest
from testing_utils import run_layer_test

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers import PatchPositionEmbedding, resample_position_embedding

RNG = np.random.default_rng(0)
WIDTH = 3


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def table_with(grid, num_prefix_tokens=1):
    """A position table whose grid rows hold `grid` ([rows, columns, WIDTH]) and whose prefix rows are random."""
    prefix = RNG.normal(size=(num_prefix_tokens, grid.shape[-1])).astype("float32")
    return np.concatenate([prefix, grid.reshape(-1, grid.shape[-1])]).astype("float32")


def bilinear_ramp(rows, columns, new_rows, new_columns):
    """f(r, c) = 2r - 3c + 1 sampled bilinearly at the half-pixel centres of the new grid (edges clamped):
    interpolation of a linear function is exact, so the value is f at the clamped source coordinate."""
    r = np.clip((np.arange(new_rows) + 0.5) * rows / new_rows - 0.5, 0, rows - 1)
    c = np.clip((np.arange(new_columns) + 0.5) * columns / new_columns - 0.5, 0, columns - 1)
    return 2 * r[:, None] - 3 * c[None, :] + 1


def test_the_table_is_added_per_position_and_broadcast_over_the_batch():
    layer = PatchPositionEmbedding(grid_size=(2, 3), num_prefix_tokens=2)
    tokens = RNG.normal(size=(4, 8, WIDTH)).astype("float32")
    outputs = to_numpy(layer(tokens))
    table = to_numpy(layer.embeddings)
    assert table.shape == (8, WIDTH) and outputs.shape == (4, 8, WIDTH)
    np.testing.assert_array_equal(outputs, np.broadcast_to(table, outputs.shape))
    with pytest.raises(ShapeError, match=r"9 tokens, .* 2 prefix token\(s\) and a 2x3 grid \(8\).*resample_position_embedding"):
        layer(RNG.normal(size=(4, 9, WIDTH)).astype("float32"))


def test_same_grid_returns_the_table_exactly():
    table = RNG.normal(size=(1 + 16, WIDTH)).astype("float32")
    for interpolation in ("bicubic", "bilinear", "nearest"):
        np.testing.assert_array_equal(to_numpy(resample_position_embedding(table, 4, (4, 4), 1, interpolation)), table)


@pytest.mark.parametrize("new_grid", [(7, 7), (2, 2), (3, 6)])
@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear"])
def test_a_constant_grid_stays_constant(new_grid, interpolation):
    table = table_with(np.full((4, 4, WIDTH), 0.37, "float32"), num_prefix_tokens=2)
    resampled = to_numpy(resample_position_embedding(table, (4, 4), new_grid, 2, interpolation))
    assert resampled.shape == (2 + new_grid[0] * new_grid[1], WIDTH)
    np.testing.assert_array_equal(resampled[:2], table[:2])  # the class and distillation rows are not resampled
    np.testing.assert_allclose(resampled[2:], 0.37, atol=1e-6)


@pytest.mark.parametrize("grid, new_grid", [((4, 4), (8, 8)), ((3, 4), (6, 10)), ((2, 2), (5, 3))])
def test_a_linear_ramp_upsampled_bilinearly_matches_hand_values(grid, new_grid):
    rows, columns = grid
    ramp = 2 * np.arange(rows)[:, None] - 3 * np.arange(columns)[None, :] + 1.0
    table = table_with(np.repeat(ramp[..., None], WIDTH, axis=-1).astype("float32"))
    resampled = to_numpy(resample_position_embedding(table, grid, new_grid, 1, "bilinear"))
    np.testing.assert_array_equal(resampled[:1], table[:1])
    expected = bilinear_ramp(rows, columns, *new_grid).reshape(-1)
    for channel in range(WIDTH):
        np.testing.assert_allclose(resampled[1:, channel], expected, atol=1e-5)


def test_bicubic_resampling_is_the_image_resize_of_the_grid_row_major():
    table = RNG.normal(size=(1 + 3 * 4, WIDTH)).astype("float32")
    resampled = to_numpy(resample_position_embedding(table, (3, 4), (5, 2)))
    grid = table[1:].reshape(1, 3, 4, WIDTH)
    expected = to_numpy(keras.ops.image.resize(grid, (5, 2), interpolation="bicubic", antialias=True))
    np.testing.assert_array_equal(resampled[0], table[0])
    np.testing.assert_allclose(resampled[1:], expected.reshape(10, WIDTH), atol=1e-6)


def test_layer_resampled_uses_its_grid_and_prefix():
    layer = PatchPositionEmbedding(grid_size=2, num_prefix_tokens=1)
    layer(np.zeros((1, 5, WIDTH), "float32"))
    table = to_numpy(layer.embeddings)
    np.testing.assert_array_equal(to_numpy(layer.resampled((2, 2))), table)
    np.testing.assert_allclose(
        to_numpy(layer.resampled(3, interpolation="bilinear")),
        to_numpy(resample_position_embedding(table, 2, 3, 1, "bilinear")),
        atol=0,
    )


def test_bad_arguments():
    table = np.zeros((1 + 16, WIDTH), "float32")
    with pytest.raises(ShapeError, match="position table has 17 rows; a 3x3 grid with 1 prefix token"):
        resample_position_embedding(table, 3, 4)
    with pytest.raises(ConfigError, match="interpolation='area' is not allowed; choose one of: bicubic, bilinear, nearest"):
        resample_position_embedding(table, 4, 2, interpolation="area")
    with pytest.raises(ConfigError, match=r"grid_size=\(4, 4, 4\) must be \(rows, columns\)"):
        PatchPositionEmbedding(grid_size=(4, 4, 4))
    with pytest.raises(ConfigError, match="num_prefix_tokens=-1 must be an int >= 0"):
        PatchPositionEmbedding(grid_size=4, num_prefix_tokens=-1)


def test_patch_position_embedding_shared_checks():
    tokens = RNG.normal(size=(2, 1 + 6, 4)).astype("float32")
    run_layer_test(
        PatchPositionEmbedding, {"grid_size": [2, 3], "num_prefix_tokens": 1}, tokens, expected_output_shape=(2, 7, 4)
    )
