"""Every recurrent model family exports to SavedModel, TFLite and ONNX and runs there like Keras (issue 4).

Tiny configurations; the seq2seq model's greedy decoder is exported and checked in
tests/training/tasks/test_seq2seq.py. The fast edge forms of issue 6 have their own tests in tests/export.
"""

import numpy as np
import pytest

import keras_nn
from keras_nn.export import to_onnx, to_saved_model, to_tflite, verify

RNG = np.random.default_rng(0)
FLOAT_SEQUENCES = RNG.normal(size=(6, 7, 3)).astype("float32")
TOKENS = RNG.integers(1, 20, size=(6, 7)).astype("int32")
TOKENS[:3, 4:] = 0  # padded tails: the masked steps must be skipped in every runtime too
# Measured: every SavedModel gave exactly Keras' outputs (0.0); the TFLite and ONNX files were within 1.2e-07
# (the forecasters, whose outputs reach about 2; one float32 step there is 2.4e-07).
TOLERANCE = {"savedmodel": 1e-7, "tflite-float32": 1e-6, "onnx": 1e-6}

CASES = [
    ("rnn_classifier", dict(input_shape=(7, 3), units=5, num_classes=4), FLOAT_SEQUENCES),
    (
        "lstm_classifier",
        dict(
            vocab_size=20,
            sequence_length=7,
            embedding_dim=4,
            units=5,
            num_layers=2,
            bidirectional=True,
            num_classes=4,
        ),
        TOKENS,
    ),
    (
        "gru_classifier",
        dict(vocab_size=20, sequence_length=7, embedding_dim=4, units=5, num_classes=4),
        TOKENS,
    ),
    ("lstm_tagger", dict(vocab_size=20, sequence_length=7, embedding_dim=4, units=5, num_classes=3), TOKENS),
    ("gru_tagger", dict(input_shape=(7, 3), units=5, num_classes=3, bidirectional=False), FLOAT_SEQUENCES),
    ("lstm_forecaster", dict(input_shape=(7, 3), horizon=2, targets=[0, 2], units=5), FLOAT_SEQUENCES),
    ("gru_forecaster", dict(input_shape=(7, 3), horizon=3, units=5, num_layers=2), FLOAT_SEQUENCES),
]


# The quick run exports a stacked bidirectional LSTM on tokens and a GRU tagger on floats; the full run every family.
QUICK = {"lstm_classifier", "gru_tagger"}


@pytest.mark.parametrize(
    ("name", "arguments", "inputs"),
    [case if case[0] in QUICK else pytest.param(*case, marks=pytest.mark.slow) for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_recurrent_model_exports_with_parity(tmp_path, name, arguments, inputs):
    model = keras_nn.create_model(name, **arguments)
    files = [
        to_saved_model(model, tmp_path / "saved_model"),
        to_tflite(model, tmp_path / "model.tflite"),
        to_onnx(model, tmp_path / "model.onnx"),
    ]
    for path in files:
        report = verify(model, path, inputs)
        assert report["max_abs_error"] < TOLERANCE[report["format"]], report
        assert report["repeat_max_abs_diff"] == 0.0, report
