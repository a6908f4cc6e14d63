import copy

import keras
import numpy as np
import pytest
from keras.src.models.functional import Functional
from testing_utils import run_model_test

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers import BahdanauAttention, LuongAttention

RNG = np.random.default_rng(0)
QUERY_STEP = RNG.normal(size=(3, 4)).astype("float32")
QUERIES = RNG.normal(size=(3, 2, 4)).astype("float32")
VALUES = RNG.normal(size=(3, 5, 4)).astype("float32")
KEYS = RNG.normal(size=(3, 5, 6)).astype("float32")
# Every row keeps at least one value; row 1 masks the middle, row 2 the end.
VALUE_MASK = np.array([[1, 1, 1, 1, 1], [1, 0, 0, 1, 1], [1, 1, 0, 0, 0]], dtype=bool)


@pytest.fixture(autouse=True)
def _functional_from_config_keeps_its_argument(monkeypatch):
    """`keras.Model.from_config` empties the config dict it is given, so the shared check in
    tests/testing_utils.py compares against `{}`; hand it a copy until testing_utils does (as test_conv_blocks)."""
    original = Functional.from_config.__func__

    def from_config(cls, config, custom_objects=None):
        return original(cls, copy.deepcopy(config), custom_objects=custom_objects)

    monkeypatch.setattr(Functional, "from_config", classmethod(from_config))


def _numpy(value):
    return keras.ops.convert_to_numpy(value)


def _softmax(scores, mask):
    scores = np.where(mask[:, None, :], scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    return weights / weights.sum(-1, keepdims=True)


def _check_weights(weights, mask):
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    mask = mask if weights.ndim == 2 else mask[:, None, :]
    assert np.all(np.broadcast_to(~mask, weights.shape) <= (weights == 0.0))


# --- the shared checks (a two-input model: decoder states attend over encoder outputs) -------------------------


@pytest.mark.parametrize("make_layer", [
    lambda: BahdanauAttention(6),
    lambda: LuongAttention("general"),
    lambda: LuongAttention("dot"),
], ids=["bahdanau", "luong_general", "luong_dot"])
def test_shared_model_checks(make_layer):
    def build():
        query = keras.Input((2, 4))
        values = keras.Input((5, 4))
        # A projection first, so that a weight-free score ("dot") still has something to train.
        context, _ = make_layer()(keras.layers.Dense(4)(query), values)
        return keras.Model([query, values], context)

    run_model_test(build, [QUERIES, VALUES], expected_output_shape=(3, 2, 4))


def test_configs_round_trip():
    for layer in (BahdanauAttention(7, kernel_regularizer="l2"), LuongAttention("general")):
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config


# --- numbers against a hand computation in numpy -------------------------------------------------------------


def test_bahdanau_matches_numpy():
    layer = BahdanauAttention(6)
    context, weights = layer(QUERIES, VALUES, keys=KEYS, value_mask=VALUE_MASK)
    w1, w2, v = (_numpy(w) for w in (layer.query_kernel, layer.key_kernel, layer.score_vector))
    hidden = np.tanh((QUERIES @ w1)[:, :, None, :] + (KEYS @ w2)[:, None, :, :])  # (batch, Tq, Tv, units)
    expected_weights = _softmax(hidden @ v[:, 0], VALUE_MASK)
    np.testing.assert_allclose(_numpy(weights), expected_weights, atol=1e-5)
    np.testing.assert_allclose(_numpy(context), expected_weights @ VALUES, atol=1e-5)
    _check_weights(_numpy(weights), VALUE_MASK)


@pytest.mark.parametrize("score", ["dot", "general"])
def test_luong_matches_numpy(score):
    layer = LuongAttention(score)
    keys = VALUES if score == "dot" else KEYS
    context, weights = layer(QUERY_STEP, VALUES, keys=keys, value_mask=VALUE_MASK)
    query = QUERY_STEP[:, None, :]
    if score == "general":
        query = query @ _numpy(layer.kernel)
    expected_weights = _softmax(query @ keys.transpose(0, 2, 1), VALUE_MASK)[:, 0]
    assert weights.shape == (3, 5) and context.shape == (3, 4)
    np.testing.assert_allclose(_numpy(weights), expected_weights, atol=1e-5)
    np.testing.assert_allclose(_numpy(context), np.einsum("bv,bvd->bd", expected_weights, VALUES), atol=1e-5)
    _check_weights(_numpy(weights), VALUE_MASK)


def test_one_step_query_equals_a_length_one_sequence():
    layer = BahdanauAttention(5)
    context_step, weights_step = layer(QUERY_STEP, VALUES, value_mask=VALUE_MASK)
    context_sequence, weights_sequence = layer(QUERY_STEP[:, None, :], VALUES, value_mask=VALUE_MASK)
    np.testing.assert_allclose(_numpy(context_step), _numpy(context_sequence)[:, 0], atol=1e-6)
    np.testing.assert_allclose(_numpy(weights_step), _numpy(weights_sequence)[:, 0], atol=1e-6)


def test_fully_masked_row_gets_zero_weights():
    mask = np.array([[0, 0, 0, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=bool)
    context, weights = LuongAttention()(QUERY_STEP, VALUES, value_mask=mask)
    np.testing.assert_allclose(_numpy(weights)[0], 0.0)
    np.testing.assert_allclose(_numpy(context)[0], 0.0)
    np.testing.assert_allclose(_numpy(weights)[2], [1, 0, 0, 0, 0], atol=1e-7)


# --- against the Keras layers --------------------------------------------------------------------------------


def test_luong_dot_matches_keras_attention():
    context, weights = LuongAttention("dot")(QUERIES, VALUES, keys=VALUES * 0.5, value_mask=VALUE_MASK)
    expected_context, expected_weights = keras.layers.Attention(score_mode="dot")(
        [QUERIES, VALUES, VALUES * 0.5], mask=[None, VALUE_MASK], return_attention_scores=True
    )
    np.testing.assert_allclose(_numpy(context), _numpy(expected_context), atol=1e-5)
    np.testing.assert_allclose(_numpy(weights), _numpy(expected_weights), atol=1e-6)


def test_bahdanau_with_identity_projections_matches_keras_additive_attention():
    # keras.layers.AdditiveAttention scores sum(scale * tanh(q + k)): ours with W1 = W2 = I and v = scale.
    reference = keras.layers.AdditiveAttention(use_scale=True)
    reference([QUERIES, VALUES])
    scale = RNG.normal(size=(4,)).astype("float32")
    reference.set_weights([scale])
    ours = BahdanauAttention(4)
    ours(QUERIES, VALUES)
    ours.set_weights([np.eye(4, dtype="float32"), np.eye(4, dtype="float32"), scale[:, None]])
    context, weights = ours(QUERIES, VALUES, value_mask=VALUE_MASK)
    expected_context, expected_weights = reference(
        [QUERIES, VALUES], mask=[None, VALUE_MASK], return_attention_scores=True
    )
    np.testing.assert_allclose(_numpy(context), _numpy(expected_context), atol=1e-5)
    np.testing.assert_allclose(_numpy(weights), _numpy(expected_weights), atol=1e-6)


def test_mixed_precision_weights_still_sum_to_one():
    keras.config.set_dtype_policy("mixed_float16")
    context, weights = BahdanauAttention(6)(QUERIES, VALUES, value_mask=VALUE_MASK)
    assert weights.dtype == "float16"
    np.testing.assert_allclose(_numpy(weights).astype("float32").sum(-1), 1.0, atol=2e-3)
    assert np.all(_numpy(weights)[~np.broadcast_to(VALUE_MASK[:, None, :], weights.shape)] == 0)


def test_errors_name_the_bad_value():
    with pytest.raises(ConfigError, match="score='concat'"):
        LuongAttention("concat")
    with pytest.raises(ConfigError, match="units=0"):
        BahdanauAttention(0)
    with pytest.raises(ShapeError, match="same width"):
        LuongAttention("dot")(QUERY_STEP, KEYS)
    with pytest.raises(ShapeError, match="values must be"):
        LuongAttention("dot")(QUERY_STEP, VALUES[:, 0])
