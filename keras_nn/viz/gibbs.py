"""Gibbs chains: what a generative model's samples look like after more and more sampling steps."""

import matplotlib
import numpy as np

from keras_nn.errors import ConfigError, DataError, ShapeError
from keras_nn.files import save_figure
from keras_nn.viz.filters import check_image_shape

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402


def plot_gibbs_chains(frames, steps, image_shape, path, title=None):
    """Writes a grid of Gibbs chains: one row per chain, one column per number of steps taken.

    Args:
        frames: `(len(steps), chains, visible_units)` visible probabilities (or samples) in [0, 1]: `frames[i]`
            is every chain's state after `steps[i]` Gibbs steps.
        steps: the step count of each frame, e.g. `[0, 1, 10, 100, 1000]`.
        image_shape: `(height, width)` of one visible vector, e.g. `(8, 8)`.
        path: the PNG to write.
        title: figure title (default: how many chains, up to how many steps).

    Returns:
        The path written.
    """
    frames = np.asarray(frames, dtype=np.float32)
    try:
        steps = [int(step) for step in steps]
    except (TypeError, ValueError):
        raise ConfigError(
            f"plot_gibbs_chains: steps={steps!r} must be a list of step counts, e.g. [0, 10, 100]"
        ) from None
    if frames.ndim != 3 or 0 in frames.shape:
        raise ShapeError(
            f"plot_gibbs_chains: frames has shape {frames.shape}; give (len(steps), chains, visible_units)"
        )
    if len(steps) != frames.shape[0]:
        raise ShapeError(
            f"plot_gibbs_chains: frames holds {frames.shape[0]} frames but steps names {len(steps)}; give one step "
            "count per frame"
        )
    if min(steps) < 0:
        raise ConfigError(f"plot_gibbs_chains: steps={steps} holds a negative count; give counts >= 0")
    count, chains, visible_units = frames.shape
    image_shape = check_image_shape(
        image_shape, visible_units, "plot_gibbs_chains", "visible units of each frame"
    )
    if not np.all(np.isfinite(frames)) or frames.min() < 0.0 or frames.max() > 1.0:
        raise DataError(
            f"plot_gibbs_chains: frames range over [{np.nanmin(frames):.3g}, {np.nanmax(frames):.3g}]; give visible "
            "probabilities or samples in [0, 1]"
        )

    cell = max(0.8, min(1.4, 10.0 / count))
    figure, axes = plt.subplots(
        chains, count, figsize=(cell * count + 1.6, cell * chains + 0.9), squeeze=False, layout="constrained"
    )
    image = None
    for chain in range(chains):
        for column in range(count):
            axis = axes[chain, column]
            image = axis.imshow(
                frames[column, chain].reshape(image_shape),
                cmap="gray",
                vmin=0.0,
                vmax=1.0,
                interpolation="nearest",
            )
            axis.set_xticks([])
            axis.set_yticks([])
            if chain == 0:
                axis.set_title(f"step {steps[column]}", fontsize=8)
            if column == 0:
                axis.set_ylabel(f"chain {chain}", fontsize=8)
    colorbar = figure.colorbar(image, ax=axes, shrink=min(1.0, 0.5 + 0.1 * chains), aspect=30)
    colorbar.set_label("p(v = 1 | h)")
    figure.supxlabel("Gibbs steps from the start of each chain", fontsize=8)
    figure.suptitle(title or f"{chains} Gibbs chains, up to {max(steps)} steps", fontsize=11)
    path = save_figure(figure, path)
    plt.close(figure)
    return path
