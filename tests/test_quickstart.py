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
        assert rows[(model, "keras")]["accuracy"] >= 0.95
        for variant in ("savedmodel", "tflite-float32", "onnx"):
            assert rows[(model, variant)]["max_abs_error"] < 1e-4
        for variant in ("tflite-float16", "tflite-dynamic", "tflite-int8"):
            assert rows[(model, variant)]["median_ms"] > 0
    for run in ("digits_cnn", "digits_lstm"):
        for name in ("model.keras", "metrics.json", "curves.png", "export/model.int8.tflite", "export/model.onnx"):
            assert (output / run / name).exists(), f"{run}/{name}"
    assert (output / "summary.md").read_text().startswith("| model | format |")
