"""Training curves as PNG: loss and every metric, train against validation, one panel each."""

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402


def read_history(path):
    """Reads a Keras `CSVLogger` file into `{column: [values]}` (numbers as floats)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = rows[0].keys() if rows else []
    return {column: [float(row[column]) for row in rows if row[column] not in ("", None)] for column in columns}


def plot_history(history, path, title=None):
    """Draws loss and metric curves, one panel per quantity, validation dashed beside training.

    Args:
        history: `{name: [value per epoch]}` as `keras.callbacks.History.history` or `read_history` gives,
            or a path to a history CSV.
        path: the PNG to write.
        title: figure title.

    Returns:
        The path written.
    """
    if isinstance(history, (str, Path)):
        history = read_history(history)
    quantities = [k for k in history if not k.startswith("val_") and k not in ("epoch", "learning_rate")]
    figure, axes = plt.subplots(1, max(len(quantities), 1), figsize=(4.5 * max(len(quantities), 1), 3.6))
    axes = [axes] if len(quantities) <= 1 else list(axes)
    epochs = history.get("epoch")
    for axis, quantity in zip(axes, quantities, strict=False):
        values = history[quantity]
        x = [int(e) + 1 for e in epochs] if epochs and len(epochs) == len(values) else range(1, len(values) + 1)
        axis.plot(x, values, label="train", marker="o", markersize=3)
        if f"val_{quantity}" in history:
            axis.plot(x, history[f"val_{quantity}"], label="validation", linestyle="--", marker="o", markersize=3)
        axis.set_xlabel("epoch")
        axis.set_title(quantity.replace("_", " "))
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)
