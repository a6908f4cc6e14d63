import keras
import numpy as np
import pytest
from layers.rnn.recurrent_testing import (
    check_cell_config_round_trip,
    check_cell_runs_inside_keras_rnn,
    check_parity_with_keras,
    check_parity_with_keras_options,
    check_same_variables_as_keras,
)
from testing_utils import run_layer_test

from keras_nn.layers import SimpleRNN, SimpleRNNCell


def test_shared_layer_checks():
    inputs = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    run_layer_test(SimpleRNN, {"units": 3}, inputs, (2, 3))


def test_cell_config_round_trips():
    check_cell_config_round_trip(SimpleRNNCell(3, dropout=0.1))


# --- parity with the Keras layers ---------------------------------------------------------------------------


def test_same_variables_as_keras():
    check_same_variables_as_keras("simple_rnn")


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
def test_parity_with_keras(masked):
    check_parity_with_keras("simple_rnn", masked)


def test_parity_with_keras_options():
    check_parity_with_keras_options("simple_rnn")


def test_cell_runs_inside_keras_rnn():
    check_cell_runs_inside_keras_rnn(SimpleRNNCell, keras.layers.SimpleRNNCell)
