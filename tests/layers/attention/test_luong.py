import keras
import numpy as np
import pytest
from layers.attention.alignment_testing import (
    KEYS,
    QUERIES,
    QUERY_STEP,
    VALUE_MASK,
    VALUES,
    check_config_round_trip,
    check_in_a_model,
    check_weights,
    masked_softmax,
    to_numpy,
)

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers import LuongAttention


@pytest.mark.parametrize("score", ["general", "dot"])
def test_shared_model_checks(score):
    check_in_a_model(lambda: LuongAttention(score))


def test_config_round_trips():
    check_config_round_trip(LuongAttention("general"))


# --- numbers against a hand computation in numpy -------------------------------------------------------------


@pytest.mark.parametrize("score", ["dot", "general"])
def test_luong_matches_numpy(score):
    layer = LuongAttention(score)
    keys = VALUES if score == "dot" else KEYS
    context, weights = layer(QUERY_STEP, VALUES, keys=keys, value_mask=VALUE_MASK)
    query = QUERY_STEP[:, None, :]
    if score == "general":
        query = query @ to_numpy(layer.kernel)
    expected_weights = masked_softmax(query @ keys.transpose(0, 2, 1), VALUE_MASK)[:, 0]
    assert weights.shape == (3, 5) and context.shape == (3, 4)
    np.testing.assert_allclose(to_numpy(weights), expected_weights, atol=1e-5)
    np.testing.assert_allclose(to_numpy(context), np.einsum("bv,bvd->bd", expected_weights, VALUES), atol=1e-5)
    check_weights(to_numpy(weights), VALUE_MASK)


def test_fully_masked_row_gets_zero_weights():
    mask = np.array([[0, 0, 0, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=bool)
    context, weights = LuongAttention()(QUERY_STEP, VALUES, value_mask=mask)
    np.testing.assert_allclose(to_numpy(weights)[0], 0.0)
    np.testing.assert_allclose(to_numpy(context)[0], 0.0)
    np.testing.assert_allclose(to_numpy(weights)[2], [1, 0, 0, 0, 0], atol=1e-7)


# --- against the Keras layer ---------------------------------------------------------------------------------


def test_luong_dot_matches_keras_attention():
    context, weights = LuongAttention("dot")(QUERIES, VALUES, keys=VALUES * 0.5, value_mask=VALUE_MASK)
    expected_context, expected_weights = keras.layers.Attention(score_mode="dot")(
        [QUERIES, VALUES, VALUES * 0.5], mask=[None, VALUE_MASK], return_attention_scores=True
    )
    np.testing.assert_allclose(to_numpy(context), to_numpy(expected_context), atol=1e-5)
    np.testing.assert_allclose(to_numpy(weights), to_numpy(expected_weights), atol=1e-6)


def test_errors_name_the_bad_value():
    with pytest.raises(ConfigError, match="score='concat'"):
        LuongAttention("concat")
    with pytest.raises(ShapeError, match="same width"):
        LuongAttention("dot")(QUERY_STEP, KEYS)
    with pytest.raises(ShapeError, match="values must be"):
        LuongAttention("dot")(QUERY_STEP, VALUES[:, 0])
