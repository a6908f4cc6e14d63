"""Sample progress of a generative model: the strip of epochs, the GIF, the discriminator's balance."""

import numpy as np
import pytest
from PIL import Image

from keras_nn.errors import ShapeError
from keras_nn.viz.gan_samples import plot_discriminator_balance, plot_sample_progress, tile, write_sample_gif


def test_tile_places_images_row_by_row():
    images = np.arange(5)[:, None, None] * np.ones((5, 2, 3))
    mosaic = tile(images, columns=3)
    assert mosaic.shape == (4, 9)
    assert mosaic[0, 3] == 1 and mosaic[2, 3] == 4 and mosaic[2, 6] == 0  # the sixth cell is blank


def test_progress_strip_and_gif(tmp_path):
    frames = np.random.default_rng(0).random((12, 4, 8, 8, 1))
    path = plot_sample_progress(frames, list(range(1, 13)), tmp_path / "progress.png", max_rows=5)
    assert Image.open(path).size[0] > 100
    gif = Image.open(write_sample_gif(frames, list(range(1, 13)), tmp_path / "samples.gif", scale=2))
    assert gif.n_frames == 12 and gif.size == (2 * 8 * 2, 2 * 8 * 2)


def test_frames_must_match_the_epochs(tmp_path):
    with pytest.raises(ShapeError, match="one frame per epoch"):
        plot_sample_progress(np.zeros((3, 4, 8, 8)), [1, 2], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_discriminator_balance(tmp_path):
    history = {"d_real_accuracy": [0.9, 0.7, 0.55], "d_fake_accuracy": [0.95, 0.6, 0.5]}
    assert plot_discriminator_balance(history, tmp_path / "d.png").is_file()
    with pytest.raises(ShapeError, match="d_fake_accuracy"):
        plot_discriminator_balance({"d_real_accuracy": [0.5]}, tmp_path / "e.png")
