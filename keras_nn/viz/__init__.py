"""Pictures people would rather see than read: curves, confusion matrices, Grad-CAM, attention maps and rollout,
forecasts, comparisons of runs over seeds, detections and precision-recall curves, learned filters, Gibbs chains and
2-D maps of data; and the Markdown tables of reports."""

from keras_nn.viz.attention import plot_attention, plot_attention_heads, romanize
from keras_nn.viz.attention_rollout import attention_rollout, save_rollout_overlays
from keras_nn.viz.comparison import plot_comparison_curves
from keras_nn.viz.confusion import (
    confusion_matrix,
    plot_confusion_matrix,
    read_confusion_csv,
    write_confusion_csv,
)
from keras_nn.viz.curves import plot_history, read_history
from keras_nn.viz.detections import plot_detections
from keras_nn.viz.embedding import plot_embedding_maps
from keras_nn.viz.filters import plot_filters
from keras_nn.viz.forecast import plot_forecasts
from keras_nn.viz.gibbs import plot_gibbs_chains
from keras_nn.viz.grad_cam import find_last_conv_layer, grad_cam, save_grad_cam_overlays
from keras_nn.viz.markdown import markdown_table
from keras_nn.viz.overlays import draw_overlay, save_explanation_grid
from keras_nn.viz.precision_recall import plot_precision_recall
from keras_nn.viz.samples import plot_image_grid, plot_misclassified

__all__ = [
    "attention_rollout",
    "confusion_matrix",
    "draw_overlay",
    "find_last_conv_layer",
    "grad_cam",
    "markdown_table",
    "plot_attention",
    "plot_attention_heads",
    "plot_comparison_curves",
    "plot_confusion_matrix",
    "plot_detections",
    "plot_embedding_maps",
    "plot_filters",
    "plot_forecasts",
    "plot_gibbs_chains",
    "plot_history",
    "plot_image_grid",
    "plot_misclassified",
    "plot_precision_recall",
    "read_confusion_csv",
    "read_history",
    "romanize",
    "save_explanation_grid",
    "save_grad_cam_overlays",
    "save_rollout_overlays",
    "write_confusion_csv",
]
