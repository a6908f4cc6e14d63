"""The embedded default end to end, as `keras-nn quickstart` runs it (about a minute here)."""

import json

import pytest

from keras_nn.cli import main


@pytest.mark.slow
def test_quickstart_meets_its_promises(tmp_path, capsys):
    output = tmp_path / "quickstart"
    assert main(["quickstart", "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "tflite-int8" in printed and "FAIL" not in printed

    summary = json.loads((output / "summary.json").read_text())
    assert all(check["ok"] for check in summary["checks"]), summary["checks"]
    rows = {(row["model"], row["format"]): row for row in summary["rows"]}
    for model in ("simple_cnn", "lstm_classifier"):
        accuracy = rows[(model, "keras")]["accuracy"]
        assert accuracy >= 0.95
        for variant in ("savedmodel", "tflite-float32", "onnx"):
            # About 1e-6 on main; the accuracy on the parity samples is the Keras model's.
            assert rows[(model, variant)]["max_abs_error"] < 1e-5
        for variant in ("tflite-float16", "tflite-dynamic", "tflite-int8"):
            # Quantized files lose at most two points of accuracy here (none on main); each was timed.
            assert rows[(model, variant)]["accuracy"] >= rows[(model, "savedmodel")]["accuracy"] - 0.02
            assert rows[(model, variant)]["median_ms"] > 0
    for run in ("digits_cnn", "digits_lstm"):
        for name in ("model.keras", "metrics.json", "curves.png", "export/model.int8.tflite", "export/model.onnx"):
            assert (output / run / name).exists(), f"{run}/{name}"
    assert (output / "summary.md").read_text().startswith("| model | format |")
