import keras
import numpy as np
import pytest
from layers.attention.attention_testing import KEY_TOKENS, QUERY, RNG, VALUE, to_numpy
from testing_utils import run_layer_test

from keras_nn.errors import ConfigError
from keras_nn.layers import MultiHeadAttention, make_padding_mask


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
