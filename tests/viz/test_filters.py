import numpy as np
import pytest
from PIL import Image

from keras_nn.errors import ConfigError, DataError, ShapeError
from keras_nn.viz import plot_filters


def kernel(visible=16, hidden=10):
    return np.random.default_rng(0).normal(0.0, 0.1, (visible, hidden)).astype(np.float32)


def test_each_tile_is_a_units_weights_on_one_symmetric_diverging_scale(tmp_path, saved_figures):
    weights = kernel()
    path = plot_filters(weights, (4, 4), tmp_path / "filters.png", max_filters=6, columns=3)
    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) >= 200
    figure = saved_figures[0]
    assert figure.get_suptitle() == "filters: 6 of 10 hidden units"
    tiles = [axis for axis in figure.axes if axis.images]
    assert len(tiles) == 6, "max_filters=6 of 10"
    assert [axis.get_title() for axis in tiles] == [f"unit {j}" for j in range(6)]
    assert len({round(axis.get_position().y0, 3) for axis in tiles}) == 2, "6 tiles in rows of 3"
    limit = np.abs(weights[:, :6]).max()  # the shown filters' largest weight
    for j, axis in enumerate(tiles):
        (image,) = axis.images
        np.testing.assert_array_equal(image.get_array(), weights[:, j].reshape(4, 4))
        assert image.get_clim() == pytest.approx((-limit, limit))
        assert image.get_cmap().name == "RdBu_r"
        assert image.norm(0.0) == pytest.approx(0.5), "zero weight sits at the centre of the diverging map"
    labels = [axis.get_ylabel() for axis in figure.axes if not axis.images]
    assert "weight" in labels, "one colorbar labelled weight"


def test_all_units_fit_and_default_title(tmp_path, saved_figures):
    plot_filters(kernel(64, 3), (8, 8), tmp_path / "f.png")
    figure = saved_figures[0]
    assert figure.get_suptitle() == "filters: all 3 hidden units"
    assert len([axis for axis in figure.axes if axis.images]) == 3


@pytest.mark.parametrize(
    ("weights", "image_shape", "error", "message"),
    [
        (
            kernel(),
            (5, 5),
            ShapeError,
            r"image_shape=\(5, 5\) does not hold the 16 visible units.*height \* width = 16",
        ),
        (
            kernel()[:, 0],
            (4, 4),
            ShapeError,
            r"kernel has shape \(16,\); give \(visible_units, hidden_units\)",
        ),
        (kernel(), "four", ShapeError, r"image_shape='four' must be a tuple"),
        (np.full((16, 2), np.nan), (4, 4), DataError, "NaN or infinite"),
    ],
)
def test_bad_input_raises_one_line_and_writes_nothing(tmp_path, weights, image_shape, error, message):
    with pytest.raises(error, match=message) as raised:
        plot_filters(weights, image_shape, tmp_path / "f.png")
    assert "\n" not in str(raised.value)
    assert not list(tmp_path.iterdir())


def test_bad_counts_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="max_filters=0 must be at least 1"):
        plot_filters(kernel(), (4, 4), tmp_path / "f.png", max_filters=0)
    with pytest.raises(ConfigError, match="columns=-1"):
        plot_filters(kernel(), (4, 4), tmp_path / "f.png", columns=-1)
    assert not list(tmp_path.iterdir())
