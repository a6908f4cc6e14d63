import keras
import numpy as np
import pytest
from testing_utils import run_layer_test

from keras_nn.errors import ConfigError
from keras_nn.layers import TransformerEncoderBlock

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 6, 16)).astype("float32")


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def keras_reference_encoder(block, norm_first):
    """The same encoder layer from Keras built-ins, holding the block's weights."""
    attention = keras.layers.MultiHeadAttention(block.num_heads, 16 // block.num_heads)
    norms = [keras.layers.LayerNormalization(epsilon=block.layer_norm_epsilon) for _ in range(2)]
    dense1, dense2 = keras.layers.Dense(block.intermediate_dim, activation="relu"), keras.layers.Dense(16)
    inputs, mask = keras.Input((6, 16)), keras.Input((6,), dtype="bool")
    attention_mask = keras.ops.expand_dims(mask, 1)
    if norm_first:
        h = norms[0](inputs)
        x = inputs + attention(h, h, attention_mask=attention_mask)
        outputs = x + dense2(dense1(norms[1](x)))
    else:
        x = norms[0](inputs + attention(inputs, inputs, attention_mask=attention_mask))
        outputs = norms[1](x + dense2(dense1(x)))
    reference = keras.Model([inputs, mask], outputs)
    for layer, ours in zip(
        (attention, norms[0], dense1, dense2, norms[1]),
        (
            block.self_attention_layer,
            block.self_attention_norm,
            block.intermediate_dense,
            block.output_dense,
            block.feedforward_norm,
        ),
        strict=True,
    ):
        layer.set_weights(ours.get_weights())
    return reference


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_block_is_the_papers_layer(norm_first):
    block = TransformerEncoderBlock(num_heads=4, intermediate_dim=32, dropout=0.1, norm_first=norm_first)
    mask = np.array([[1, 1, 1, 1, 0, 0], [1] * 6], bool)
    # Give the norms non-trivial weights so that their placement matters.
    block(X)
    for norm in (block.self_attention_norm, block.feedforward_norm):
        norm.set_weights([RNG.normal(size=16).astype("float32") for _ in range(2)])
    reference = keras_reference_encoder(block, norm_first)
    np.testing.assert_allclose(
        to_numpy(block(X, padding_mask=mask, training=False)), to_numpy(reference([X, mask])), atol=1e-5
    )


def test_encoder_padding_gets_no_attention():
    block = TransformerEncoderBlock(num_heads=2, intermediate_dim=8)
    mask = np.array([[1, 1, 1, 1, 0, 0], [1] * 6], bool)
    outputs, scores = block(X, padding_mask=mask, return_attention_scores=True)
    scores = to_numpy(scores)
    assert scores.shape == (2, 2, 6, 6) and scores[0, :, :, 4:].max() == 0.0
    np.testing.assert_allclose(scores.sum(-1), 1.0, rtol=1e-6)
    # So the real positions do not depend on what the padded positions hold.
    changed = X.copy()
    changed[0, 4:] = 100.0
    np.testing.assert_allclose(
        to_numpy(block(changed, padding_mask=mask))[0, :4], to_numpy(outputs)[0, :4], atol=1e-5
    )


def test_bad_arguments():
    with pytest.raises(ConfigError, match="not divisible by num_heads=3"):
        TransformerEncoderBlock(num_heads=3, intermediate_dim=8)(X)
    TransformerEncoderBlock(num_heads=3, intermediate_dim=8, key_dim=4)(X)  # an explicit head size is fine


def test_shared_layer_checks():
    init_kwargs = {"num_heads": 2, "intermediate_dim": 8, "activation": "gelu"}
    run_layer_test(TransformerEncoderBlock, init_kwargs, X, expected_output_shape=(2, 6, 16))


def copy_of(block, **changes):
    """A block of the same config with `changes`, holding `block`'s weights."""
    config = {**block.get_config(), **changes}
    config.pop("name")
    other = TransformerEncoderBlock.from_config(config)
    other(X)
    other.set_weights(block.get_weights())
    return other


def test_drop_path_rate_zero_is_the_block_as_before():
    before = TransformerEncoderBlock(num_heads=2, intermediate_dim=8, dropout=0.0, norm_first=True)
    before(X)
    assert before.get_config()["drop_path_rate"] == 0.0
    zero = copy_of(before, drop_path_rate=0.0)
    for training in (False, True):  # without dropout, training changes nothing either
        np.testing.assert_array_equal(to_numpy(zero(X, training=training)), to_numpy(before(X, training=training)))
    # At inference stochastic depth is the identity, whatever the rate.
    np.testing.assert_array_equal(to_numpy(copy_of(before, drop_path_rate=0.5)(X)), to_numpy(before(X)))


@pytest.mark.parametrize("norm_first", [True, False])
def test_drop_path_drops_each_residual_branch_per_example(norm_first):
    rate = 0.5
    x = RNG.normal(size=(64, 3, 16)).astype("float32")
    block = TransformerEncoderBlock(
        num_heads=2, intermediate_dim=8, dropout=0.0, norm_first=norm_first, drop_path_rate=rate
    )
    outputs = to_numpy(block(x, training=True))

    def attention(h):
        return block.self_attention_layer(h, h)

    def feedforward(h):
        return block.output_dense(block.intermediate_dense(h))

    def residual(y, norm, branch, kept):
        if norm_first:
            return y + kept / (1 - rate) * branch(norm(y))
        return norm(y + kept / (1 - rate) * branch(y))

    # Each example's output is one of the four ways its two branches can be kept (scaled) or dropped.
    candidates = [
        to_numpy(residual(residual(x, block.self_attention_norm, attention, a), block.feedforward_norm, feedforward, f))
        for a in (0.0, 1.0)
        for f in (0.0, 1.0)
    ]
    errors = np.stack([np.abs(outputs - c).max(axis=(1, 2)) for c in candidates])  # [4, batch]
    assert errors.min(axis=0).max() < 1e-4
    chosen = np.bincount(errors.argmin(axis=0), minlength=4)
    assert (chosen > 0).all(), chosen  # all four occur among 64 examples (each has probability 1/4)


def test_drop_path_rate_config_round_trip():
    block = TransformerEncoderBlock(num_heads=2, intermediate_dim=8, drop_path_rate=0.25)
    config = block.get_config()
    assert config["drop_path_rate"] == 0.25
    assert TransformerEncoderBlock.from_config(config).get_config() == config
    with pytest.raises(ConfigError, match=r"drop_path_rate=1\.5 must be in \[0, 1\)"):
        TransformerEncoderBlock(num_heads=2, intermediate_dim=8, drop_path_rate=1.5)

