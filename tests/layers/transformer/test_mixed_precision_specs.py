"""Under `mixed_float16` the symbolic output (`compute_output_spec`, what a functional model records) has the
dtype and shape of what the call returns: float16 for the Transformer blocks, attention and position layers,
whose integer inputs (position layers) still give float16."""

import keras
import numpy as np
import pytest

from keras_nn.layers import (
    MultiHeadAttention,
    PositionEmbedding,
    SinusoidalPositionEncoding,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)

LAYERS = {
    "encoder": (lambda **kw: TransformerEncoderBlock(2, 16, **kw), {}),
    "encoder_scores": (lambda **kw: TransformerEncoderBlock(2, 16, **kw), {"return_attention_scores": True}),
    "decoder": (lambda **kw: TransformerDecoderBlock(2, 16, cross_attention=False, **kw), {}),
    "decoder_scores": (
        lambda **kw: TransformerDecoderBlock(2, 16, cross_attention=False, **kw),
        {"return_attention_scores": True},
    ),
    "attention": (lambda **kw: MultiHeadAttention(2, 4, **kw), {}),
    "position_embedding": (lambda **kw: PositionEmbedding(10, **kw), {}),
    "sinusoidal": (lambda **kw: SinusoidalPositionEncoding(**kw), {}),
}


@pytest.fixture
def global_mixed_policy():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    yield
    keras.config.set_dtype_policy(previous)


def check_spec_matches_call(make, call):
    layer = make()
    symbolic = keras.tree.flatten(layer(keras.Input((6, 8)), **call))
    eager = keras.tree.flatten(layer(np.ones((2, 6, 8), "float32"), **call))
    assert [x.dtype for x in symbolic] == [keras.backend.standardize_dtype(x.dtype) for x in eager]
    assert [tuple(x.shape[1:]) for x in symbolic] == [tuple(x.shape[1:]) for x in eager]
    assert symbolic[0].dtype == "float16"


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_dtype_argument(name):
    make, call = LAYERS[name]
    check_spec_matches_call(lambda: make(dtype="mixed_float16"), call)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_global_policy(name, global_mixed_policy):
    make, call = LAYERS[name]
    check_spec_matches_call(make, call)


@pytest.mark.parametrize("make", [lambda: PositionEmbedding(10), lambda: SinusoidalPositionEncoding()])
def test_position_layers_of_integer_inputs_report_float16(make, global_mixed_policy):
    layer = make()
    assert layer(keras.Input((6, 8), dtype="int32")).dtype == "float16"
    assert keras.backend.standardize_dtype(layer(np.ones((2, 6, 8), "int32")).dtype) == "float16"
