import keras
import numpy as np
import pytest
from testing_utils import run_model_test

from keras_nn.errors import ConfigError
from keras_nn.layers import DropPath

RNG = np.random.default_rng(0)
INPUTS = RNG.normal(size=(4, 5, 6)).astype("float32")


def test_identity_at_inference():
    layer = DropPath(0.5)
    for training in (None, False):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(INPUTS, training=training)), INPUTS)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(DropPath(0.0)(INPUTS, training=True)), INPUTS)


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_each_example_is_dropped_whole_or_scaled(rate):
    x = RNG.uniform(0.5, 1.5, size=(4000, 3, 2)).astype("float32")  # no zeros, so a zero means dropped
    outputs = keras.ops.convert_to_numpy(DropPath(rate, seed=1)(x, training=True))
    dropped = np.all(outputs == 0.0, axis=(1, 2))
    kept = ~dropped
    np.testing.assert_allclose(outputs[kept], x[kept] / (1 - rate), rtol=1e-6)
    assert not np.any(outputs[dropped.nonzero()[0]] != 0.0)
    # The kept share is binomial(4000, 1 - rate): 5 standard deviations is at most 0.04 here.
    assert abs(kept.mean() - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / len(x))


def test_draws_differ_between_calls():
    layer = DropPath(0.5, seed=3)
    x = np.ones((64, 2), "float32")
    first, second = (keras.ops.convert_to_numpy(layer(x, training=True)) for _ in range(2))
    assert not np.array_equal(first, second)


def test_bad_rate():
    with pytest.raises(ConfigError, match=r"DropPath: rate=1\.0 must be in \[0, 1\)"):
        DropPath(1.0)


def test_drop_path_shared_checks():
    # No weights of its own: the checks train a residual Dense branch through it.
    layer = DropPath(0.2, seed=0)
    assert DropPath.from_config(layer.get_config()).get_config() == layer.get_config()

    def build():
        inputs = keras.Input((5, 6))
        return keras.Model(inputs, inputs + DropPath(0.2, seed=0)(keras.layers.Dense(6)(inputs)))

    run_model_test(build, INPUTS, expected_output_shape=(4, 5, 6))
