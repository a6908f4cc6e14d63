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
