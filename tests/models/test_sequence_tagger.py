import numpy as np
import pytest
from testing_utils import run_model_test

import keras_nn
from keras_nn.errors import ConfigError
from keras_nn.models import SequenceTagger


def test_shared_model_checks_token_input():
    tokens = np.array([[5, 3, 9, 0, 0], [1, 2, 3, 4, 7]], dtype="int32")
    tags = np.array([[1, 2, 1, 0, 0], [3, 1, 1, 2, 0]], dtype="int32")
    run_model_test(
        lambda: keras_nn.create_model("lstm_tagger", vocab_size=12, num_classes=4, embedding_dim=8, units=6),
        tokens,
        expected_output_shape=(2, 5, 4),
        targets=tags,
        loss="sparse_categorical_crossentropy",
        run_jit_compile_check=False,  # the forecaster and lstm_classifier tests compile the same LSTM with XLA
    )


def test_shared_model_checks_float_input_stacked_gru():
    features = np.random.default_rng(0).normal(size=(3, 6, 4)).astype("float32")
    run_model_test(
        lambda: keras_nn.create_model("gru_tagger", input_shape=(6, 4), num_classes=3, units=5, num_layers=2),
        features,
        expected_output_shape=(3, 6, 3),
        targets=np.random.default_rng(1).integers(0, 3, size=(3, 6)),
        loss="sparse_categorical_crossentropy",
        run_mixed_precision_check=False,
        run_jit_compile_check=False,
    )


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_padding_does_not_change_the_real_steps(cell):
    # Bidirectional and stacked: the backward direction must start at the last real step, not at the padding.
    model = SequenceTagger(num_classes=4, vocab_size=20, cell=cell, units=5, num_layers=2, bidirectional=True)
    short = np.array([[4, 2, 7, 9]])
    padded = np.array([[4, 2, 7, 9, 0, 0, 0]])
    np.testing.assert_allclose(np.asarray(model(short)), np.asarray(model(padded))[:, :4], atol=1e-6)

    floats = SequenceTagger(num_classes=3, input_shape=(None, 2), cell=cell, units=4, mask_value=0.0)
    sequence = np.random.default_rng(2).normal(size=(1, 5, 2)).astype("float32")
    padded = np.concatenate([sequence, np.zeros((1, 3, 2), "float32")], axis=1)
    np.testing.assert_allclose(np.asarray(floats(sequence)), np.asarray(floats(padded))[:, :5], atol=1e-6)


def test_without_a_mask_padding_reaches_the_real_steps():
    model = SequenceTagger(num_classes=4, vocab_size=20, units=5, mask_zero=False)
    short, padded = np.array([[4, 2, 7, 9]]), np.array([[4, 2, 7, 9, 0, 0, 0]])
    assert np.abs(np.asarray(model(short)) - np.asarray(model(padded))[:, :4]).max() > 1e-5


def test_parameter_count_and_errors():
    model = SequenceTagger(num_classes=5, input_shape=(7, 3), units=4, bidirectional=True)
    lstm = 4 * (3 * 4 + 4 * 4 + 4)
    assert model.count_params() == 2 * lstm + (8 * 5 + 5)
    with pytest.raises(ConfigError, match="exactly one of"):
        SequenceTagger(num_classes=3)
    with pytest.raises(ConfigError, match="cell"):
        SequenceTagger(num_classes=3, vocab_size=5, cell="transformer")
