"""A grid of images with a detector's boxes (solid, labelled with class and score) over the true boxes (dashed)."""

import math

import matplotlib
import numpy as np

from keras_nn.errors import DataError, ShapeError
from keras_nn.files import save_figure
from keras_nn.viz.samples import as_image_batch, draw_images

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

PREDICTED_STYLE = {"linestyle": "-", "linewidth": 1.8}
TRUE_STYLE = {"linestyle": "--", "linewidth": 1.4}


def plot_detections(images, true_boxes, detections, class_names, path, title=None, max_images=16):
    """Writes a grid of images with predicted and true boxes, one colour per class.

    Predicted boxes are solid and labelled "class score"; true boxes are dashed; the legend under the grid says
    which is which and which colour is which class.

    Args:
        images: `(N, H, W)` or `(N, H, W, C)` floats in [0, 1] (C = 1 or 3).
        true_boxes: per image a `[max_boxes, 5]` array of `(class_id, x1, y1, x2, y2)` rows, normalized;
            `class_id < 0` is padding. None draws no true boxes.
        detections: the `NonMaxSuppression` output as numpy (`boxes` `[N, D, 4]` normalized x1, y1, x2, y2,
            `scores`, `classes`, `count`); entries past `count` are not drawn.
        class_names: the name of each class id.
        path: the PNG to write.
        title: figure title.
        max_images: the first this many images are drawn.

    Returns:
        The path written.
    """
    images = as_image_batch(images, "plot_detections")
    count = min(len(images), max_images)
    truth = [np.asarray(boxes, dtype=np.float32) for boxes in true_boxes[:count]] if true_boxes is not None else None
    if truth is not None and (len(truth) < count or any(b.ndim != 2 or b.shape[-1] != 5 for b in truth)):
        raise ShapeError(f"true_boxes needs one [max_boxes, 5] array for each of the {count} images drawn")
    predicted = {key: np.asarray(detections[key]) for key in ("boxes", "scores", "classes", "count")}
    if predicted["boxes"].ndim != 3 or len(predicted["boxes"]) < count:
        raise ShapeError(
            f"detections['boxes'] has shape {predicted['boxes'].shape}; give [N, max_detections, 4] for the "
            f"{count} images drawn"
        )
    used = [predicted["classes"][i, : int(predicted["count"][i])] for i in range(count)]
    used += [boxes[boxes[:, 0] >= 0, 0] for boxes in truth or []]
    bad = sorted({int(c) for ids in used for c in ids if not 0 <= int(c) < len(class_names)})
    if bad:
        raise DataError(f"class ids {bad} have no name among the {len(class_names)} class_names; give one per id")

    colors = plt.get_cmap("tab10" if len(class_names) <= 10 else "tab20")
    columns = max(1, math.ceil(math.sqrt(count)))
    rows = math.ceil(count / columns)
    cell = 2.6
    legend_columns = 6
    legend_height = 0.25 * math.ceil((len(class_names) + 2) / legend_columns) + 0.2  # inches under the grid
    figure_height = cell * rows + legend_height + (0.4 if title else 0.0)
    figure, axes = plt.subplots(rows, columns, figsize=(max(cell * columns, 5.2), figure_height), squeeze=False)
    for index, axis in enumerate(draw_images(axes, images[:count])):
        height, width = images[index].shape[:2]
        # imshow puts pixel centres on integers, so the image spans -0.5 .. size - 0.5.
        scale = np.array([width, height, width, height])
        for row in truth[index] if truth is not None else []:
            if row[0] >= 0:
                _draw_box(axis, row[1:] * scale - 0.5, colors(int(row[0]) % colors.N), TRUE_STYLE)
        for slot in range(int(predicted["count"][index])):
            class_id = int(predicted["classes"][index, slot])
            color = colors(class_id % colors.N)
            x1, y1, _, _ = _draw_box(axis, predicted["boxes"][index, slot] * scale - 0.5, color, PREDICTED_STYLE)
            # The label sits above the box, or just inside it when the box touches the top of the image.
            inside = y1 < 0.08 * height
            axis.text(
                x1,
                y1,
                f"{class_names[class_id]} {float(predicted['scores'][index, slot]):.2f}",
                fontsize=6,
                color="white",
                va="top" if inside else "bottom",
                clip_on=True,
                bbox={"facecolor": color, "alpha": 0.8, "pad": 1, "edgecolor": "none"},
            )
        axis.set_xlim(-0.5, width - 0.5)
        axis.set_ylim(height - 0.5, -0.5)
    handles = [
        Line2D([], [], color="black", label="predicted (class score)", **PREDICTED_STYLE),
        Line2D([], [], color="black", label="true", **TRUE_STYLE),
    ] + [Patch(color=colors(i % colors.N), label=name) for i, name in enumerate(class_names)]
    figure.legend(handles=handles, loc="lower center", ncol=legend_columns, fontsize=8, frameon=False)
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout(rect=(0, legend_height / figure_height, 1, 1))
    path = save_figure(figure, path)
    plt.close(figure)
    return path


def _draw_box(axis, corners, color, style):
    x1, y1, x2, y2 = (float(value) for value in corners)
    axis.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color, **style))
    return x1, y1, x2, y2
