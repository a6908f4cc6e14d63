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

from keras_nn.layers import GRU, GRUCell

KINDS = ["gru", "gru_reset_before"]  # reset_after=True (Keras's default, cuDNN) and False (Cho et al. 2014)


def test_shared_layer_checks():
    inputs = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    run_layer_test(GRU, {"units": 3, "reset_after": False, "learnable_initial_state": True}, inputs, (2, 3))


def test_cell_config_round_trips():
    check_cell_config_round_trip(GRUCell(3, reset_after=False, recurrent_dropout=0.2, seed=3))


# --- parity with the Keras layers ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_same_variables_as_keras(kind):
    check_same_variables_as_keras(kind)


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("kind", KINDS)
def test_parity_with_keras(kind, masked):
    check_parity_with_keras(kind, masked)


@pytest.mark.parametrize("kind", KINDS)
def test_parity_with_keras_options(kind):
    check_parity_with_keras_options(kind)


def test_cell_runs_inside_keras_rnn():
    check_cell_runs_inside_keras_rnn(GRUCell, keras.layers.GRUCell)
