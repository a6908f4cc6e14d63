import numpy as np
import pytest
from PIL import Image

from keras_nn.errors import ConfigError, DataError, ShapeError
from keras_nn.viz import plot_gibbs_chains

STEPS = [0, 1, 10]


def frames(chains=2):
    return np.random.default_rng(0).random((len(STEPS), chains, 16), dtype=np.float32)


def test_rows_are_chains_and_columns_step_counts(tmp_path, saved_figures):
    values = frames()
    path = plot_gibbs_chains(values, STEPS, (4, 4), tmp_path / "chains.png", title="digits RBM")
    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) >= 150
    figure = saved_figures[0]
    assert figure.get_suptitle() == "digits RBM"
    cells = np.array([axis for axis in figure.axes if axis.images]).reshape(2, len(STEPS))
    assert [axis.get_title() for axis in cells[0]] == ["step 0", "step 1", "step 10"]
    assert [axis.get_title() for axis in cells[1]] == ["", "", ""], "column titles on the top row only"
    assert [axis.get_ylabel() for axis in cells[:, 0]] == ["chain 0", "chain 1"]
    for chain in range(2):
        for column in range(len(STEPS)):
            (image,) = cells[chain, column].images
            np.testing.assert_array_equal(image.get_array(), values[column, chain].reshape(4, 4))
            assert image.get_clim() == (0.0, 1.0) and image.get_cmap().name == "gray"
    assert "p(v = 1 | h)" in [axis.get_ylabel() for axis in figure.axes if not axis.images]


def test_default_title_names_chains_and_steps(tmp_path, saved_figures):
    plot_gibbs_chains(frames(3), STEPS, (2, 8), tmp_path / "c.png")
    assert saved_figures[0].get_suptitle() == "3 Gibbs chains, up to 10 steps"


@pytest.mark.parametrize(
    ("values", "steps", "image_shape", "error", "message"),
    [
        (frames(), [0, 1], (4, 4), ShapeError, "frames holds 3 frames but steps names 2"),
        (frames()[0], STEPS, (4, 4), ShapeError, r"frames has shape \(2, 16\); give \(len\(steps\), chains"),
        (frames(), STEPS, (3, 5), ShapeError, r"image_shape=\(3, 5\) does not hold the 16 visible units"),
        (frames() * 3.0, STEPS, (4, 4), DataError, r"frames range over \[.*\]; give .* in \[0, 1\]"),
        (frames(), [0, -1, 2], (4, 4), ConfigError, "negative count"),
    ],
)
def test_bad_input_raises_one_line_and_writes_nothing(tmp_path, values, steps, image_shape, error, message):
    with pytest.raises(error, match=message) as raised:
        plot_gibbs_chains(values, steps, image_shape, tmp_path / "c.png")
    assert "\n" not in str(raised.value)
    assert not list(tmp_path.iterdir())
