"""Grad-CAM: which regions of an image a convolutional classifier used for a class.

Grad-CAM weights the feature maps of a convolutional layer by the spatially averaged gradient of the class
score (the logit, before softmax) and keeps the positive part: `relu(sum_k mean(dy_c/dA_k) * A_k)`. The map has
the layer's resolution and is upsampled to the image. The last convolutional layer is found automatically
for keras-nn CNNs and keras.applications models (also when a keras.applications backbone sits inside a
model as one layer).

The gradient is taken with `tf.GradientTape`, so this runs on the TensorFlow backend (the one training and
export use); the rest is `keras.ops`.

Example:
    >>> heatmaps = grad_cam(model, images)                 # (N, H, W) in [0, 1], predicted classes
    >>> save_grad_cam_overlays(images, heatmaps, "grad_cam.png", titles=["3", "8"])

References:
    Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization",
    ICCV 2017, https://arxiv.org/abs/1610.02391.
"""

import keras
import numpy as np

from keras_nn.errors import ConfigError
from keras_nn.viz.overlays import save_explanation_grid

# Layers that never make a good Grad-CAM target: they pool away or only reshape what the convolution saw.
_SKIPPED = (
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.ZeroPadding2D,
    keras.layers.Cropping2D,
    keras.layers.InputLayer,
)


def _output_of(layer):
    """The layer's output tensor in its parent's graph (also for a nested model called as a layer)."""
    if isinstance(layer, keras.Model):
        # A nested model's `output` is its own inner graph's; its call in the parent graph is its last node.
        return layer._inbound_nodes[-1].output_tensors[0]
    return layer.output


def _spatial_rank4(layer):
    try:
        shape = _output_of(layer).shape
    except (AttributeError, IndexError, ValueError):
        return None
    return shape if len(shape) == 4 else None


def find_last_conv_layer(model):
    """The name of the layer Grad-CAM should look at: the last one with a 4-D (batch, H, W, C) output.

    Pooling, padding, dropout and input layers are skipped, and a layer whose output is 1x1 is passed over
    when an earlier one keeps some spatial extent. For keras-nn CNNs this is the last convolution block (its
    activation), for keras.applications models the last convolutional activation (`conv5_block3_out`,
    `block5_conv3`, `out_relu`), and for a model wrapping a backbone, the backbone.

    Raises:
        ConfigError: the model has no layer with a 4-D output (not a convolutional image model).
    """
    candidates = []
    for layer in model.layers:
        if isinstance(layer, _SKIPPED):
            continue
        shape = _spatial_rank4(layer)
        if shape is not None:
            candidates.append((layer.name, shape))
    if not candidates:
        raise ConfigError(
            f"model {model.name!r} has no layer with a (batch, height, width, channels) output; Grad-CAM needs a "
            "convolutional image model"
        )
    for name, shape in reversed(candidates):
        if (shape[1] or 2) > 1 or (shape[2] or 2) > 1:
            return name
    return candidates[-1][0]


def _score_tensor(model):
    """The tensor whose entries are the class scores: the logits when the model ends in a softmax."""
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    if activation is keras.activations.softmax:
        if isinstance(last, keras.layers.Dense):
            return last.input, last
        if isinstance(last, keras.layers.Activation):
            return last.input, None
    return model.outputs[0], None


def grad_cam(model, images, class_index=None, layer_name=None, upsample=True):
    """Grad-CAM heatmaps for a batch of images.

    Args:
        model: a functional Keras classifier (keras-nn CNN, keras.applications model, or a model wrapping one).
        images: `(N, H, W, C)` array or tensor, preprocessed as the model expects.
        class_index: None (each image's predicted class), an int (the same class for all), or a sequence of
            N ints.
        layer_name: the convolutional layer to explain (top-level layer name); None finds the last one
            (`find_last_conv_layer`).
        upsample: resize the maps to the images' size (bilinear); False keeps the layer's resolution.

    Returns:
        A float32 numpy array `(N, H, W)` (or the layer's `(N, h, w)`) with values in [0, 1]: each map is
        divided by its maximum, and is all zeros when nothing in the image speaks for the class.

    Raises:
        ConfigError: an unknown `layer_name`, a layer without a 4-D output, or a bad `class_index`.
    """
    import tensorflow as tf

    images = keras.ops.convert_to_tensor(np.asarray(images, dtype="float32"))
    if len(images.shape) != 4:
        raise ConfigError(f"grad_cam needs images of shape (N, H, W, C); got {tuple(images.shape)}")
    layer_name = layer_name or find_last_conv_layer(model)
    try:
        layer = model.get_layer(layer_name)
    except ValueError:
        raise ConfigError(
            f"model {model.name!r} has no layer {layer_name!r}; leave layer_name unset to use the last "
            f"convolutional layer ({find_last_conv_layer(model)!r})"
        ) from None
    if _spatial_rank4(layer) is None:
        raise ConfigError(f"layer {layer_name!r} has no (batch, height, width, channels) output; pick a convolutional layer")

    scores, dense = _score_tensor(model)
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    explainer = keras.Model(inputs, [_output_of(layer), scores])
    count = int(images.shape[0])

    with tf.GradientTape() as tape:
        features, head = explainer(images, training=False)
        if dense is not None:
            head = keras.ops.matmul(keras.ops.cast(head, dense.kernel.dtype), dense.kernel)
            if dense.bias is not None:
                head = head + dense.bias
        head = keras.ops.cast(head, "float32")
        if class_index is None:
            classes = keras.ops.argmax(head, axis=-1)
        else:
            classes = np.broadcast_to(np.asarray(class_index, dtype="int64"), (count,))
            if classes.min() < 0 or classes.max() >= head.shape[-1]:
                raise ConfigError(f"class_index={class_index!r} is outside the model's {head.shape[-1]} classes")
        score = keras.ops.sum(head * keras.ops.one_hot(classes, head.shape[-1]))
    gradients = tape.gradient(score, features)

    features = keras.ops.cast(features, "float32")
    gradients = keras.ops.cast(gradients, "float32")
    channel_weights = keras.ops.mean(gradients, axis=(1, 2), keepdims=True)
    cam = keras.ops.relu(keras.ops.sum(channel_weights * features, axis=-1))
    peak = keras.ops.max(cam, axis=(1, 2), keepdims=True)
    cam = keras.ops.where(peak > 0, cam / keras.ops.maximum(peak, 1e-12), keras.ops.zeros_like(cam))
    if upsample:
        cam = keras.ops.image.resize(cam[..., None], (images.shape[1], images.shape[2]), interpolation="bilinear")
        cam = keras.ops.clip(cam[..., 0], 0.0, 1.0)
    return np.asarray(keras.ops.convert_to_numpy(cam), dtype=np.float32)


def save_grad_cam_overlays(images, heatmaps, path, titles=None, title=None, alpha=0.5):
    """Writes a PNG with one row per image: the image, then each heatmap laid over it, with a colorbar
    (`keras_nn.viz.save_explanation_grid`).

    Args:
        images: `(N, H, W, C)` images in [0, 1] for display (undo any model normalization first).
        heatmaps: `(N, H, W)` maps in [0, 1] from `grad_cam`, or a mapping `{column title: (N, H, W)}` for
            several maps per image (e.g. the predicted and the true class).
        path: the PNG to write.
        titles: one label per row beside the image (e.g. "true 3, predicted 8").
        title: the figure title.
        alpha: heatmap opacity.

    Returns:
        The path written.
    """
    columns = heatmaps if isinstance(heatmaps, dict) else {"Grad-CAM": heatmaps}
    return save_explanation_grid(images, columns, path, title=title, titles=titles, alpha=alpha)
