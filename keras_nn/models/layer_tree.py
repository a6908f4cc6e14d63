"""Walking a model's nested layers: every layer, and the leaves that own the weights.

Keras 3 has no public way to list the layers nested inside composite blocks (`model.layers` is the top level
only); `Layer._flatten_layers` is what Keras itself uses for that, so this module is the one place that calls
it.
"""

import keras


def nested_layers(model, include_self=False):
    """Every layer inside `model`, blocks and the layers they hold, depth first."""
    return list(model._flatten_layers(include_self=include_self, recursive=True))


def child_layers(layer):
    """The layers `layer` holds directly (one level down)."""
    return list(layer._flatten_layers(include_self=False, recursive=False))


def weight_layers(model):
    """The layers that own variables (the leaves: composite blocks own none themselves), by name."""
    return {layer.name: layer for layer in nested_layers(model) if layer.weights and not child_layers(layer)}


def batch_norm_layers(model):
    """Every `BatchNormalization` layer inside `model`."""
    return [layer for layer in nested_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]
