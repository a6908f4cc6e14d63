"""Heatmaps laid over the images they explain: one drawing for Grad-CAM, attention rollout, and the figure that
puts several explanations of the same images side by side.

Each heatmap is stretched over its image whatever its resolution (a Grad-CAM map at the image's size, an
attention rollout at the ViT's patch grid), so maps of different models line up pixel for pixel.

Example:
    >>> save_explanation_grid(images, {"Grad-CAM (simple_cnn)": cams, "rollout (vit)": rollouts},
    ...                       "explanations.png", title="what each model looked at")
"""

from pathlib import Path

import matplotlib
import numpy as np

from keras_nn.errors import ConfigError

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402

HEATMAP_COLORMAP = "jet"


def show_image(axis, image):
    """Draws one `(H, W)`, `(H, W, 1)` or `(H, W, 3)` image in [0, 1] on a matplotlib axis."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        axis.imshow(image, cmap="gray", vmin=0.0, vmax=max(1.0, float(image.max())), interpolation="nearest")
    else:
        axis.imshow(np.clip(image, 0.0, 1.0), interpolation="nearest")


def draw_overlay(axis, image, heatmap, alpha=0.5):
    """Draws `image` and `heatmap` (`(h, w)` in [0, 1], any resolution) over it; returns the heatmap's artist
    (for a colorbar)."""
    image = np.asarray(image)
    show_image(axis, image)
    # imshow puts pixel centres on integers; the heatmap must cover the same area as the image.
    extent = (-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5)
    return axis.imshow(
        np.asarray(heatmap, dtype=np.float32), cmap=HEATMAP_COLORMAP, alpha=alpha, vmin=0.0, vmax=1.0,
        extent=extent, interpolation="bilinear",
    )


def save_explanation_grid(images, columns, path, title=None, titles=None, alpha=0.5,
                          colorbar_label="relevance (each map divided by its maximum)"):
    """Writes a PNG with one row per image: the image, then each explanation of it laid over it.

    Args:
        images: `(N, H, W, C)` (or `(N, H, W)`) images in [0, 1] for display (undo any model normalization first).
        columns: `{column title: (N, h, w) heatmaps in [0, 1]}`, e.g. a CNN's Grad-CAM and ViT/DeiT attention
            rollouts of the same images; each column may have its own resolution.
        path: the PNG to write.
        title: the figure title.
        titles: one label per row (e.g. "true 3, pred 8"), written beside the image.
        alpha: heatmap opacity.
        colorbar_label: the label of the shared colorbar.

    Returns:
        The path written.

    Raises:
        ConfigError: no images, no columns, or a column whose number of maps differs from the images'. Nothing
            is written then.
    """
    images = np.asarray(images, dtype=np.float32)
    rows = len(images)
    if rows == 0 or images.ndim not in (3, 4):
        raise ConfigError(f"save_explanation_grid needs a non-empty batch of (H, W[, C]) images; got {images.shape}")
    if not columns:
        raise ConfigError("save_explanation_grid got no heatmaps; pass {column title: (N, h, w) maps}")
    columns = {str(name): np.asarray(maps, dtype=np.float32) for name, maps in columns.items()}
    for name, maps in columns.items():
        if maps.ndim != 3 or maps.shape[0] != rows:
            raise ConfigError(
                f"heatmaps {name!r} hold {maps.shape[0] if maps.ndim else 0} maps for {rows} images; pass "
                "(N, h, w) maps, one per image"
            )
    if titles is not None and len(titles) != rows:
        raise ConfigError(f"save_explanation_grid got {len(titles)} row titles for {rows} images")
    width = 1 + len(columns)
    figure, axes = plt.subplots(
        rows, width, figsize=(2.3 * width + 0.9, 2.3 * rows + (0.5 if title else 0.3)), squeeze=False,
        layout="constrained",
    )
    artist = None
    for row in range(rows):
        show_image(axes[row][0], images[row])
        axes[row][0].set_ylabel(titles[row] if titles else f"image {row + 1}", fontsize=9)
        for column, (name, maps) in enumerate(columns.items(), start=1):
            artist = draw_overlay(axes[row][column], images[row], maps[row], alpha)
            if row == 0:
                axes[row][column].set_title(name, fontsize=9)
        for axis in axes[row]:
            axis.set_xticks([])
            axis.set_yticks([])
    axes[0][0].set_title("image", fontsize=9)
    figure.colorbar(artist, ax=axes[:, 1:].ravel().tolist(), shrink=min(1.0, 0.4 + 0.15 * rows), label=colorbar_label)
    if title:
        figure.suptitle(title, fontsize=11)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)
