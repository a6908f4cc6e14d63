import keras
import numpy as np
import pytest
from testing_utils import run_model_test

from keras_nn.layers import SinusoidalPositionEncoding

INPUTS = np.random.default_rng(0).normal(size=(2, 7, 6)).astype("float32")


def paper_encoding(length, width, start=0):
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)), in float64."""
    encoding = np.zeros((length, width))
    for pos in range(start, start + length):
        for i in range(0, width, 2):
            encoding[pos - start, i] = np.sin(pos / 10000 ** (i / width))
            if i + 1 < width:
                encoding[pos - start, i + 1] = np.cos(pos / 10000 ** (i / width))
    return encoding


@pytest.mark.parametrize("length, width, start", [(7, 6, 0), (50, 16, 0), (3, 5, 40)])
def test_sinusoidal_encoding_is_the_papers_formula(length, width, start):
    inputs = np.zeros((2, length, width), "float32")
    encoding = keras.ops.convert_to_numpy(SinusoidalPositionEncoding()(inputs, start_index=start))
    assert encoding.shape == inputs.shape
    np.testing.assert_allclose(encoding[1], paper_encoding(length, width, start), atol=2e-5)


def test_start_index_continues_the_sequence():
    layer = SinusoidalPositionEncoding()
    full = keras.ops.convert_to_numpy(layer(INPUTS))
    step = keras.ops.convert_to_numpy(layer(INPUTS[:, :1], start_index=keras.ops.convert_to_tensor(4)))
    np.testing.assert_allclose(step[:, 0], full[:, 4], atol=1e-6)


def test_sinusoidal_encoding_shared_checks():
    # No weights of its own: the checks train a Dense on top of embeddings plus the encoding.
    layer = SinusoidalPositionEncoding(max_wavelength=100)
    assert SinusoidalPositionEncoding.from_config(layer.get_config()).get_config() == layer.get_config()

    def build():
        inputs = keras.Input((7, 6))
        x = inputs + SinusoidalPositionEncoding(max_wavelength=100)(inputs)
        return keras.Model(inputs, keras.layers.Dense(6)(x))

    run_model_test(build, INPUTS, expected_output_shape=(2, 7, 6))


def test_integer_inputs_and_positions():
    """As keras-hub's `SinusoidalPositionEncoding`: the encoding is in the compute dtype whatever the inputs' dtype
    (integer inputs used to give all zeros), and `positions=` (`[T]` or `[batch, T]`) encodes those positions."""
    layer = SinusoidalPositionEncoding()
    as_ints = layer(np.zeros((2, 7, 6), "int32"))
    assert keras.backend.standardize_dtype(as_ints.dtype) == "float32"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(as_ints)[0], paper_encoding(7, 6), atol=2e-5)
    positions = np.array([[3, 4, 5, 6, 7, 8, 9], [0, 0, 0, 1, 2, 3, 4]])  # e.g. a left-padded second row
    encoded = keras.ops.convert_to_numpy(layer(INPUTS, positions=positions))
    table = paper_encoding(10, 6)
    np.testing.assert_allclose(encoded, table[positions], atol=2e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(INPUTS, positions=positions[0]))[1], table[3:], atol=2e-5)
