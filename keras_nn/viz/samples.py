"""Sample grids: images with their labels, e.g. the test images a classifier got wrong."""

import math
import textwrap
from pathlib import Path

import matplotlib
import numpy as np

from keras_nn.errors import ConfigError

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402


def as_image_batch(images, caller):
    """`images` as float32 `(N, H, W)` or `(N, H, W, 3)` (a channel of 1 dropped), checked non-empty for `caller`."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ConfigError(f"{caller} needs a non-empty batch of (H, W) or (H, W, C) images; got {images.shape}")
    return images


def draw_images(axes, images):
    """Shows `images` in the cells of a grid of `axes`, row by row, without ticks; the cells left over are blanked.

    Returns:
        The axes used, in image order.
    """
    used = []
    for index, axis in enumerate(axes.flat):
        axis.set_xticks([])
        axis.set_yticks([])
        if index >= len(images):
            axis.axis("off")
            continue
        image = images[index]
        if image.ndim == 2:
            axis.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        else:
            axis.imshow(np.clip(image, 0.0, 1.0), interpolation="nearest")
        used.append(axis)
    return used


def plot_image_grid(images, path, titles=None, title=None, columns=None, title_colors=None):
    """Writes a grid of images, each with a small title.

    Args:
        images: `(N, H, W)` or `(N, H, W, C)` floats in [0, 1] (C = 1 or 3).
        path: the PNG to write.
        titles: a line (or two, with a newline) above each image.
        title: the figure title.
        columns: images per row (default: about square).
        title_colors: matplotlib colour of each image's title.

    Returns:
        The path written.
    """
    images = as_image_batch(images, "plot_image_grid")
    count = len(images)
    columns = columns or min(count, max(1, math.ceil(math.sqrt(count))))
    rows = math.ceil(count / columns)
    lines = max((t.count("\n") + 1 for t in titles), default=1) if titles else 0
    cell = 1.9
    width = max(cell * columns, 4.8 if title else 0)  # room for the title above a short row
    if title:
        title = textwrap.fill(title, width=int(width * 11))
    title_height = 0.3 * (title.count("\n") + 1) + 0.2 if title else 0
    figure, axes = plt.subplots(rows, columns, figsize=(width, (cell + 0.18 * lines) * rows + title_height), squeeze=False)
    for index, axis in enumerate(draw_images(axes, images)):
        if titles:
            color = title_colors[index] if title_colors else "black"
            axis.set_title(titles[index], fontsize=8, color=color)
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)


def plot_misclassified(images, y_true, y_pred, class_names, path, probabilities=None, max_images=25, title=None):
    """Writes a grid of the misclassified images, titled with their true and predicted labels.

    Args:
        images: `(N, H, W[, C])` images in [0, 1] (undo any model normalization first).
        y_true: N true class ids.
        y_pred: N predicted class ids.
        class_names: name of each class id.
        path: the PNG to write.
        probabilities: optional `(N, C)` model outputs; the predicted class's probability is shown.
        max_images: the most images shown (the most confident mistakes first when probabilities are given).
        title: figure title (default: how many mistakes of how many images).

    Returns:
        The indices (into `images`) of the images shown; empty, and no file written, when nothing is wrong.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    wrong = np.flatnonzero(y_true != y_pred)
    if probabilities is not None:
        probabilities = np.asarray(probabilities)
        wrong = wrong[np.argsort(-probabilities[wrong, y_pred[wrong]], kind="stable")]
    shown = wrong[:max_images]
    if len(shown) == 0:
        return shown
    titles = []
    for i in shown:
        line = f"true: {class_names[y_true[i]]}\npred: {class_names[y_pred[i]]}"
        if probabilities is not None:
            line += f" ({probabilities[i, y_pred[i]]:.2f})"
        titles.append(line)
    title = title or f"{len(wrong)} of {len(y_true)} test images misclassified" + (
        f" (the {len(shown)} most confident shown)" if len(shown) < len(wrong) and probabilities is not None else ""
    )
    plot_image_grid(np.asarray(images)[shown], path, titles=titles, title=title, title_colors=["firebrick"] * len(shown))
    return shown
