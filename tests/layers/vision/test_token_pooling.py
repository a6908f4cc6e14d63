import keras
import numpy as np
import pytest
from testing_utils import run_model_test

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers import TokenPooling

TOKENS = np.random.default_rng(0).normal(size=(3, 7, 4)).astype("float32")


@pytest.mark.parametrize(
    "pooling, num_prefix_tokens, expected",
    [
        ("token", 1, TOKENS[:, 0]),
        ("token", 2, TOKENS[:, 0]),
        ("distillation_token", 2, TOKENS[:, 1]),
        ("avg", 1, TOKENS[:, 1:].mean(1)),
        ("avg", 2, TOKENS[:, 2:].mean(1)),
        ("avg", 0, TOKENS.mean(1)),
    ],
)
def test_pooling_against_numpy(pooling, num_prefix_tokens, expected):
    pooled = keras.ops.convert_to_numpy(TokenPooling(pooling, num_prefix_tokens)(TOKENS))
    np.testing.assert_allclose(pooled, expected, rtol=1e-6, atol=1e-7)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="pooling='max' is not allowed; choose one of: token, distillation_token, avg"):
        TokenPooling("max")
    with pytest.raises(ConfigError, match="'distillation_token' needs 2 prefix token"):
        TokenPooling("distillation_token", num_prefix_tokens=1)
    with pytest.raises(ShapeError, match=r"inputs must be \[batch, tokens, width\]"):
        TokenPooling("avg")(np.zeros((2, 4), "float32"))


def test_token_pooling_shared_checks():
    # No weights of its own: the checks train a Dense under it.
    layer = TokenPooling("avg", num_prefix_tokens=2)
    assert TokenPooling.from_config(layer.get_config()).get_config() == layer.get_config()

    def build():
        inputs = keras.Input((7, 4))
        return keras.Model(inputs, TokenPooling("avg", num_prefix_tokens=2)(keras.layers.Dense(4)(inputs)))

    run_model_test(build, TOKENS, expected_output_shape=(3, 4))
