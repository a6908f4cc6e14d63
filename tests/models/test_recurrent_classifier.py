import keras
import numpy as np
import pytest
from testing_utils import run_model_test

import keras_nn
from keras_nn.errors import ConfigError
from keras_nn.models import RecurrentClassifier


@pytest.mark.parametrize("name", ["rnn_classifier", "lstm_classifier", "gru_classifier"])
def test_shared_model_checks(name):
    inputs = np.random.default_rng(0).random((4, 6, 3), dtype="float32")
    run_model_test(
        lambda: keras_nn.create_model(name, num_classes=4, input_shape=(6, 3), units=8),
        inputs,
        expected_output_shape=(4, 4),
        # The family's expensive checks run on one configuration, the default cell's; the cells themselves go
        # through mixed precision and jit_compile in tests/layers.
        run_mixed_precision_check=name == "lstm_classifier",
        run_jit_compile_check=name == "lstm_classifier",
    )


def test_stacked_bidirectional_token_model():
    tokens = np.array([[5, 3, 9, 0, 0], [1, 2, 3, 4, 7]], dtype="int32")
    run_model_test(
        lambda: keras_nn.create_model(
            "lstm_classifier", vocab_size=12, sequence_length=5, embedding_dim=8, units=6, num_layers=2,
            bidirectional=True, num_classes=3,
        ),
        tokens,
        expected_output_shape=(2, 3),
        run_mixed_precision_check=False,
        run_jit_compile_check=False,
    )


def test_lstm_parameter_count_matches_formula():
    # Keras LSTM: 4 gates x (input kernel + recurrent kernel + bias); bidirectional doubles a layer.
    def lstm(inputs, units):
        return 4 * (inputs * units + units * units + units)

    model = RecurrentClassifier(num_classes=10, input_shape=(8, 8), units=16, num_layers=2, bidirectional=True)
    expected = 2 * lstm(8, 16) + 2 * lstm(32, 16) + (32 * 10 + 10)
    assert model.count_params() == expected


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_padded_steps_do_not_change_the_output(cell):
    model = RecurrentClassifier(num_classes=3, input_shape=(None, 4), cell=cell, units=5, mask_value=0.0)
    sequence = np.random.default_rng(1).normal(size=(1, 5, 4)).astype("float32")
    padded = np.concatenate([sequence, np.zeros((1, 3, 4), "float32")], axis=1)
    np.testing.assert_allclose(model(sequence), model(padded), atol=1e-6)

    tokens_model = RecurrentClassifier(num_classes=3, vocab_size=10, cell=cell, units=5)
    np.testing.assert_allclose(
        tokens_model(np.array([[4, 2, 7]])), tokens_model(np.array([[4, 2, 7, 0, 0]])), atol=1e-6
    )


def test_unmasked_padding_does_change_the_output():
    # The counterpart of the test above: without a mask the zeros are read as data.
    model = RecurrentClassifier(num_classes=3, input_shape=(None, 4), units=5)
    sequence = np.random.default_rng(1).normal(size=(1, 5, 4)).astype("float32")
    padded = np.concatenate([sequence, np.zeros((1, 3, 4), "float32")], axis=1)
    assert np.abs(keras.ops.convert_to_numpy(model(sequence) - model(padded))).max() > 1e-4


def test_needs_exactly_one_input_kind():
    with pytest.raises(ConfigError, match="exactly one of"):
        RecurrentClassifier()
    with pytest.raises(ConfigError, match="exactly one of"):
        RecurrentClassifier(input_shape=(5, 2), vocab_size=10)
    with pytest.raises(ConfigError, match="cell"):
        RecurrentClassifier(input_shape=(5, 2), cell="transformer")
