import math

import keras
import numpy as np
import pytest
from testing_utils import run_layer_test

from keras_nn.errors import ConfigError
from keras_nn.layers import (
    MultiHeadAttention,
    ScaledDotProductAttention,
    make_causal_mask,
    make_padding_mask,
    merge_masks,
)

RNG = np.random.default_rng(0)
QUERY = RNG.normal(size=(2, 5, 8)).astype("float32")
VALUE = RNG.normal(size=(2, 7, 6)).astype("float32")
KEY_TOKENS = np.array([[4, 9, 3, 0, 0, 0, 0], [5, 2, 7, 7, 1, 8, 6]], "int32")  # row 0: 4 keys are padding


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_mask_helpers():
    np.testing.assert_array_equal(
        to_numpy(make_padding_mask(KEY_TOKENS[:, :4])), [[1, 1, 1, 0], [1, 1, 1, 1]]
    )
    np.testing.assert_array_equal(to_numpy(make_causal_mask(3)), np.tril(np.ones((3, 3), bool)))
    # Queries 2 and 3 of a cache of 5: query i (position 2 + i) sees keys 0 .. 2 + i.
    np.testing.assert_array_equal(
        to_numpy(make_causal_mask(2, 5, start_index=2)), [[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]]
    )
    merged = to_numpy(merge_masks(padding_mask=[[1, 1, 0]], causal_mask=make_causal_mask(3)))
    np.testing.assert_array_equal(merged, [[[1, 0, 0], [1, 1, 0], [1, 1, 0]]])
    assert merge_masks() is None


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


def paired_layers(**kwargs):
    theirs = keras.layers.MultiHeadAttention(**kwargs)
    ours = MultiHeadAttention(**kwargs)
    theirs(QUERY, VALUE)
    ours(QUERY, VALUE)
    ours.set_weights(theirs.get_weights())
    return ours, theirs


@pytest.mark.parametrize(
    "kwargs",
    [{"num_heads": 2, "key_dim": 4}, {"num_heads": 3, "key_dim": 5, "value_dim": 2, "output_shape": 9}],
)
def test_multi_head_attention_matches_keras_with_the_same_weights(kwargs):
    ours, theirs = paired_layers(**kwargs)
    assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]
    mask = to_numpy(make_padding_mask(KEY_TOKENS))[:, None, :] & (RNG.random((2, 5, 7)) > 0.3)
    mask[:, :, 0] = True  # no fully masked row: Keras gives those a uniform softmax, we give zeros
    for call in ({}, {"attention_mask": mask}):
        expected, expected_scores = theirs(QUERY, VALUE, return_attention_scores=True, **call)
        output, scores = ours(QUERY, VALUE, return_attention_scores=True, **call)
        np.testing.assert_allclose(to_numpy(output), to_numpy(expected), atol=1e-5)
        np.testing.assert_allclose(to_numpy(scores), to_numpy(expected_scores), atol=1e-5)


def test_multi_head_attention_causal_matches_keras():
    theirs = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    ours = MultiHeadAttention(num_heads=2, key_dim=4)
    theirs(QUERY, QUERY)
    ours(QUERY, QUERY)
    ours.set_weights(theirs.get_weights())
    padding = np.array([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], bool)[:, None, :]
    for call in ({"use_causal_mask": True}, {"use_causal_mask": True, "attention_mask": padding}):
        np.testing.assert_allclose(
            to_numpy(ours(QUERY, QUERY, **call)), to_numpy(theirs(QUERY, QUERY, **call)), atol=1e-5
        )


def test_causality_later_inputs_do_not_change_earlier_outputs():
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    changed = QUERY.copy()
    changed[:, 3:] += RNG.normal(size=changed[:, 3:].shape).astype("float32")
    before = to_numpy(layer(QUERY, QUERY, use_causal_mask=True))
    after = to_numpy(layer(changed, changed, use_causal_mask=True))
    np.testing.assert_allclose(after[:, :3], before[:, :3], atol=1e-6)
    assert np.abs(after[:, 3:] - before[:, 3:]).max() > 1e-3  # the test would notice a leak


def test_cached_steps_equal_the_full_causal_computation():
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    expected, expected_scores = layer(QUERY, QUERY, use_causal_mask=True, return_attention_scores=True)
    cache = layer.empty_cache(2, 5)
    outputs = []
    # One step, then a block of two, then two single steps: the cache index moves by the block size.
    for start, stop in ((0, 1), (1, 3), (3, 4), (4, 5)):
        step = QUERY[:, start:stop]
        output, cache, scores = layer(
            step,
            step,
            use_causal_mask=True,
            cache=cache,
            cache_update_index=start,
            return_attention_scores=True,
        )
        np.testing.assert_allclose(to_numpy(scores), to_numpy(expected_scores)[:, :, start:stop], atol=1e-6)
        outputs.append(to_numpy(output))
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), to_numpy(expected), atol=1e-5)


def test_precomputed_cross_attention_cache():
    layer = MultiHeadAttention(num_heads=2, key_dim=3)
    value = RNG.normal(size=(2, 7, 6)).astype("float32")
    mask = to_numpy(make_padding_mask(KEY_TOKENS))[:, None, :]
    expected = layer(QUERY, value, attention_mask=mask)
    output, cache = layer(QUERY, None, attention_mask=mask, cache=layer.compute_cache(value))
    assert tuple(cache.shape) == (2, 2, 7, 2, 3)
    np.testing.assert_allclose(to_numpy(output), to_numpy(expected), atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="num_heads"):
        MultiHeadAttention(num_heads=0, key_dim=4)
    with pytest.raises(ConfigError, match="dropout"):
        ScaledDotProductAttention(dropout=1.5)
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    with pytest.raises(ConfigError, match="cache_update_index needs a cache"):
        layer(QUERY, QUERY, cache_update_index=0)
    with pytest.raises(ConfigError, match="value_dim == key_dim"):
        MultiHeadAttention(num_heads=2, key_dim=4, value_dim=3).empty_cache(1, 4)


def test_shared_layer_checks():
    run_layer_test(
        MultiHeadAttention,
        {"num_heads": 2, "key_dim": 4, "dropout": 0.1},
        QUERY,
        expected_output_shape=(2, 5, 8),
    )
