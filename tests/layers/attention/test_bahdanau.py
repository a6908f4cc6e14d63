import keras
import numpy as np
import pytest
from layers.attention.alignment_testing import (
    KEYS,
    QUERIES,
    QUERY_STEP,
    RNG,
    VALUE_MASK,
    VALUES,
    check_config_round_trip,
    check_in_a_model,
    check_weights,
    masked_softmax,
    to_numpy,
)

from keras_nn.errors import ConfigError
from keras_nn.layers import BahdanauAttention


def test_shared_model_checks():
    check_in_a_model(lambda: BahdanauAttention(6))


def test_config_round_trips():
    check_config_round_trip(BahdanauAttention(7, kernel_regularizer="l2"))


# --- numbers against a hand computation in numpy -------------------------------------------------------------


def test_bahdanau_matches_numpy():
    layer = BahdanauAttention(6)
    context, weights = layer(QUERIES, VALUES, keys=KEYS, value_mask=VALUE_MASK)
    w1, w2, v = (to_numpy(w) for w in (layer.query_kernel, layer.key_kernel, layer.score_vector))
    hidden = np.tanh((QUERIES @ w1)[:, :, None, :] + (KEYS @ w2)[:, None, :, :])  # (batch, Tq, Tv, units)
    expected_weights = masked_softmax(hidden @ v[:, 0], VALUE_MASK)
    np.testing.assert_allclose(to_numpy(weights), expected_weights, atol=1e-5)
    np.testing.assert_allclose(to_numpy(context), expected_weights @ VALUES, atol=1e-5)
    check_weights(to_numpy(weights), VALUE_MASK)


def test_one_step_query_equals_a_length_one_sequence():
    layer = BahdanauAttention(5)
    context_step, weights_step = layer(QUERY_STEP, VALUES, value_mask=VALUE_MASK)
    context_sequence, weights_sequence = layer(QUERY_STEP[:, None, :], VALUES, value_mask=VALUE_MASK)
    np.testing.assert_allclose(to_numpy(context_step), to_numpy(context_sequence)[:, 0], atol=1e-6)
    np.testing.assert_allclose(to_numpy(weights_step), to_numpy(weights_sequence)[:, 0], atol=1e-6)


# --- against the Keras layer ---------------------------------------------------------------------------------


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
    np.testing.assert_allclose(to_numpy(context), to_numpy(expected_context), atol=1e-5)
    np.testing.assert_allclose(to_numpy(weights), to_numpy(expected_weights), atol=1e-6)


def test_mixed_precision_weights_still_sum_to_one():
    keras.config.set_dtype_policy("mixed_float16")
    context, weights = BahdanauAttention(6)(QUERIES, VALUES, value_mask=VALUE_MASK)
    assert weights.dtype == "float16"
    np.testing.assert_allclose(to_numpy(weights).astype("float32").sum(-1), 1.0, atol=2e-3)
    assert np.all(to_numpy(weights)[~np.broadcast_to(VALUE_MASK[:, None, :], weights.shape)] == 0)


def test_errors_name_the_bad_value():
    with pytest.raises(ConfigError, match="units=0"):
        BahdanauAttention(0)
