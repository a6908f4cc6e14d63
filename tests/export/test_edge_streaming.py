"""Streaming export: stepping a single-step model through a sequence equals running the sequence whole."""

import keras
import numpy as np
import pytest

import keras_nn
from keras_nn.edge.run_streaming import StreamingRunner
from keras_nn.edge.run_streaming import main as run_streaming_main
from keras_nn.errors import ConfigError, ExportError
from keras_nn.export import file_operators, streaming_model, to_streaming_onnx, to_streaming_tflite, verify
from keras_nn.export.streaming import run_streaming

STEPS, FEATURES, UNITS, CLASSES = 8, 4, 8, 3
# Stepping against the whole sequence: the worst error measured was 1.8e-07 (the tagger, stepped in Keras); the
# TFLite and ONNX step files were within 1.2e-07 and the runner within 6.0e-08.
TOLERANCE = 1e-6


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(rng.normal(0.0, 0.5, variable.shape).astype("float32"))
    return model


def stacked_classifier():
    return randomize(
        keras_nn.create_model(
            "lstm_classifier", input_shape=(STEPS, FEATURES), num_classes=CLASSES, units=UNITS, num_layers=2
        )
    )


def token_classifier():
    # Embedding(mask_zero=True): padded steps (token 0) keep the state.
    return randomize(
        keras_nn.create_model(
            "gru_classifier",
            vocab_size=20,
            sequence_length=STEPS,
            embedding_dim=4,
            num_classes=CLASSES,
            units=UNITS,
        )
    )


def tagger():
    inputs = keras.Input((None, FEATURES))
    x = keras_nn.layers.LSTM(UNITS, return_sequences=True)(inputs)
    x = keras.layers.SimpleRNN(UNITS, return_sequences=True)(x)
    return randomize(keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(x)))


def sequences_for(name, rng):
    if name == "token_classifier":
        tokens = rng.integers(1, 20, (4, STEPS))
        tokens[1, 5:] = 0
        tokens[2, :3] = 0
        return tokens.astype("int32")
    return rng.random((4, 11 if name == "tagger" else STEPS, FEATURES), dtype=np.float32)


MODELS = {"stacked_classifier": stacked_classifier, "token_classifier": token_classifier, "tagger": tagger}


@pytest.mark.parametrize("name", list(MODELS))
def test_stepping_equals_the_whole_sequence_in_keras_tflite_and_onnx(tmp_path, name):
    model = MODELS[name]()
    sequences = sequences_for(name, np.random.default_rng(1))
    whole = model.predict(sequences, verbose=0)
    step_model = streaming_model(model, check_inputs=sequences)
    stepped = run_streaming(step_model, sequences)
    compared = stepped if whole.ndim == 3 else stepped[:, -1]
    assert np.abs(compared - whole).max() < TOLERANCE
    if name == "tagger":
        # Every prefix: the output after step t is the model's output at t.
        assert np.abs(stepped - whole).max() < TOLERANCE

    for writer, path in (
        (to_streaming_tflite, tmp_path / "m.stream.tflite"),
        (to_streaming_onnx, tmp_path / "m.stream.onnx"),
    ):
        writer(model, path)
        report = verify(model, path, sequences)  # fed step by step, twice
        assert report["format"].endswith("-stream")
        assert report["max_abs_error"] < TOLERANCE and report["repeat_max_abs_diff"] == 0.0, report
        # One step, no loop: a device pays for one sample at a time.
        assert not {"WHILE", "Loop", "UNIDIRECTIONAL_SEQUENCE_LSTM"} & set(report["operators"]), report
        assert report["flex_operators"] == []
        runner = StreamingRunner(str(path))
        assert runner.state_names == [f"state_{i:02d}" for i in range(len(step_model.inputs) - 1)]


def test_runner_keeps_state_between_steps_and_resets(tmp_path):
    model = stacked_classifier()
    path = to_streaming_tflite(model, tmp_path / "m.stream.tflite")
    sequence = np.random.default_rng(2).random((1, STEPS, FEATURES), dtype=np.float32)
    runner = StreamingRunner(str(path))
    outputs = [runner.step(sequence[:, t]) for t in range(STEPS)]
    assert np.abs(outputs[-1] - model.predict(sequence, verbose=0)).max() < TOLERANCE
    assert np.abs(outputs[0] - outputs[1]).max() > 1e-3  # the state moved on
    runner.reset()
    assert np.array_equal(runner.step(sequence[:, 0]), outputs[0])


def test_streaming_cli(tmp_path, capsys):
    model = stacked_classifier()
    path = to_streaming_onnx(model, tmp_path / "m.stream.onnx")
    sequences = np.random.default_rng(3).random((2, STEPS, FEATURES), dtype=np.float32)
    np.save(tmp_path / "x.npy", sequences)
    assert run_streaming_main([str(path), str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    expected = model.predict(sequences, verbose=0)
    assert [int(line.split("\t")[1].split()[1]) for line in lines] == list(expected.argmax(-1))
    assert np.load(tmp_path / "y.npy").shape == (2, STEPS, CLASSES)
    np.save(tmp_path / "bad.npy", np.zeros((2, STEPS, FEATURES + 1), np.float32))
    assert run_streaming_main([str(path), str(tmp_path / "bad.npy")]) == 2
    assert "does not match" in capsys.readouterr().err


def test_models_that_cannot_stream_are_named():
    bidirectional = keras_nn.create_model(
        "lstm_classifier", input_shape=(STEPS, FEATURES), num_classes=CLASSES, units=UNITS, bidirectional=True
    )
    with pytest.raises(ConfigError, match="runs backwards in time"):
        streaming_model(bidirectional)
    inputs = keras.Input((STEPS, FEATURES))
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.LSTM(UNITS, return_sequences=True)(inputs))
    with pytest.raises(ExportError, match="mixes time steps"):
        streaming_model(randomize(keras.Model(inputs, pooled)))
    with pytest.raises(ConfigError, match="no recurrent layer"):
        streaming_model(keras.Sequential([keras.Input((STEPS, FEATURES)), keras.layers.Dense(2)]))


def test_operator_list_of_a_step_model(tmp_path):
    path = to_streaming_tflite(stacked_classifier(), tmp_path / "m.stream.tflite")
    operators = file_operators(path)
    assert operators.get("FULLY_CONNECTED", 0) >= 4 and "LOGISTIC" in operators and "TANH" in operators
