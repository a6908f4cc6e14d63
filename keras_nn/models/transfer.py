"""Transfer learning on a built model: freezing the backbone around a head, and copying backbone weights.

A backbone is every top-level layer of a model except its head layers (by default keras-nn's classifier
output, `predictions`).
"""

import numpy as np

from keras_nn.errors import ConfigError, ModelFileError
from keras_nn.models.layer_tree import batch_norm_layers, nested_layers, weight_layers


def check_head_layers(model, head_layers):
    """Raises `ConfigError` unless every name in `head_layers` is a top-level layer of `model`."""
    names = [layer.name for layer in model.layers]
    missing = [name for name in head_layers if name not in names]
    if missing:
        raise ConfigError(
            f"task_options.fine_tune.head_layers names {', '.join(map(repr, missing))}, which model {model.name!r} "
            f"lacks; its last layers are: {', '.join(names[-5:])}"
        )


def set_backbone_trainable(model, trainable, head_layers=("predictions",), train_batch_norm=True):
    """Freezes (`trainable=False`) or unfreezes every top-level layer of `model` except the head layers.

    A frozen `BatchNormalization` layer also runs in inference mode (Keras 3 semantics), so its moving
    statistics stay those of the pretrained weights. With `train_batch_norm=False`, unfreezing leaves batch
    normalization frozen: the Keras transfer-learning guide's advice for fine-tuning on small data sets,
    where batch statistics are noisy.

    Returns:
        The names of the layers whose `trainable` flag was set.
    """
    changed = []
    for layer in model.layers:
        if layer.name in head_layers:
            layer.trainable = True
            continue
        if layer.weights:
            layer.trainable = trainable
            changed.append(layer.name)
    if trainable and not train_batch_norm:
        in_head = {id(sub) for name in head_layers for sub in nested_layers(model.get_layer(name), include_self=True)}
        for layer in batch_norm_layers(model):
            if id(layer) not in in_head:
                layer.trainable = False
    return changed


def copy_backbone_weights(source, target):
    """Copies each weight layer of `source` into the layer of the same name in `target`; returns the count."""
    targets = weight_layers(target)
    copied = 0
    for name, layer in weight_layers(source).items():
        destination = targets.get(name)
        if destination is None or [tuple(w.shape) for w in destination.weights] != [tuple(w.shape) for w in layer.weights]:
            raise ModelFileError(f"backbone layer {name!r} has no counterpart of the same shape in model {target.name!r}")
        destination.set_weights(layer.get_weights())
        copied += 1
    return copied


def trainable_count(model):
    """Parameters that training updates."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))
