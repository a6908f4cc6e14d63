import keras
import numpy as np
import pytest
from testing_utils import run_layer_test, run_model_test

from keras_nn.errors import ConfigError
from keras_nn.layers import TransformerDecoderBlock

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 6, 16)).astype("float32")
ENCODED = RNG.normal(size=(2, 5, 16)).astype("float32")
SOURCE_MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("cross_attention", [True, False])
def test_decoder_is_causal(cross_attention):
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=8, cross_attention=cross_attention)
    encoded = ENCODED if cross_attention else None
    before = to_numpy(block(X, encoded))
    for t in range(5):
        changed = X.copy()
        changed[:, t + 1 :] += RNG.normal(size=changed[:, t + 1 :].shape).astype("float32")
        after = to_numpy(block(changed, encoded))
        np.testing.assert_allclose(after[:, : t + 1], before[:, : t + 1], atol=1e-5)
        assert np.abs(after[:, t + 1 :] - before[:, t + 1 :]).max() > 1e-3


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_cached_steps_equal_the_full_computation(norm_first):
    block = TransformerDecoderBlock(num_heads=4, intermediate_dim=32, norm_first=norm_first)
    expected, expected_scores = block(
        X, ENCODED, encoder_padding_mask=SOURCE_MASK, return_attention_scores=True
    )
    assert tuple(expected_scores.shape) == (2, 4, 6, 5) and to_numpy(expected_scores)[0, ..., 3:].max() == 0.0
    cache = block.empty_self_attention_cache(2, 8)  # longer than needed: unwritten slots must stay invisible
    cross_cache = block.compute_cross_attention_cache(ENCODED)
    outputs = []
    for t in range(6):
        output, cache, same_cross_cache, scores = block(
            X[:, t : t + 1],
            encoder_padding_mask=SOURCE_MASK,
            self_attention_cache=cache,
            self_attention_cache_update_index=t,
            cross_attention_cache=cross_cache,
            return_attention_scores=True,
        )
        assert same_cross_cache is cross_cache
        np.testing.assert_allclose(to_numpy(scores)[:, :, 0], to_numpy(expected_scores)[:, :, t], atol=1e-6)
        outputs.append(to_numpy(output))
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), to_numpy(expected), atol=1e-5)


def test_gpt_block_cache_in_blocks():
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=8, norm_first=True, cross_attention=False)
    expected = to_numpy(block(X))
    cache = block.empty_self_attention_cache(2, 6)
    first, cache, cross_cache = block(
        X[:, :4], self_attention_cache=cache, self_attention_cache_update_index=0
    )
    second, cache, _ = block(X[:, 4:], self_attention_cache=cache, self_attention_cache_update_index=4)
    assert cross_cache is None
    np.testing.assert_allclose(np.concatenate([to_numpy(first), to_numpy(second)], 1), expected, atol=1e-5)


def test_a_block_without_cross_attention_refuses_encoder_outputs():
    """keras-hub's `TransformerDecoder` raises when a layer built without cross-attention gets an encoder sequence
    (`keras_hub/src/layers/modeling/transformer_decoder.py`, `call`); this block used to drop it silently."""
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=8, cross_attention=False)
    block(X)
    with pytest.raises(ConfigError, match="built with cross_attention=False"):
        block(X, X)
    with pytest.raises(ConfigError, match="built with cross_attention=False"):
        block(X, encoder_sequence=X)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="needs encoder_sequence"):
        TransformerDecoderBlock(num_heads=2, intermediate_dim=8)(X)


def test_shared_layer_checks():
    init_kwargs = {"num_heads": 2, "intermediate_dim": 8, "norm_first": True, "cross_attention": False}
    run_layer_test(TransformerDecoderBlock, init_kwargs, X, expected_output_shape=(2, 6, 16))


def test_decoder_with_cross_attention_in_a_model():
    def build():
        decoder_inputs, encoder_outputs = keras.Input((6, 16)), keras.Input((5, 16))
        outputs = TransformerDecoderBlock(num_heads=2, intermediate_dim=8)(decoder_inputs, encoder_outputs)
        return keras.Model([decoder_inputs, encoder_outputs], outputs)

    # No XLA compile here: the same sublayers compile in the encoder-block (test_encoder_block.py) and GPT-block
    # checks, and the cross-attention path in the translator's jit test (tests/models/test_transformer.py).
    run_model_test(build, [X, ENCODED], expected_output_shape=(2, 6, 16), run_jit_compile_check=False)


def test_drop_path_rate_round_trips_and_is_the_identity_at_inference():
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=8, cross_attention=False, drop_path_rate=0.3)
    config = block.get_config()
    assert config["drop_path_rate"] == 0.3
    assert TransformerDecoderBlock.from_config(config).get_config() == config
    plain = TransformerDecoderBlock.from_config({**config, "drop_path_rate": 0.0})
    x = RNG.normal(size=(32, 6, 16)).astype("float32")
    expected = to_numpy(plain(x))
    block(x)
    block.set_weights(plain.get_weights())
    np.testing.assert_array_equal(to_numpy(block(x)), expected)
    # In training some of the 32 examples lose a branch (all 64 branches kept: probability 0.7**64).
    assert not np.array_equal(to_numpy(block(x, training=True)), expected)
