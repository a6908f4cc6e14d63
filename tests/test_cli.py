"""The `keras-nn` command: exit codes, one-line errors, and nothing half-written on bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_nn.cli import main

FAST = ["--set", "model.filters=[8, 16, 16]", "--set", "model.dense_units=16", "--epochs", "1", "--set", "export.formats=[]"]


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(err, *fragments):
    lines = [line for line in err.splitlines() if line.startswith("keras-nn: error:")]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "digits_cnn", *FAST, "--output", str(run)]) == 0
    return run


def test_list_shows_models_recipes_and_data(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    for name in ("simple_cnn", "lstm_classifier", "digits_cnn", "digits_lstm", "embedded:digits"):
        assert name in out


def test_train_evaluate_export_bench_predict(capsys, trained_run, tmp_path):
    code, out, _ = run_cli(capsys, "evaluate", str(trained_run))
    assert code == 0 and "test_accuracy" in out

    code, out, _ = run_cli(capsys, "export", str(trained_run), "--format", "tflite,onnx", "--quantize", "int8")
    assert code == 0, out
    export = trained_run / "export"
    assert sorted(p.name for p in export.iterdir()) == ["latency.json", "model.int8.tflite", "model.onnx", "model.tflite", "parity.json"]
    parity = {row["format"]: row for row in json.loads((export / "parity.json").read_text())}
    assert parity["tflite-float32"]["max_abs_error"] < 1e-4 and parity["onnx"]["max_abs_error"] < 1e-4

    code, out, _ = run_cli(capsys, "bench", str(export), "--runs", "5")
    assert code == 0 and "model.int8.tflite" in out and "median ms" in out

    sample = tmp_path / "x.npy"
    np.save(sample, np.zeros((8, 8, 1), "float32"))
    code, out, _ = run_cli(capsys, "predict", str(trained_run), str(sample))
    assert code == 0 and out.startswith("0\tclass ")


def test_unknown_model_name(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "digits_cnn", *FAST, "--set", "model.name=resnet9000", "--output", str(tmp_path / "r"))
    assert code == 2
    assert_one_line_error(err, "unknown model 'resnet9000'", "keras-nn list")
    assert not (tmp_path / "r").exists()


def test_unknown_recipe_key(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "digits_cnn", "--set", "training.epoch=3", "--output", str(tmp_path / "r"))
    assert code == 2
    assert_one_line_error(err, "unknown recipe key 'training.epoch'", "did you mean 'epochs'")
    assert not (tmp_path / "r").exists()


def test_missing_dataset_path(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "digits_cnn", *FAST, "--data", f"dir:{tmp_path}/nowhere", "--output", str(tmp_path / "r"))
    assert code == 2
    assert_one_line_error(err, "nowhere")
    assert not (tmp_path / "r").exists()


def test_wrong_input_shape_at_export(capsys, trained_run, tmp_path):
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((4, 9, 9, 1), "float32"))
    out_dir = tmp_path / "exported"
    code, _, err = run_cli(capsys, "export", str(trained_run / "model.keras"), "--inputs", str(wrong), "--output", str(out_dir))
    assert code == 2
    assert_one_line_error(err, "(4, 9, 9, 1)", "(N, 8, 8, 1)")
    assert not out_dir.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["wrong.npy"]


def test_corrupted_model_file(capsys, trained_run, tmp_path):
    corrupted = tmp_path / "model.keras"
    corrupted.write_bytes((trained_run / "model.keras").read_bytes()[:500])
    code, _, err = run_cli(capsys, "export", str(corrupted), "--output", str(tmp_path / "exported"))
    assert code == 2
    assert_one_line_error(err, "cannot read model file", "corrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


def test_existing_output_needs_resume(capsys, trained_run):
    code, _, err = run_cli(capsys, "train", "digits_cnn", *FAST, "--output", str(trained_run))
    assert code == 2
    assert_one_line_error(err, "not empty", "--resume")


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train"])
    assert exit_info.value.code == 2
    code, _, err = run_cli(capsys, "evaluate", "/no/such/run")
    assert code == 2
    assert_one_line_error(err, "/no/such/run", "does not exist")


def test_console_script_is_installed():
    script = Path(sys.executable).with_name("keras-nn")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    import keras_nn

    assert result.stdout.strip() == keras_nn.__version__
