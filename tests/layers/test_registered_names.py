"""The names `keras_nn.layers` exports and the names its layers are registered under.

A `.keras` file stores each layer's registered name (`keras_nn>LSTM`) next to the module it came from, and
Keras looks the registered name up first; so files saved when the layers lived elsewhere still load, as long
as the registered names stay the same.
"""

import inspect

import keras
import pytest

import keras_nn.layers
from keras_nn import layers

EXPORTED_NAMES = {
    "BahdanauAttention",
    "Bidirectional",
    "BottleneckBlock",
    "ClassToken",
    "ConvBNAct",
    "DepthwiseSeparableConv",
    "DropPath",
    "GRU",
    "GRUCell",
    "InceptionBlock",
    "LSTM",
    "LSTMCell",
    "LuongAttention",
    "MultiHeadAttention",
    "NonMaxSuppression",
    "PatchEmbedding",
    "PatchPositionEmbedding",
    "PositionEmbedding",
    "RBM",
    "ResidualBlock",
    "ScaledDotProductAttention",
    "SimpleRNN",
    "SimpleRNNCell",
    "SinusoidalPositionEncoding",
    "TiedEmbedding",
    "TokenPooling",
    "TransformerDecoderBlock",
    "TransformerEncoderBlock",
    "YoloDecoder",
    "YoloHead",
    "make_causal_mask",
    "make_padding_mask",
    "masked_softmax",
    "merge_masks",
    "gelu_approximate",
    "resample_position_embedding",
    "stacked_rnn",
    "box_iou",
    "center_to_corners",
    "corners_to_center",
}

# Each public layer, a small instance of it, and the module it was saved from before layers/ had a file per
# layer (the "module" entry of older .keras files).
LEGACY_LAYERS = {
    "SimpleRNNCell": (lambda: layers.SimpleRNNCell(3), "keras_nn.layers.recurrent"),
    "LSTMCell": (lambda: layers.LSTMCell(3), "keras_nn.layers.recurrent"),
    "GRUCell": (lambda: layers.GRUCell(3), "keras_nn.layers.recurrent"),
    "SimpleRNN": (lambda: layers.SimpleRNN(3), "keras_nn.layers.recurrent"),
    "LSTM": (lambda: layers.LSTM(3, return_sequences=True), "keras_nn.layers.recurrent"),
    "GRU": (lambda: layers.GRU(3, reset_after=False), "keras_nn.layers.recurrent"),
    "Bidirectional": (lambda: layers.Bidirectional(layers.LSTM(3)), "keras_nn.layers.recurrent"),
    "ConvBNAct": (lambda: layers.ConvBNAct(4), "keras_nn.layers.conv_blocks"),
    "ResidualBlock": (lambda: layers.ResidualBlock(4), "keras_nn.layers.conv_blocks"),
    "BottleneckBlock": (lambda: layers.BottleneckBlock(4), "keras_nn.layers.conv_blocks"),
    "InceptionBlock": (lambda: layers.InceptionBlock(2, 2, 2, 2, 2, 2), "keras_nn.layers.conv_blocks"),
    "DepthwiseSeparableConv": (lambda: layers.DepthwiseSeparableConv(4), "keras_nn.layers.conv_blocks"),
    "ScaledDotProductAttention": (lambda: layers.ScaledDotProductAttention(), "keras_nn.layers.attention"),
    "MultiHeadAttention": (lambda: layers.MultiHeadAttention(2, 4), "keras_nn.layers.attention"),
    "BahdanauAttention": (lambda: layers.BahdanauAttention(4), "keras_nn.layers.recurrent_attention"),
    "LuongAttention": (lambda: layers.LuongAttention("general"), "keras_nn.layers.recurrent_attention"),
    "TransformerEncoderBlock": (lambda: layers.TransformerEncoderBlock(2, 8), "keras_nn.layers.transformer"),
    "TransformerDecoderBlock": (lambda: layers.TransformerDecoderBlock(2, 8), "keras_nn.layers.transformer"),
    "SinusoidalPositionEncoding": (lambda: layers.SinusoidalPositionEncoding(), "keras_nn.layers.positional"),
    "PositionEmbedding": (lambda: layers.PositionEmbedding(8), "keras_nn.layers.positional"),
}

# Layers added after the split (Vision Transformer, detection, RBM): no older module to load them from.
NEW_LAYERS = {
    "ClassToken",
    "RBM",
    "DropPath",
    "NonMaxSuppression",
    "PatchEmbedding",
    "PatchPositionEmbedding",
    "TiedEmbedding",
    "TokenPooling",
    "YoloDecoder",
    "YoloHead",
}


def test_exported_names_are_unchanged():
    exported = {
        name
        for name, value in vars(keras_nn.layers).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert exported == EXPORTED_NAMES


def test_every_exported_layer_is_listed():
    classes = {name for name in EXPORTED_NAMES if inspect.isclass(getattr(layers, name))}
    assert classes == set(LEGACY_LAYERS) | NEW_LAYERS
    assert all(issubclass(getattr(layers, name), keras.layers.Layer) for name in classes)


@pytest.mark.parametrize("name", sorted(set(LEGACY_LAYERS) | NEW_LAYERS))
def test_registered_name(name):
    cls = getattr(layers, name)
    assert keras.saving.get_registered_name(cls) == "keras_nn>" + cls.__name__
    assert keras.saving.get_registered_object("keras_nn>" + cls.__name__) is cls


def _with_module(serialized, old_module):
    """`serialized` with every keras_nn layer's "module" entry set to `old_module` (nested layers included)."""
    if isinstance(serialized, dict):
        moved = {key: _with_module(value, old_module) for key, value in serialized.items()}
        if str(serialized.get("module", "")).startswith("keras_nn.layers."):
            moved["module"] = old_module
        return moved
    if isinstance(serialized, list):
        return [_with_module(value, old_module) for value in serialized]
    return serialized


@pytest.mark.parametrize("name", sorted(LEGACY_LAYERS))
def test_layers_saved_from_their_old_modules_load(name):
    make_layer, old_module = LEGACY_LAYERS[name]
    layer = make_layer()
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == f"keras_nn>{name}"
    assert serialized["module"] != old_module
    restored = keras.saving.deserialize_keras_object(_with_module(serialized, old_module))
    assert type(restored) is type(layer)
    assert restored.get_config() == layer.get_config()
