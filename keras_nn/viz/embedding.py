"""2-D maps of data (an autoencoder's codes, PCA, a feature extractor's t-SNE), side by side, coloured by class."""

import matplotlib
import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap

from keras_nn.errors import ConfigError, DataError, ShapeError
from keras_nn.files import save_figure

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402


def class_colormap(count):
    """A discrete colormap of `count` distinct colours: tab10's first ones (tab20's past 10 classes)."""
    if count <= 10:
        return ListedColormap(plt.get_cmap("tab10").colors[:count], name="tab10")
    if count <= 20:
        return ListedColormap(plt.get_cmap("tab20").colors[:count], name="tab20")
    return plt.get_cmap("turbo").resampled(count)


def plot_embedding_maps(maps, labels, path, class_names=None, title=None):
    """Writes scatter plots of 2-D maps of the same examples side by side, points coloured by class.

    Every panel uses the same colour per class (one discrete colormap, one colorbar whose ticks are the class
    names), so maps made by different methods compare at a glance.

    Args:
        maps: `{panel title: (N, 2) array}`, e.g. `{"autoencoder code": codes, "PCA": pca_codes}`, the same N
            examples in the same order in every map.
        labels: `(N,)` class ids (ints from 0).
        path: the PNG to write.
        class_names: name of each class id (default: the ids).
        title: figure title.

    Returns:
        The path written.
    """
    if not isinstance(maps, dict) or not maps:
        raise ConfigError(
            f"plot_embedding_maps: maps must be a non-empty dict {{panel title: (N, 2) array}}; got {type(maps).__name__}"
        )
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) == 0:
        raise ShapeError(f"plot_embedding_maps: labels has shape {labels.shape}; give (N,) class ids")
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.issubdtype(labels.dtype, np.number) or not np.all(labels == np.round(labels)):
            raise DataError(
                f"plot_embedding_maps: labels of dtype {labels.dtype} are not class ids; give ints from 0"
            )
        labels = labels.astype(np.int64)
    if labels.min() < 0:
        raise DataError(
            f"plot_embedding_maps: labels hold the negative id {labels.min()}; give class ids from 0"
        )
    points = {}
    for name, values in maps.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (len(labels), 2):
            raise ShapeError(
                f"plot_embedding_maps: map {name!r} has shape {values.shape}; give ({len(labels)}, 2), one 2-D "
                "point per label"
            )
        if not np.all(np.isfinite(values)):
            raise DataError(
                f"plot_embedding_maps: map {name!r} holds NaN or infinite points; give finite coordinates"
            )
        points[str(name)] = values
    if class_names is None:
        class_names = [str(index) for index in range(int(labels.max()) + 1)]
    class_names = [str(name) for name in class_names]
    if labels.max() >= len(class_names):
        raise DataError(
            f"plot_embedding_maps: label {labels.max()} has no name among the {len(class_names)} class_names; "
            "give a name for every class id"
        )

    count = len(class_names)
    colormap = class_colormap(count)
    norm = BoundaryNorm(np.arange(count + 1) - 0.5, count)
    size = max(2.0, min(25.0, 4000.0 / len(labels)))  # dense maps need small points to show their structure
    figure, axes = plt.subplots(
        1, len(points), figsize=(4.4 * len(points) + 1.4, 4.6), squeeze=False, layout="constrained"
    )
    scatter = None
    for axis, (name, values) in zip(axes.flat, points.items(), strict=True):
        scatter = axis.scatter(
            values[:, 0], values[:, 1], c=labels, cmap=colormap, norm=norm, s=size, alpha=0.8, linewidths=0
        )
        axis.set_title(name, fontsize=10)
        axis.set_xlabel("dimension 1")
        axis.set_ylabel("dimension 2")
        axis.grid(alpha=0.2)
    colorbar = figure.colorbar(scatter, ax=axes, ticks=range(count), aspect=30)
    colorbar.ax.set_yticklabels(class_names, fontsize=max(5, min(9, 180 // count)))
    colorbar.set_label("class")
    figure.suptitle(title or f"2-D maps of {len(labels)} examples", fontsize=11)
    path = save_figure(figure, path)
    plt.close(figure)
    return path
