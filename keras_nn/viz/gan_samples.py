"""A generative model's progress: the same fixed noise rendered after each epoch (a strip of epochs as PNG and an
animated GIF), and the discriminator's accuracy on real and generated images per epoch."""

import math
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image

from keras_nn.errors import ShapeError

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402


def check_frames(frames, epochs, caller):
    """`frames` as float32 `(epochs, samples, H, W[, 3])` in [0, 1] (a channel of 1 dropped)."""
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim == 5 and frames.shape[-1] == 1:
        frames = frames[..., 0]
    if frames.ndim not in (4, 5) or len(frames) == 0 or len(frames) != len(epochs):
        raise ShapeError(
            f"{caller} needs frames of shape (epochs, samples, H, W[, 3]) with one frame per epoch listed; got "
            f"{frames.shape} for {len(epochs)} epochs"
        )
    return np.clip(frames, 0.0, 1.0)


def tile(images, columns):
    """`(N, H, W[, 3])` images as one `(rows * H, columns * W[, 3])` mosaic (blank cells left over are 0)."""
    count, height, width = images.shape[:3]
    rows = math.ceil(count / columns)
    mosaic = np.zeros((rows * height, columns * width) + images.shape[3:], images.dtype)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        mosaic[row * height:(row + 1) * height, column * width:(column + 1) * width] = image
    return mosaic


def plot_sample_progress(frames, epochs, path, title=None, max_rows=10):
    """Draws the samples of fixed noise after each listed epoch: one row per epoch, one column per sample.

    Args:
        frames: `(len(epochs), samples, H, W[, C])` images in [0, 1].
        epochs: the epoch (1-based) of each frame.
        path: the PNG to write.
        title: figure title.
        max_rows: at most this many epochs are drawn, evenly spaced, the last always included.

    Returns:
        The path written.
    """
    frames = check_frames(frames, epochs, "plot_sample_progress")
    chosen = np.unique(np.linspace(0, len(frames) - 1, min(max_rows, len(frames))).round().astype(int))
    rows = [tile(frames[index], frames.shape[1]) for index in chosen]
    mosaic = np.concatenate(rows, axis=0)
    height = frames.shape[2]
    figure, axis = plt.subplots(figsize=(min(1.0 + 0.55 * frames.shape[1], 16), 0.8 + 0.55 * len(chosen)))
    shown = axis.imshow(mosaic, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    axis.set_yticks([height * (i + 0.5) for i in range(len(chosen))], [str(epochs[i]) for i in chosen])
    axis.set_xticks([])
    axis.set_ylabel("epoch")
    axis.set_xlabel("the same noise vector in each column")
    axis.set_title(title or "Samples from fixed noise, epoch by epoch")
    if mosaic.ndim == 2:
        figure.colorbar(shown, ax=axis, fraction=0.03, label="pixel intensity")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)


def write_sample_gif(frames, epochs, path, columns=None, scale=4, milliseconds=250):
    """Writes an animated GIF with one frame per epoch: the fixed-noise samples tiled, enlarged `scale` times.

    Returns:
        The path written.
    """
    frames = check_frames(frames, epochs, "write_sample_gif")
    columns = columns or max(1, math.ceil(math.sqrt(frames.shape[1])))
    pictures = []
    for frame in frames:
        mosaic = (tile(frame, columns) * 255.0).round().astype(np.uint8)
        picture = Image.fromarray(mosaic)
        pictures.append(picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST))
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=milliseconds, loop=0)
    return Path(path)


def plot_discriminator_balance(history, path, title=None):
    """The discriminator's accuracy on real and on generated images per epoch, with the 50% line where neither
    network has the upper hand.

    Args:
        history: `{name: [value per epoch]}` with `d_real_accuracy` and `d_fake_accuracy`.
        path: the PNG to write.

    Returns:
        The path written.
    """
    missing = [key for key in ("d_real_accuracy", "d_fake_accuracy") if key not in history]
    if missing:
        raise ShapeError(f"plot_discriminator_balance needs {', '.join(missing)} in the history")
    figure, axis = plt.subplots(figsize=(6.0, 3.8))
    for key, label in (("d_real_accuracy", "real images scored real"), ("d_fake_accuracy", "generated scored fake")):
        values = history[key]
        axis.plot(range(1, len(values) + 1), values, label=label)
    axis.axhline(0.5, color="grey", linestyle=":", label="balance (50%)")
    axis.set_ylim(0.0, 1.0)
    axis.set_xlabel("epoch")
    axis.set_ylabel("discriminator accuracy")
    axis.set_title(title or "Discriminator accuracy on real and generated images")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)
