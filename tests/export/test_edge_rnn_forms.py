"""Export forms of recurrent layers (keras_nn.export.rnn_forms): the operators each converter emits and parity.

Tiny models (8 steps, 4 features, 8 units) with random weights large enough to exercise the gates. Every file
runs in its real runtime at least twice (`verify`), so a runtime that keeps state between calls fails.
"""

import keras
import numpy as np
import pytest

import keras_nn
from keras_nn.errors import ConfigError, ExportError
from keras_nn.export import convert_onnx, convert_tflite, file_operators, verify
from keras_nn.export.tflite import choose_rnn_form

STEPS, FEATURES, UNITS, CLASSES = 8, 4, 8, 3
# Float32 parity of every file here: the worst error measured was 7.2e-07 (the SimpleRNN loop form, in verify and
# at the whole batch); the others are within 3.6e-07 (outputs of a random Dense head, magnitude about 1).
TOLERANCE = 3e-6
RNG = np.random.default_rng(0)
SEQUENCES = RNG.random((6, STEPS, FEATURES), dtype=np.float32)


def randomize(model, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(rng.normal(0.0, scale, variable.shape).astype("float32"))
    return model


def stacked(
    cell,
    library=keras.layers,
    bidirectional=False,
    num_layers=1,
    return_sequences=False,
    masking=False,
    **kwargs,
):
    inputs = keras.Input((STEPS, FEATURES))
    x = keras.layers.Masking(0.0)(inputs) if masking else inputs
    for index in range(num_layers):
        layer = getattr(library, cell)(
            UNITS, return_sequences=return_sequences or index < num_layers - 1, **kwargs
        )
        x = (library.Bidirectional(layer) if bidirectional else layer)(x)
    return randomize(keras.Model(inputs, keras.layers.Dense(CLASSES)(x)))


def assert_parity(model, path, inputs=SEQUENCES):
    report = verify(model, path, inputs)
    assert report["max_abs_error"] < TOLERANCE, report
    assert report["repeat_max_abs_diff"] == 0.0, report
    assert report["flex_operators"] == [] and not any(op.startswith("Flex") for op in report["operators"]), (
        report
    )
    return report["operators"]


LIBRARIES = [keras.layers, keras_nn.layers]


@pytest.mark.parametrize("library", LIBRARIES, ids=["keras", "keras_nn"])
@pytest.mark.parametrize(
    "shape",
    [dict(), dict(bidirectional=True, num_layers=2, return_sequences=True)],
    ids=["lstm", "bilstm2_seq"],
)
def test_fused_form_is_one_fused_op_per_direction_and_no_loop(tmp_path, library, shape):
    model = stacked("LSTM", library, **shape)
    result = convert_tflite(model, tmp_path / "fused.tflite", rnn_form="fused")
    assert result.batch_size == 1 and {row["form"] for row in result.layers} == {"fused"}
    operators = assert_parity(model, result.path)
    directions = 4 if shape else 1
    assert operators.get("UNIDIRECTIONAL_SEQUENCE_LSTM") == directions, operators
    assert "WHILE" not in operators, operators
    if shape:
        # The backward direction: the converter reverses its input and the wrapper flips the outputs back.
        assert operators.get("REVERSE_V2", 0) >= 2 and "CONCATENATION" in operators, operators


@pytest.mark.parametrize(
    "library, cell, kwargs",
    [
        (keras.layers, "LSTM", {}),
        (keras_nn.layers, "GRU", {}),
        (keras.layers, "GRU", {"reset_after": False}),
        (keras_nn.layers, "SimpleRNN", {}),
    ],
    ids=["keras_lstm", "keras_nn_gru", "keras_gru_reset_before", "keras_nn_simple_rnn"],
)
def test_loop_form_takes_any_batch_with_builtin_ops(tmp_path, library, cell, kwargs):
    from ai_edge_litert.interpreter import Interpreter

    model = stacked(cell, library, bidirectional=True, return_sequences=True, **kwargs)
    result = convert_tflite(model, tmp_path / "loop.tflite", rnn_form="loop")
    operators = assert_parity(model, result.path)
    # A lean loop: one WHILE per direction, outputs written in place, no tensor lists (no batch-1 lowering).
    assert operators["WHILE"] == 2 and operators.get("DYNAMIC_UPDATE_SLICE") == 2, operators
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in operators
    interpreter = Interpreter(model_path=str(result.path))
    assert interpreter.get_input_details()[0]["shape_signature"][0] == -1
    interpreter.resize_tensor_input(0, list(SEQUENCES.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], SEQUENCES)
    interpreter.invoke()
    whole_batch = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert np.abs(whole_batch - model.predict(SEQUENCES, verbose=0)).max() < TOLERANCE


def test_masked_steps_keep_state_and_fused_falls_back_to_the_loop(tmp_path):
    model = stacked("LSTM", keras.layers, bidirectional=True, return_sequences=True, masking=True)
    padded = SEQUENCES.copy()
    padded[1, 5:] = 0.0  # post-padding
    padded[2, :3] = 0.0  # pre-padding
    result = convert_tflite(model, tmp_path / "masked.tflite", rnn_form="fused")
    assert [row["form"] for row in result.layers] == ["loop"]
    operators = assert_parity(model, result.path, padded)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in operators and operators["WHILE"] == 2
    onnx = convert_onnx(model, tmp_path / "masked.onnx")
    assert [row["form"] for row in onnx.layers] == ["loop"]
    assert "Loop" in assert_parity(model, onnx.path, padded)


def growing_cell_lstm():
    """A one-unit LSTM whose cell state climbs by about 1 per step on +1 inputs and falls on -1 inputs.

    Every gate is saturated open (bias 10) and the candidate follows the input's sign (kernel 10), so after 15
    rising steps |c| = 15 in Keras but 10 under the fused op's clip; 10 falling steps later Keras has c = 5
    (h = tanh(5) = 1.0) and the clipped op c = 0 (h = 0).
    """
    inputs = keras.Input((25, 1))
    lstm = keras.layers.LSTM(1)
    model = keras.Model(inputs, lstm(inputs))
    kernel = np.array([[0.0, 0.0, 10.0, 0.0]], np.float32)  # gates i, f, c, o
    lstm.set_weights([kernel, np.zeros((1, 4), np.float32), np.array([10.0, 10.0, 0.0, 10.0], np.float32)])
    sequence = np.concatenate([np.ones((1, 15, 1)), -np.ones((1, 10, 1))], axis=1).astype(np.float32)
    return model, sequence


def test_fused_cell_clip_changes_outputs_and_is_guarded(tmp_path):
    model, sequence = growing_cell_lstm()
    path = convert_tflite(model, tmp_path / "clipped.tflite", rnn_form="fused").path
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in file_operators(path)
    report = verify(model, path, sequence)
    assert report["max_abs_error"] > 0.5, report  # the converter's cell_clip=10, not a rounding difference
    assert abs(float(model.predict(sequence, verbose=0)[0, 0]) - 1.0) < 1e-3
    with pytest.raises(ExportError, match=r"reaches \|c\| = 1[45]\.\d.*clips it at 10.*rnn_form='loop'"):
        convert_tflite(model, tmp_path / "guarded.tflite", rnn_form="fused", representative_data=sequence)
    assert choose_rnn_form(model, batch_size=1, representative_data=sequence) == ("loop", {})
    loop = convert_tflite(model, tmp_path / "loop.tflite", rnn_form="loop").path
    assert verify(model, loop, sequence)["max_abs_error"] < TOLERANCE


def test_auto_times_the_forms_that_keep_the_signature(tmp_path):
    model = stacked("LSTM", keras_nn.layers)
    # A dynamic batch leaves one portable form: nothing to time.
    assert choose_rnn_form(model) == ("loop", {})
    form, timings = choose_rnn_form(model, batch_size=1, runs=10)
    assert set(timings) == {"loop", "fused"} and form == min(timings, key=timings.get)
    assert all(ms > 0 for ms in timings.values())
    result = convert_tflite(model, tmp_path / "auto.tflite")
    assert result.rnn_form == "loop" and result.batch_size is None
    # TFLite has no fused GRU op.
    with pytest.raises(ConfigError, match="TFLite has no fused GRU"):
        convert_tflite(stacked("GRU"), tmp_path / "gru.tflite", rnn_form="fused")


def classifier(cell, **kwargs):
    model = keras_nn.create_model(
        f"{cell}_classifier", input_shape=(STEPS, FEATURES), num_classes=CLASSES, units=UNITS, **kwargs
    )
    return randomize(model)


def tagger(library):
    inputs = keras.Input((None, FEATURES))
    x = library.Bidirectional(library.LSTM(UNITS, return_sequences=True))(inputs)
    x = library.GRU(UNITS, return_sequences=True)(x)
    return randomize(keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(x)))


ONNX_MODELS = {
    "lstm_classifier": lambda: classifier("lstm"),
    "gru_classifier": lambda: classifier("gru"),
    "bilstm2_classifier": lambda: classifier("lstm", bidirectional=True, num_layers=2),
    "bigru2_classifier": lambda: classifier("gru", bidirectional=True, num_layers=2),
    "keras_tagger": lambda: tagger(keras.layers),
    "keras_nn_tagger": lambda: tagger(keras_nn.layers),
}


@pytest.mark.parametrize(
    "name, batch_size",
    [(name, None) for name in ONNX_MODELS]
    + [(name, 1) for name in ("lstm_classifier", "bigru2_classifier", "keras_tagger")],
    ids=lambda value: (
        {None: "dynamic", 1: "fixed"}.get(value, value) if not isinstance(value, str) else value
    ),
)
def test_onnx_has_native_rnn_nodes_and_no_loop(tmp_path, name, batch_size):
    model = ONNX_MODELS[name]()
    result = convert_onnx(model, tmp_path / "model.onnx", batch_size=batch_size)
    assert {row["form"] for row in result.layers} == {"native"}
    operators = assert_parity(model, result.path)
    layers = 2 if "2" in name or "tagger" in name else 1
    native = operators.get("LSTM", 0) + operators.get("GRU", 0)
    # One node per layer: tf2onnx merges a bidirectional pair into one bidirectional node.
    assert native == layers and "Loop" not in operators and "Scan" not in operators, operators
    if "tagger" in name:
        assert operators.get("LSTM") == 1 and operators.get("GRU") == 1


def test_stock_keras_layers_become_onnx_loops(tmp_path):
    """The facts the native form fixes (tf2onnx as it is, TF 2.21 / Keras 3.15): a fixed-batch Keras LSTM and
    a Keras GRU at any batch become an ONNX Loop."""
    lstm, gru = stacked("LSTM"), stacked("GRU")
    fixed_lstm = convert_onnx(lstm, tmp_path / "lstm.onnx", batch_size=1, rnn_form="layer").path
    assert "Loop" in file_operators(fixed_lstm) and "LSTM" not in file_operators(fixed_lstm)
    stock_gru = convert_onnx(gru, tmp_path / "gru.onnx", rnn_form="layer").path
    assert "Loop" in file_operators(stock_gru) and "GRU" not in file_operators(stock_gru)
    assert_parity(gru, stock_gru)


def test_onnx_cells_without_a_native_op_take_a_loop(tmp_path):
    model = stacked("GRU", keras_nn.layers, reset_after=False)
    result = convert_onnx(model, tmp_path / "gru.onnx")
    assert [row["form"] for row in result.layers] == ["loop"]
    assert "Loop" in assert_parity(model, result.path)
