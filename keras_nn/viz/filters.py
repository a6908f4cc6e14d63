"""Learned filters: each hidden unit's incoming weights drawn as an image, e.g. an RBM's kernel."""

import math

import matplotlib
import numpy as np

from keras_nn.errors import ConfigError, DataError, ShapeError
from keras_nn.files import save_figure

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402

#: A diverging map: positive and negative weights in opposite hues, zero white.
FILTER_COLORMAP = "RdBu_r"


def check_image_shape(image_shape, units, caller, what):
    """`image_shape` as a tuple of positive ints whose product is `units`, for `caller`'s `what`."""
    try:
        image_shape = tuple(int(size) for size in image_shape)
    except (TypeError, ValueError):
        raise ShapeError(
            f"{caller}: image_shape={image_shape!r} must be a tuple such as (8, 8) or (28, 28)"
        ) from None
    if len(image_shape) != 2 or min(image_shape) < 1 or math.prod(image_shape) != units:
        raise ShapeError(
            f"{caller}: image_shape={image_shape} does not hold the {units} {what}; give (height, width) with "
            f"height * width = {units}"
        )
    return image_shape


def plot_filters(kernel, image_shape, path, title=None, max_filters=64, columns=None):
    """Writes each hidden unit's incoming weights, reshaped to an image, as tiles of a grid.

    All tiles share one diverging colormap centred at 0 with symmetric limits (the largest absolute weight
    shown), so tiles compare directly: red pixels excite the unit, blue ones inhibit it.

    Args:
        kernel: `(visible_units, hidden_units)` weights, e.g. `model.rbm.kernel` as numpy.
        image_shape: `(height, width)` of one visible vector, e.g. `(8, 8)` or `(28, 28)`.
        path: the PNG to write.
        title: figure title (default: how many units are shown of how many).
        max_filters: the most tiles drawn (the first hidden units).
        columns: tiles per row (default: about square).

    Returns:
        The path written.
    """
    kernel = np.asarray(kernel, dtype=np.float32)
    if kernel.ndim != 2 or 0 in kernel.shape:
        raise ShapeError(f"plot_filters: kernel has shape {kernel.shape}; give (visible_units, hidden_units)")
    visible_units, hidden_units = kernel.shape
    image_shape = check_image_shape(
        image_shape, visible_units, "plot_filters", "visible units of each filter"
    )
    if int(max_filters) < 1:
        raise ConfigError(f"plot_filters: max_filters={max_filters!r} must be at least 1")
    if columns is not None and int(columns) < 1:
        raise ConfigError(f"plot_filters: columns={columns!r} must be at least 1, or None for about square")
    if not np.all(np.isfinite(kernel)):
        raise DataError(
            "plot_filters: the kernel holds NaN or infinite weights; plot a kernel from a finite model"
        )

    count = min(hidden_units, int(max_filters))
    filters = kernel[:, :count].T.reshape(count, *image_shape)
    limit = float(np.abs(filters).max()) or 1.0  # an all-zero kernel still needs a non-empty colour range
    columns = int(columns) if columns else math.ceil(math.sqrt(count))
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    cell = max(0.9, min(1.6, 12.0 / columns))
    figure, axes = plt.subplots(
        rows, columns, figsize=(cell * columns + 1.4, cell * rows + 0.9), squeeze=False, layout="constrained"
    )
    image = None
    for index, axis in enumerate(axes.flat):
        axis.set_xticks([])
        axis.set_yticks([])
        if index >= count:
            axis.axis("off")
            continue
        image = axis.imshow(
            filters[index], cmap=FILTER_COLORMAP, vmin=-limit, vmax=limit, interpolation="nearest"
        )
        axis.set_title(f"unit {index}", fontsize=7, pad=2)
    colorbar = figure.colorbar(image, ax=axes, shrink=min(1.0, 0.9 + 0.05 * rows), aspect=30)
    colorbar.set_label("weight")
    figure.supxlabel(
        f"each tile: one hidden unit's {visible_units} incoming weights as a {image_shape[0]}x"
        f"{image_shape[1]} image",
        fontsize=8,
    )
    shown = (
        f"{count} of {hidden_units} hidden units"
        if count < hidden_units
        else f"all {hidden_units} hidden units"
    )
    figure.suptitle(title or f"filters: {shown}", fontsize=11)
    path = save_figure(figure, path)
    plt.close(figure)
    return path
