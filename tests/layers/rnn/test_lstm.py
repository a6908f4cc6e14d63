import keras
import numpy as np
import pytest
from layers.rnn.recurrent_testing import (
    SEQUENCES,
    check_cell_config_round_trip,
    check_cell_runs_inside_keras_rnn,
    check_parity_with_keras,
    check_parity_with_keras_options,
    check_same_variables_as_keras,
    max_difference,
    randomize,
)
from testing_utils import run_layer_test

from keras_nn.layers import LSTM, LSTMCell


def test_shared_layer_checks():
    inputs = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    run_layer_test(LSTM, {"units": 3, "return_sequences": True}, inputs, (2, 4, 3))


def test_cell_config_round_trips():
    check_cell_config_round_trip(LSTMCell(3, unit_forget_bias=False, kernel_regularizer="l2"))


# --- parity with the Keras layers ---------------------------------------------------------------------------


def test_same_variables_as_keras():
    check_same_variables_as_keras("lstm")


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
def test_parity_with_keras(masked):
    check_parity_with_keras("lstm", masked)


def test_parity_with_keras_options():
    check_parity_with_keras_options("lstm")


def test_cell_runs_inside_keras_rnn():
    check_cell_runs_inside_keras_rnn(LSTMCell, keras.layers.LSTMCell)


def test_weights_transfer_back_to_keras():
    # The cuDNN route: train ours, hand the weights to keras.layers.LSTM.
    ours = LSTM(5, return_sequences=True)
    ours.build(SEQUENCES.shape)
    randomize(ours, np.random.default_rng(4))
    reference = keras.layers.LSTM(5, return_sequences=True)
    reference.build(SEQUENCES.shape)
    reference.set_weights(ours.get_weights())
    assert max_difference(reference(SEQUENCES), ours(SEQUENCES)) < 1e-5
