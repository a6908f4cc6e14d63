"""Pictures people would rather see than read: curves, confusion matrices, Grad-CAM, attention maps."""

from keras_nn.viz.curves import plot_history, read_history

__all__ = ["plot_history", "read_history"]
