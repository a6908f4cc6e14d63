"""Precision-recall curves of a detector, one per class, with each class's AP in the legend."""

import matplotlib
import numpy as np

from keras_nn.errors import ConfigError
from keras_nn.files import save_figure

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402


def plot_precision_recall(precision_recall, path, title=None):
    """Writes the precision-recall curve of every class as a PNG, each labelled with its AP.

    The curves are COCO's interpolated precision (the best precision at any recall at least as high) sampled on
    its recall grid, so a curve's mean is exactly the class's AP at that IoU; that mean is the AP in the legend.
    Classes without ground truth (precision None) have no curve and are named in the legend as such.

    Args:
        precision_recall: `{"recall": [R], "precision": {class name: [R] or None}, "iou": 0.5}`, the
            `precision_recall` entry of `keras_nn.metrics.coco_evaluation`'s report.
        path: the PNG to write.
        title: figure title (the IoU and the mean AP are added below it).

    Returns:
        The path written.
    """
    recall = np.asarray(precision_recall.get("recall", []), dtype=np.float64)
    curves = precision_recall.get("precision", {})
    if recall.ndim != 1 or len(recall) < 2 or not curves:
        raise ConfigError(
            "plot_precision_recall needs {'recall': [R], 'precision': {class: [R]}} as coco_evaluation gives; "
            f"got recall of shape {recall.shape} and {len(curves)} classes"
        )
    for name, curve in curves.items():
        if curve is not None and np.shape(curve) != recall.shape:
            raise ConfigError(f"the precision of class {name!r} has shape {np.shape(curve)}; give {recall.shape}")
    iou = precision_recall.get("iou", 0.5)
    colors = plt.get_cmap("tab10" if len(curves) <= 10 else "tab20")
    figure, axis = plt.subplots(figsize=(6.4, 5.0))
    aps = []
    for index, (name, curve) in enumerate(curves.items()):
        if curve is None:
            axis.plot([], [], color="lightgray", label=f"{name} (no ground truth)")
            continue
        ap = float(np.mean(curve))
        aps.append(ap)
        color = colors(index % colors.N)
        axis.step(recall, curve, where="pre", color=color, linewidth=1.6, label=f"{name} AP {ap:.3f}")
    axis.set_xlim(0.0, 1.0)
    axis.set_ylim(0.0, 1.02)
    axis.set_xlabel("recall")
    axis.set_ylabel("precision")
    axis.grid(alpha=0.3)
    axis.legend(loc="lower left", fontsize=8)
    summary = f"IoU {iou:.2f}, mAP {np.mean(aps):.3f}" if aps else f"IoU {iou:.2f}, no class with ground truth"
    axis.set_title(f"{title}\n{summary}" if title else summary, fontsize=10)
    figure.tight_layout()
    path = save_figure(figure, path)
    plt.close(figure)
    return path
