import math

import numpy as np
import pytest
from layers.attention.attention_testing import KEY_TOKENS, QUERY, RNG, VALUE, to_numpy

from keras_nn.errors import ConfigError
from keras_nn.layers import ScaledDotProductAttention, make_padding_mask


def reference_attention(q, k, v, mask):
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return weights @ v, weights


def test_scaled_dot_product_attention_against_the_formula():
    q, k, v = RNG.normal(size=(2, 3, 4, 8)), RNG.normal(size=(2, 3, 6, 8)), RNG.normal(size=(2, 3, 6, 5))
    mask = np.broadcast_to(make_padding_mask(KEY_TOKENS[:, :6])[:, None, None, :], (2, 3, 4, 6))
    output, weights = ScaledDotProductAttention()(q, k, v, mask=mask, return_attention_scores=True)
    expected_output, expected_weights = reference_attention(q, k, v, to_numpy(mask))
    np.testing.assert_allclose(to_numpy(weights), expected_weights, atol=1e-5)
    np.testing.assert_allclose(to_numpy(output), expected_output, atol=1e-5)


def test_padded_keys_get_zero_weight_and_weights_sum_to_one():
    mask = make_padding_mask(KEY_TOKENS)[:, None, :]
    key = RNG.normal(size=(2, 7, 8)).astype("float32")
    _, weights = ScaledDotProductAttention()(QUERY, key, VALUE, mask=mask, return_attention_scores=True)
    weights = to_numpy(weights)
    assert weights[0, :, 3:].max() == 0.0  # exactly zero, not merely small
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)


def test_fully_masked_row_gives_zeros_not_nan():
    mask = np.ones((2, 5, 7), bool)
    mask[0, 1] = False
    output, weights = ScaledDotProductAttention()(
        QUERY, RNG.normal(size=(2, 7, 8)), VALUE, mask=mask, return_attention_scores=True
    )
    assert np.isfinite(to_numpy(output)).all()
    assert to_numpy(weights)[0, 1].max() == 0.0 and np.abs(to_numpy(output)[0, 1]).max() == 0.0


def test_softmax_runs_in_float32_under_mixed_precision():
    # Scores of 2e4 overflow a float16 exp; the layer casts to float32 first and still gives a distribution.
    layer = ScaledDotProductAttention(dtype="mixed_float16")
    q = np.full((1, 1, 4), 100.0, "float16")
    k = np.array([[[100.0] * 4, [99.0] * 4]], "float16")
    _, weights = layer(q, k, k, return_attention_scores=True)
    assert weights.dtype == "float16"
    np.testing.assert_allclose(to_numpy(weights).astype("float32").sum(-1), 1.0, rtol=1e-3)
    assert np.isfinite(to_numpy(weights)).all()


def test_bad_arguments():
    with pytest.raises(ConfigError, match="dropout"):
        ScaledDotProductAttention(dropout=1.5)
