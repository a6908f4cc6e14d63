"""The export step with recurrent forms: operator lists and forms in parity.json, streaming files, the CLI."""

import json

import numpy as np

import keras_nn
from keras_nn.cli import main as cli_main
from keras_nn.export import export_model

STEPS, FEATURES = 8, 4


def lstm_classifier(seed=0):
    model = keras_nn.create_model(
        "lstm_classifier", input_shape=(STEPS, FEATURES), num_classes=3, units=8, num_layers=2
    )
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(rng.normal(0.0, 0.5, variable.shape).astype("float32"))
    return model


def test_export_reports_operators_forms_and_streams(tmp_path):
    model = lstm_classifier()
    inputs = np.random.default_rng(1).random((8, STEPS, FEATURES), dtype=np.float32)
    report = export_model(
        model,
        tmp_path / "export",
        formats=("tflite", "onnx"),
        quantize=("dynamic",),
        verify_inputs=inputs,
        streaming=True,
        benchmark_runs=5,
    )
    names = sorted(p.name for p in (tmp_path / "export").iterdir())
    assert names == [
        "latency.json",
        "model.dynamic.tflite",
        "model.onnx",
        "model.stream.onnx",
        "model.stream.tflite",
        "model.tflite",
        "parity.json",
    ]
    parity = {
        row["path"].rsplit("/", 1)[-1]: row
        for row in json.loads((tmp_path / "export" / "parity.json").read_text())
    }
    assert parity["model.tflite"]["rnn_form"] == "loop"
    assert [row["form"] for row in parity["model.tflite"]["rnn_layers"]] == ["loop", "loop"]
    assert parity["model.tflite"]["operators"]["WHILE"] == 2
    assert parity["model.onnx"]["operators"]["LSTM"] == 2 and "Loop" not in parity["model.onnx"]["operators"]
    for name in ("model.tflite", "model.onnx", "model.stream.tflite", "model.stream.onnx"):
        row = parity[name]
        assert (
            row["max_abs_error"] < 1e-4 and row["repeat_max_abs_diff"] == 0.0 and row["flex_operators"] == []
        ), row
    assert parity["model.stream.tflite"]["format"] == "tflite-stream"
    assert all(row["median_ms"] > 0 for row in report.latency)


def test_cli_export_prints_the_operators_of_each_file(tmp_path, capsys):
    model = lstm_classifier()
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "x.npy", np.random.default_rng(2).random((4, STEPS, FEATURES), dtype=np.float32))
    code = cli_main(
        [
            "export",
            str(tmp_path / "model.keras"),
            "--format",
            "tflite",
            "--quantize",
            "",
            "--inputs",
            str(tmp_path / "x.npy"),
            "--verify",
            "--rnn-form",
            "fused",
            "--output",
            str(tmp_path / "export"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("model.tflite [rnn_form=fused]:"))
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM x2" in line and "WHILE" not in line
