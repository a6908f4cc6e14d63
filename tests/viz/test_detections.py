import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib.patches import Rectangle
from PIL import Image

from keras_nn.errors import DataError
from keras_nn.viz import plot_detections

NAMES = ["circle", "square", "triangle"]



def scene():
    images = np.random.default_rng(0).random((3, 32, 32, 3), dtype=np.float32)
    true_boxes = np.zeros((3, 4, 5), np.float32)
    true_boxes[:, :, 0] = -1
    true_boxes[0, 0] = (0, 0.25, 0.25, 0.75, 0.75)
    true_boxes[1, 0] = (1, 0.0, 0.5, 0.5, 1.0)
    true_boxes[1, 1] = (2, 0.5, 0.0, 1.0, 0.5)
    detections = {
        "boxes": np.zeros((3, 5, 4), np.float32),
        "scores": np.zeros((3, 5), np.float32),
        "classes": np.zeros((3, 5), np.int32),
        "count": np.array([2, 0, 1], np.int32),
    }
    detections["boxes"][0, :2] = [(0.25, 0.25, 0.75, 0.75), (0.0, 0.0, 0.25, 0.5)]
    detections["scores"][0, :2] = [0.9, 0.4]
    detections["classes"][0, :2] = [0, 1]
    detections["boxes"][0, 2] = (0.1, 0.1, 0.2, 0.2)  # past the count: not drawn
    return images, true_boxes, detections


def boxes_of(axis, linestyle):
    return [patch for patch in axis.patches if isinstance(patch, Rectangle) and patch.get_linestyle() == linestyle]


def test_predicted_boxes_are_solid_and_labelled_true_boxes_dashed(tmp_path, saved_figures):
    images, true_boxes, detections = scene()
    path = plot_detections(images, true_boxes, detections, NAMES, tmp_path / "det.png", "test scenes", max_images=2)
    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) >= 200
    figure = saved_figures[0]
    assert figure.get_suptitle() == "test scenes"
    shown = [axis for axis in figure.axes if axis.images]
    assert len(shown) == 2, "max_images=2 of 3"
    first, second = shown
    assert len(boxes_of(first, "-")) == 2 and len(boxes_of(first, "--")) == 1
    assert len(boxes_of(second, "-")) == 0 and len(boxes_of(second, "--")) == 2
    assert [text.get_text() for text in first.texts] == ["circle 0.90", "square 0.40"]
    predicted_circle, predicted_square = boxes_of(first, "-")
    (true_circle,) = boxes_of(first, "--")
    # Normalized 0.25..0.75 of a 32-pixel image: pixels 8..24, drawn on imshow's grid (pixel centres at integers).
    assert predicted_circle.get_xy() == (7.5, 7.5) and predicted_circle.get_width() == 16.0
    assert true_circle.get_xy() == (7.5, 7.5)
    tab10 = colormaps["tab10"]
    assert predicted_circle.get_edgecolor() == true_circle.get_edgecolor() == tab10(0)
    assert predicted_square.get_edgecolor() == tab10(1)
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert legend == ["predicted (class score)", "true", *NAMES]


def test_an_unknown_class_id_writes_nothing(tmp_path):
    images, true_boxes, detections = scene()
    detections["classes"][0, 1] = 5
    with pytest.raises(DataError, match=r"class ids \[5\] have no name"):
        plot_detections(images, true_boxes, detections, NAMES, tmp_path / "det.png", "x")
    assert not list(tmp_path.iterdir())
