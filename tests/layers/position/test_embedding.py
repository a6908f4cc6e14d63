import keras
import numpy as np
import pytest
from testing_utils import run_layer_test

from keras_nn.errors import ShapeError
from keras_nn.layers import PositionEmbedding

INPUTS = np.random.default_rng(0).normal(size=(2, 7, 6)).astype("float32")


def test_position_embedding_rows_and_start_index():
    layer = PositionEmbedding(sequence_length=10)
    full = keras.ops.convert_to_numpy(layer(INPUTS))
    table = keras.ops.convert_to_numpy(layer.embeddings)
    np.testing.assert_array_equal(full[0], table[:7])
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer(INPUTS[:, :2], start_index=3))[1], table[3:5]
    )
    with pytest.raises(ShapeError, match="exceed sequence_length=10"):
        layer(INPUTS, start_index=5)


def test_position_embedding_shared_checks():
    run_layer_test(PositionEmbedding, {"sequence_length": 9}, INPUTS, expected_output_shape=(2, 7, 6))


def test_integer_inputs_get_the_float_rows_and_positions_look_up_any_rows():
    """keras-hub's `PositionEmbedding` returns its table in the compute dtype whatever the inputs' dtype, and
    `positions=` (`[T]` or `[batch, T]`) looks up those rows instead of `start_index ...`."""
    layer = PositionEmbedding(sequence_length=10)
    floats = keras.ops.convert_to_numpy(layer(INPUTS))
    table = keras.ops.convert_to_numpy(layer.embeddings)
    as_ints = layer(INPUTS.astype("int32"))
    assert keras.backend.standardize_dtype(as_ints.dtype) == "float32"
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(as_ints), floats)  # not zeros
    positions = np.array([[4, 5, 6, 0, 1, 2, 3], [9, 8, 7, 6, 5, 4, 3]])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(INPUTS, positions=positions)), table[positions])
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer(INPUTS, positions=positions[0]))[1], table[positions[0]]
    )


def test_mixed_precision_gives_float16_rows():
    layer = PositionEmbedding(sequence_length=10, dtype="mixed_float16")
    assert keras.backend.standardize_dtype(layer(INPUTS.astype("float16")).dtype) == "float16"
