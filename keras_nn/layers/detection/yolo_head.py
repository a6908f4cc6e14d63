"""`YoloHead`: the last layer of a YOLO v1 detector, a 1x1 convolution to the activated prediction grid."""

import keras
from keras import ops

from keras_nn.errors import ConfigError


def check_grid_layout(name, boxes_per_cell, num_classes):
    for key, value in (("boxes_per_cell", boxes_per_cell), ("num_classes", num_classes)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name}: {key}={value!r} must be a positive integer")


def activate_grid(logits, boxes_per_cell):
    """Sigmoid on the `5 * B` box channels, softmax over the class channels after them."""
    box_channels = 5 * boxes_per_cell
    boxes = ops.sigmoid(logits[..., :box_channels])
    classes = ops.softmax(logits[..., box_channels:], axis=-1)
    return ops.concatenate([boxes, classes], axis=-1)


@keras.saving.register_keras_serializable(package="keras_nn")
class YoloHead(keras.layers.Layer):
    """Maps a feature map `[batch, S, S, channels]` to YOLO v1's prediction grid `[batch, S, S, B*5 + C]`.

    A 1x1 convolution gives each cell `B * 5 + C` numbers. For box `b` the channels `5b .. 5b+4` are
    `(x_in_cell, y_in_cell, sqrt_w, sqrt_h, confidence)`, squashed by a sigmoid into [0, 1]: the box center's
    offset inside its cell, the square roots of its width and height as fractions of the image (YOLO v1
    predicts square roots so that an error on a small box costs more than the same error on a large one), and
    the objectness confidence. The last `C` channels are class probabilities (softmax), shared by the cell's
    `B` boxes. The paper uses a fully connected layer and clips linear outputs; the bounded activations keep
    every output in its valid range from the first step. Computations run in the layer's dtype; build it with
    `dtype="float32"` under mixed precision, so the activations and the loss stay in float32.

    Args:
        boxes_per_cell: `B`, boxes predicted per cell (the paper: 2).
        num_classes: `C`.
        kernel_initializer: initializer of the 1x1 convolution.
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        inputs: `[batch, S, S, channels]` features.

    Returns:
        `[batch, S, S, B * 5 + C]`, every value in [0, 1].

    Example:
    >>> head = keras_nn.layers.YoloHead(boxes_per_cell=2, num_classes=20)
    >>> head(np.zeros((1, 7, 7, 256), "float32")).shape
    (1, 7, 7, 30)

    References:
        Redmon, Divvala, Girshick & Farhadi, "You Only Look Once: Unified, Real-Time Object Detection",
        CVPR 2016, https://arxiv.org/abs/1506.02640.
    """

    def __init__(self, boxes_per_cell=2, num_classes=20, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        check_grid_layout("YoloHead", boxes_per_cell, num_classes)
        self.boxes_per_cell = boxes_per_cell
        self.num_classes = num_classes
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.conv = keras.layers.Conv2D(
            boxes_per_cell * 5 + num_classes,
            1,
            kernel_initializer=self.kernel_initializer,
            name="predictions",
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        self.conv.build(input_shape)

    def call(self, inputs):
        return activate_grid(self.conv(inputs), self.boxes_per_cell)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.boxes_per_cell * 5 + self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "boxes_per_cell": self.boxes_per_cell,
            "num_classes": self.num_classes,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
