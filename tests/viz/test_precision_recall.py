import os

import numpy as np
import pytest
from PIL import Image

from keras_nn.errors import ConfigError
from keras_nn.viz import plot_precision_recall

RECALL = np.linspace(0.0, 1.0, 101)
# square: precision 1 up to recall 0.5 (51 points), 2/3 above (50 points): AP = (51 + 50 * 2/3) / 101 = 0.835.
CURVES = {
    "recall": RECALL.tolist(),
    "precision": {"circle": [1.0] * 101, "square": [1.0] * 51 + [2 / 3] * 50, "triangle": None},
    "iou": 0.5,
}



def test_one_curve_per_class_with_its_ap_in_the_legend(tmp_path, saved_figures):
    path = plot_precision_recall(CURVES, tmp_path / "pr.png", title="shapes, test split")
    assert path == tmp_path / "pr.png"
    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) >= 300
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pr.png"], "no temporary file left beside it"
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask, "ordinary file permissions"

    (axis,) = saved_figures[0].axes
    assert axis.get_title() == "shapes, test split\nIoU 0.50, mAP 0.917"  # (1 + 0.835) / 2
    assert axis.get_xlabel() == "recall" and axis.get_ylabel() == "precision"
    assert axis.get_xlim() == (0.0, 1.0) and axis.get_ylim()[0] == 0.0
    legend = [text.get_text() for text in axis.get_legend().get_texts()]
    assert legend == ["circle AP 1.000", "square AP 0.835", "triangle (no ground truth)"]
    square = axis.get_lines()[1]
    assert max(square.get_ydata()) == 1.0 and min(square.get_ydata()) == pytest.approx(2 / 3)


def test_a_curve_of_the_wrong_length_writes_nothing(tmp_path):
    bad = {**CURVES, "precision": {"circle": [1.0] * 100}}
    with pytest.raises(ConfigError, match="'circle' has shape \\(100,\\); give \\(101,\\)"):
        plot_precision_recall(bad, tmp_path / "pr.png", title="x")
    assert not list(tmp_path.iterdir())
