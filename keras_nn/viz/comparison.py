"""Curves of several runs, each trained from several seeds, in one PNG: the seeds' mean and their range."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

DEFAULT_PANELS = (("val_accuracy", "validation accuracy"), ("loss", "training loss"))


def _by_epoch(histories, quantity):
    """The seeds' values of `quantity` as `(epochs, mean, low, high)` over the epochs every seed reached."""
    series = [history[quantity] for history in histories if history.get(quantity)]
    if not series:
        return None
    length = min(len(values) for values in series)
    stacked = np.asarray([values[:length] for values in series], dtype=np.float64)
    return np.arange(1, length + 1), stacked.mean(axis=0), stacked.min(axis=0), stacked.max(axis=0)


def plot_comparison_curves(histories, path, title=None, panels=DEFAULT_PANELS):
    """Draws each run's curves, one panel per quantity: the mean over its seeds, with the seeds' range shaded.

    Args:
        histories: `{run name: [history per seed]}`, each history `{quantity: [value per epoch]}` as
            `keras_nn.viz.read_history` gives. Runs that stopped early are drawn up to the epoch all their
            seeds reached.
        path: the PNG to write.
        title: figure title.
        panels: `(quantity, label)` pairs, one panel each.

    Returns:
        The path written.
    """
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8))
    axes = np.atleast_1d(axes)
    for axis, (quantity, label) in zip(axes, panels, strict=True):
        for name, seeds in histories.items():
            curve = _by_epoch(seeds, quantity)
            if curve is None:
                continue
            epochs, mean, low, high = curve
            line = axis.plot(epochs, mean, label=f"{name} (mean of {len(seeds)})", marker="o", markersize=2.5)[0]
            axis.fill_between(epochs, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_ylabel(label)
        axis.set_title(f"{label}: mean, shaded min-max over seeds")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
