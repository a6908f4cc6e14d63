import keras
import numpy as np
import pytest
from testing_utils import run_layer_test

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers import PatchEmbedding

RNG = np.random.default_rng(0)
IMAGES = RNG.random((2, 16, 16, 3), dtype=np.float32)


def hand_patch_embedding(images, kernel, bias, patch_size):
    """Eq. 1 of the ViT paper: each p x p x C patch, flattened, times the projection, row by row of the grid."""
    batch, height, width, channels = images.shape
    rows, columns = height // patch_size, width // patch_size
    projection = kernel.reshape(patch_size * patch_size * channels, -1)
    tokens = np.zeros((batch, rows * columns, projection.shape[-1]), np.float64)
    for r in range(rows):
        for c in range(columns):
            patch = images[:, r * patch_size : (r + 1) * patch_size, c * patch_size : (c + 1) * patch_size, :]
            tokens[:, r * columns + c] = patch.reshape(batch, -1) @ projection + bias
    return tokens


@pytest.mark.parametrize("shape", [(2, 16, 16, 3), (1, 8, 12, 2)])
def test_tokens_are_flattened_patches_times_the_kernel(shape):
    images = RNG.random(shape, dtype=np.float32)
    layer = PatchEmbedding(patch_size=4, hidden_dim=5, bias_initializer="random_normal")
    tokens = keras.ops.convert_to_numpy(layer(images))
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in layer.weights)
    assert kernel.shape == (4, 4, shape[-1], 5)
    expected = hand_patch_embedding(images, kernel, bias, 4)
    assert tokens.shape == expected.shape == (shape[0], (shape[1] // 4) * (shape[2] // 4), 5)
    np.testing.assert_allclose(tokens, expected, atol=1e-5)


def test_grid_size_and_indivisible_sizes():
    layer = PatchEmbedding(patch_size=4, hidden_dim=8)
    assert layer.grid_size((None, 16, 24, 3)) == (4, 6)
    with pytest.raises(ShapeError, match=r"image size 18x16 is not divisible by patch_size=4; resize .* multiple of 4"):
        layer(np.zeros((1, 18, 16, 3), "float32"))
    with pytest.raises(ShapeError, match="known height and width"):
        layer.grid_size((None, None, 16, 3))
    with pytest.raises(ConfigError, match="patch_size=0 must be a positive integer"):
        PatchEmbedding(patch_size=0, hidden_dim=8)


def test_patch_embedding_shared_checks():
    run_layer_test(PatchEmbedding, {"patch_size": 4, "hidden_dim": 8}, IMAGES, expected_output_shape=(2, 16, 8))
