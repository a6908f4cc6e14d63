"""Confusion matrices: counted with scikit-learn, written as CSV and as an annotated PNG heatmap."""

import csv
from pathlib import Path

import matplotlib
import numpy as np
from sklearn import metrics as sk_metrics

from keras_nn.errors import ConfigError

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402


def confusion_matrix(y_true, y_pred, num_classes):
    """Counts `(true class, predicted class)` pairs: row i, column j = examples of class i predicted as j.

    Every class gets a row and a column, also one that never occurs (`sklearn.metrics.confusion_matrix`
    with `labels=range(num_classes)`).
    """
    return sk_metrics.confusion_matrix(np.asarray(y_true), np.asarray(y_pred), labels=list(range(int(num_classes))))


def write_confusion_csv(matrix, class_names, path):
    """Writes the matrix as CSV: a header of predicted class names, one row per true class. Returns the path."""
    matrix = np.asarray(matrix)
    _check_names(matrix, class_names)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["true \\ predicted", *class_names])
        for name, row in zip(class_names, matrix, strict=True):
            writer.writerow([name, *(int(v) for v in row)])
    return Path(path)


def read_confusion_csv(path):
    """Reads a file `write_confusion_csv` wrote; returns `(matrix, class_names)`."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    names = rows[0][1:]
    return np.array([[int(v) for v in row[1:]] for row in rows[1:]], dtype=np.int64), names


def _check_names(matrix, class_names):
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] != len(class_names):
        raise ConfigError(
            f"a confusion matrix of shape {matrix.shape} needs {matrix.shape[0]} class names; got {len(class_names)}"
        )


def plot_confusion_matrix(matrix, class_names, path, title=None, normalize=True):
    """Draws the matrix with class names on both axes and the counts in the cells.

    Args:
        matrix: `(C, C)` counts, rows true classes, columns predicted ones.
        class_names: the C names, in class id order.
        path: the PNG to write.
        title: figure title.
        normalize: colour each cell by its share of the true class's examples (row-normalized recall), so
            rare classes are as visible as common ones; the cells still show the counts.

    Returns:
        The path written.
    """
    matrix = np.asarray(matrix)
    _check_names(matrix, class_names)
    count = len(class_names)
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, np.maximum(totals, 1)) if normalize else matrix / max(matrix.max(), 1)
    side = min(max(4.5, 0.45 * count + 2.5), 24)
    figure, axis = plt.subplots(figsize=(side + 1.0, side))
    image = axis.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    colorbar = figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    colorbar.set_label("share of the true class" if normalize else "share of the largest cell")
    font = max(5, min(10, int(120 / max(count, 1))))
    axis.set_xticks(range(count), labels=class_names, rotation=45 if max(map(len, class_names)) > 3 else 0,
                    ha="right" if max(map(len, class_names)) > 3 else "center", fontsize=font)
    axis.set_yticks(range(count), labels=class_names, fontsize=font)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    if count <= 40:
        for i in range(count):
            for j in range(count):
                if matrix[i, j]:
                    color = "white" if shares[i, j] > 0.5 else "black"
                    axis.text(j, i, str(int(matrix[i, j])), ha="center", va="center", color=color, fontsize=font)
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    axis.set_title(f"{title + chr(10) if title else ''}{int(matrix.sum())} examples, accuracy {accuracy:.4f}", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)
