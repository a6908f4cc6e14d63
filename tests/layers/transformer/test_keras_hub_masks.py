"""Keras masks through the Transformer blocks, against keras-hub's `TransformerEncoder` / `TransformerDecoder`
holding the same weights.

The behaviour checked is keras-hub's (keras_hub/src/layers/modeling/transformer_encoder_test.py
`test_mask_propagation`, `test_value_error_when_invalid_kernel_inititalizer`-style argument checks, and
transformer_decoder_test.py `test_mask_propagation`, `test_mask_propagation_without_cross_attention`): after
`Embedding(mask_zero=True)` the padded tokens are hidden from attention, an explicit `padding_mask` replaces the
Keras mask for the keys, and the output carries the input's mask.

keras-nn differs at padded query positions only, on purpose: its MultiHeadAttention applies the query's Keras
mask as keras.layers.MultiHeadAttention does and gives a fully masked row zero attention, where keras-hub's
fused attention gives it a uniform softmax (encoder) or does not mask queries at all (decoder). Real positions
agree to 1e-5; `test_padded_positions_are_the_documented_difference` pins the difference.
"""

import keras
import numpy as np
import pytest

from keras_nn.layers import TransformerDecoderBlock, TransformerEncoderBlock

keras_hub = pytest.importorskip("keras_hub")

IDS = np.array([[5, 3, 8, 2, 0, 0], [1, 2, 3, 4, 5, 6]], "int32")  # row 0: two padding tokens
SOURCE_IDS = np.array([[7, 1, 0, 0, 0], [2, 9, 4, 3, 8]], "int32")
REAL = IDS != 0


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def embedded(ids, seed):
    embedding = keras.layers.Embedding(10, 16, mask_zero=True)
    embedding.build(ids.shape)
    embedding.embeddings.assign(np.random.default_rng(seed).normal(size=(10, 16)).astype("float32"))
    return embedding(ids)


def copy_weights(ours, theirs, pairs):
    """Copies each keras-hub sublayer's weights into ours, by name (the two blocks order them differently)."""
    for our_name, their_name in pairs:
        getattr(ours, our_name).set_weights(getattr(theirs, their_name).get_weights())


SHARED = [
    ("self_attention_norm", "_self_attention_layer_norm"),
    ("intermediate_dense", "_feedforward_intermediate_dense"),
    ("output_dense", "_feedforward_output_dense"),
    ("feedforward_norm", "_feedforward_layer_norm"),
]


def paired_encoders(normalize_first):
    theirs = keras_hub.layers.TransformerEncoder(32, 2, normalize_first=normalize_first)
    ours = TransformerEncoderBlock(2, 32, dropout=0.0, normalize_first=normalize_first)
    x = embedded(IDS, 0)
    theirs(x)
    ours(x)
    # Random biases and norms: zeros and ones would hide a bias or gamma copied into the wrong place.
    for weight in theirs.weights:
        weight.assign(
            weight + np.random.default_rng(1).normal(scale=0.1, size=weight.shape).astype("float32")
        )
    copy_weights(ours, theirs, SHARED + [("self_attention_layer", "_self_attention_layer")])
    return ours, theirs


@pytest.mark.parametrize("normalize_first", [False, True])
def test_encoder_after_embedding_mask_zero_matches_keras_hub(normalize_first):
    ours, theirs = paired_encoders(normalize_first)
    x = embedded(IDS, 0)
    output, expected = ours(x), theirs(x)
    np.testing.assert_allclose(to_numpy(output)[REAL], to_numpy(expected)[REAL], atol=1e-5)
    np.testing.assert_array_equal(to_numpy(output._keras_mask), REAL)  # propagated, as keras-hub's
    # The mask matters: without it the real positions attend to the padding and move.
    unmasked = ours(keras.ops.convert_to_tensor(to_numpy(x)))
    assert np.abs(to_numpy(unmasked)[0, :4] - to_numpy(output)[0, :4]).max() > 1e-2


def test_encoder_explicit_padding_mask_and_attention_mask_match_keras_hub():
    ours, theirs = paired_encoders(False)
    x = embedded(IDS, 0)
    padding = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]], bool)  # replaces the Keras mask for keys
    attention = np.random.default_rng(2).random((2, 6, 6)) > 0.3
    attention[:, :, 0] = True
    for call in ({"padding_mask": padding}, {"attention_mask": attention}):
        output, expected = ours(x, **call), theirs(x, **call)
        np.testing.assert_allclose(to_numpy(output)[REAL], to_numpy(expected)[REAL], atol=1e-5)


def test_encoder_in_a_functional_model_keeps_the_mask_and_warns_nothing(recwarn):
    token_ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, 16, mask_zero=True)(token_ids)
    x = TransformerEncoderBlock(2, 32)(x)
    assert x._keras_mask is not None
    pooled = keras.layers.GlobalAveragePooling1D()(x)  # a mask consumer: averages over the real tokens only
    model = keras.Model(token_ids, pooled)
    hidden = keras.Model(token_ids, x)
    expected = to_numpy(hidden(IDS))[0, :4].mean(axis=0)
    np.testing.assert_allclose(to_numpy(model(IDS))[0], expected, atol=1e-5)
    assert not [w for w in recwarn if "mask" in str(w.message)]


def paired_decoders(normalize_first, cross_attention):
    theirs = keras_hub.layers.TransformerDecoder(32, 2, normalize_first=normalize_first)
    ours = TransformerDecoderBlock(
        2, 32, dropout=0.0, normalize_first=normalize_first, cross_attention=cross_attention
    )
    x = embedded(IDS, 0)
    source = embedded(SOURCE_IDS, 3) if cross_attention else None
    theirs(x, source)
    ours(x, source)
    pairs = SHARED + [("self_attention_layer", "_self_attention_layer")]
    if cross_attention:
        pairs += [
            ("cross_attention_layer", "_cross_attention_layer"),
            ("cross_attention_norm", "_cross_attention_layer_norm"),
        ]
    for weight in theirs.weights:
        weight.assign(
            weight + np.random.default_rng(1).normal(scale=0.1, size=weight.shape).astype("float32")
        )
    copy_weights(ours, theirs, pairs)
    return ours, theirs


@pytest.mark.parametrize("normalize_first,cross_attention", [(False, True), (True, False)])
def test_decoder_after_embedding_mask_zero_matches_keras_hub(normalize_first, cross_attention):
    ours, theirs = paired_decoders(normalize_first, cross_attention)
    x = embedded(IDS, 0)
    source = embedded(SOURCE_IDS, 3) if cross_attention else None
    output, expected = ours(x, source), theirs(x, source)
    np.testing.assert_allclose(to_numpy(output), to_numpy(expected), atol=1e-5)  # padded steps too
    np.testing.assert_array_equal(to_numpy(output._keras_mask), REAL)
    if cross_attention:  # the encoder's Keras mask hides its padding from cross-attention
        plain_source = keras.ops.convert_to_tensor(to_numpy(source))
        moved = to_numpy(ours(x, plain_source)) - to_numpy(output)
        assert np.abs(moved[0, :4]).max() > 1e-2


def test_decoder_explicit_masks_match_keras_hub():
    ours, theirs = paired_decoders(False, True)
    x = embedded(IDS, 0)
    source = embedded(SOURCE_IDS, 3)
    rng = np.random.default_rng(4)
    decoder_attention = rng.random((2, 6, 6)) > 0.3
    encoder_attention = rng.random((2, 6, 5)) > 0.3
    encoder_attention[:, :, 0] = True
    for call in (
        {"decoder_attention_mask": decoder_attention},
        {"encoder_attention_mask": encoder_attention},
        {"encoder_padding_mask": np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], bool)},
        {"use_causal_mask": False},
    ):
        output, expected = ours(x, source, **call), theirs(x, source, **call)
        np.testing.assert_allclose(to_numpy(output), to_numpy(expected), atol=1e-5, err_msg=str(call))


def test_padded_positions_are_the_documented_difference():
    """A padded query attends to nothing in keras-nn (its self-attention context is zero), so the block's
    output there is the feed-forward of `LayerNorm(x)`; keras-hub's fused attention averages all values."""
    ours, theirs = paired_encoders(False)
    x = embedded(IDS, 0)
    output = to_numpy(ours(x))
    attention_bias = to_numpy(ours.self_attention_layer.output_dense.bias)
    h = ours.self_attention_norm(x[0:1, 4:] + attention_bias)
    expected = ours.feedforward_norm(h + ours.output_dense(ours.intermediate_dense(h)))
    np.testing.assert_allclose(output[0:1, 4:], to_numpy(expected), atol=1e-5)
    assert np.abs(output[0, 4:] - to_numpy(theirs(x))[0, 4:]).max() > 1e-3


def test_decoder_cached_call_matches_keras_hub():
    """keras-hub's cached call (transformer_decoder_test.py `test_cached_decoding`): the whole sequence into
    empty caches at index 0, the cross-attention cache filled from the encoder at
    `cross_attention_cache_update_index=0`; outputs and both caches agree."""
    ours, theirs = paired_decoders(False, True)
    x = keras.ops.convert_to_tensor(to_numpy(embedded(IDS, 0)))
    source = keras.ops.convert_to_tensor(to_numpy(embedded(SOURCE_IDS, 3)))
    caches = dict(
        self_attention_cache=np.zeros((2, 2, 6, 2, 8), "float32"),
        self_attention_cache_update_index=0,
        cross_attention_cache=np.zeros((2, 2, 5, 2, 8), "float32"),
        cross_attention_cache_update_index=0,
    )
    outputs, expected = ours(x, source, **caches), theirs(x, source, **caches)
    for a, b in zip(outputs, expected, strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-5)
    np.testing.assert_allclose(
        to_numpy(outputs[2]), to_numpy(ours.compute_cross_attention_cache(source)), atol=1e-6
    )


def test_decoder_only_cached_call_returns_the_documented_triple():
    """The documented difference in what comes back: keras-hub's decoder without cross-attention returns
    `(outputs, self_attention_cache)`; keras-nn returns `(outputs, self_attention_cache, None)` whatever the
    block, so one unpacking serves both kinds. The values agree."""
    ours, theirs = paired_decoders(True, False)
    x = keras.ops.convert_to_tensor(to_numpy(embedded(IDS, 0)))
    cache = dict(
        self_attention_cache=np.zeros((2, 2, 6, 2, 8), "float32"), self_attention_cache_update_index=0
    )
    output, self_cache, cross_cache = ours(x, **cache)
    expected, expected_cache = theirs(x, **cache)
    assert cross_cache is None
    np.testing.assert_allclose(to_numpy(output), to_numpy(expected), atol=1e-5)
    np.testing.assert_allclose(to_numpy(self_cache), to_numpy(expected_cache), atol=1e-6)
