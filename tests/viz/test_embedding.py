import numpy as np
import pytest
from matplotlib import colormaps
from PIL import Image

from keras_nn.errors import ConfigError, DataError, ShapeError
from keras_nn.viz import plot_embedding_maps

NAMES = ["zero", "one", "two"]
LABELS = np.array([0, 1, 2, 2, 1, 0, 0, 1, 2, 1, 0, 2])


def maps():
    rng = np.random.default_rng(0)
    return {"autoencoder code": rng.normal(size=(12, 2)), "PCA": rng.normal(size=(12, 2))}


def test_panels_share_one_class_colouring_and_a_named_colorbar(tmp_path, saved_figures):
    points = maps()
    path = plot_embedding_maps(points, LABELS, tmp_path / "map.png", class_names=NAMES, title="test digits")
    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) >= 200
    figure = saved_figures[0]
    assert figure.get_suptitle() == "test digits"
    panels = [axis for axis in figure.axes if axis.get_title() in points]
    assert [axis.get_title() for axis in panels] == ["autoencoder code", "PCA"]
    tab10 = colormaps["tab10"]
    for axis in panels:
        assert (axis.get_xlabel(), axis.get_ylabel()) == ("dimension 1", "dimension 2")
        (scatter,) = axis.collections
        np.testing.assert_allclose(scatter.get_offsets(), points[axis.get_title()])
        expected = np.array([tab10(label)[:3] for label in LABELS])
        np.testing.assert_allclose(scatter.get_facecolors()[:, :3], expected)
    (colorbar_axis,) = [axis for axis in figure.axes if axis not in panels]
    assert [tick.get_text() for tick in colorbar_axis.get_yticklabels()] == NAMES
    assert colorbar_axis.get_ylabel() == "class"


def test_default_names_are_the_ids(tmp_path, saved_figures):
    plot_embedding_maps({"PCA": maps()["PCA"]}, LABELS, tmp_path / "m.png")
    figure = saved_figures[0]
    assert figure.get_suptitle() == "2-D maps of 12 examples"
    (colorbar_axis,) = [axis for axis in figure.axes if axis.get_title() != "PCA"]
    assert [tick.get_text() for tick in colorbar_axis.get_yticklabels()] == ["0", "1", "2"]


@pytest.mark.parametrize(
    ("points", "labels", "names", "error", "message"),
    [
        (
            {"PCA": np.zeros((12, 3))},
            LABELS,
            NAMES,
            ShapeError,
            r"map 'PCA' has shape \(12, 3\); give \(12, 2\)",
        ),
        (
            {"PCA": np.zeros((11, 2))},
            LABELS,
            NAMES,
            ShapeError,
            r"map 'PCA' has shape \(11, 2\); give \(12, 2\)",
        ),
        (maps(), LABELS[:, None], NAMES, ShapeError, r"labels has shape \(12, 1\); give \(N,\)"),
        (maps(), LABELS, NAMES[:2], DataError, "label 2 has no name among the 2 class_names"),
        (maps(), LABELS + 0.5, NAMES, DataError, "are not class ids"),
        (maps(), LABELS - 1, NAMES, DataError, "negative id -1"),
        ({"PCA": np.full((12, 2), np.nan)}, LABELS, NAMES, DataError, "NaN or infinite"),
        ({}, LABELS, NAMES, ConfigError, "non-empty dict"),
    ],
)
def test_bad_input_raises_one_line_and_writes_nothing(tmp_path, points, labels, names, error, message):
    with pytest.raises(error, match=message) as raised:
        plot_embedding_maps(points, labels, tmp_path / "m.png", class_names=names)
    assert "\n" not in str(raised.value)
    assert not list(tmp_path.iterdir())
