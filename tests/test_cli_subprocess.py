"""The `keras-nn` command as a user meets it, run as a subprocess: quiet, quick to answer, files a user can read.

The model is a tiny saved `.keras` file built once; nothing here trains.
"""

import logging
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(sys.executable).with_name("keras-nn")
# A line of TensorFlow's (absl's) native log: `I0000 00:00:1796569568.657622   28305 port.cc:153] ...`.
NATIVE_LOG_LINE = re.compile(r"^([IWEF]\d{4} \S+ +\d+ [\w.]+:\d+\]|WARNING: All log messages before absl|INFO: Created TensorFlow)", re.M)


def keras_nn_command(*argv, umask=None, timeout=240):
    environment = {key: value for key, value in os.environ.items() if key not in ("TF_CPP_MIN_LOG_LEVEL", "COLUMNS")}
    started = time.perf_counter()
    result = subprocess.run(
        [str(SCRIPT), *map(str, argv)], capture_output=True, text=True, timeout=timeout, env=environment,
        umask=-1 if umask is None else umask,
    )
    return result, time.perf_counter() - started


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import keras

    import keras_nn

    path = tmp_path_factory.mktemp("tiny") / "model.keras"
    model = keras_nn.create_model("simple_cnn", num_classes=3, input_shape=(8, 8, 1), filters=[4], dense_units=4)
    model.save(path)
    assert isinstance(keras.saving.load_model(path), keras.Model)
    return path


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["list"], ["train", "--help"]])
def test_answers_without_tensorflow_well_under_two_seconds(argv):
    result, seconds = keras_nn_command(*argv)
    assert result.returncode == 0, result.stderr
    assert seconds < 2.0, f"keras-nn {' '.join(argv)} took {seconds:.1f} s"
    assert result.stderr == ""


def test_list_fits_a_log_and_describes_recipes():
    result, _ = keras_nn_command("list")
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 120
    recipe = next(line for line in lines if line.startswith("│ digits_cnn "))
    assert "simple_cnn on scikit-learn's 8x8 handwritten digits" in recipe
    assert any(line.startswith("│ generated:") for line in lines)  # --data's generated sources


def test_export_is_quiet_follows_the_umask_and_a_partial_re_export_keeps_the_rest(tiny_model, tmp_path, capsys):
    export = tmp_path / "export"
    result, _ = keras_nn_command("export", tiny_model, "--format", "tflite", "--output", export, umask=0o027)
    assert result.returncode == 0, result.stderr
    assert not NATIVE_LOG_LINE.search(result.stderr), result.stderr
    progress = [re.split(r" in | into ", line)[0] for line in result.stderr.splitlines()]
    assert progress == ["export: writing tflite", "export: wrote 1 file(s)", "export: done"], result.stderr
    assert stat.S_IMODE(export.stat().st_mode) == 0o750
    assert stat.S_IMODE((export / "model.tflite").stat().st_mode) == 0o640

    # The partial re-export in this process (nothing here reads its stderr; the two subprocesses around it cover
    # quietness), under another umask.
    from keras_nn.cli import main

    previous = os.umask(0o022)
    try:
        assert main(["export", str(tiny_model), "--format", "onnx", "--output", str(export)]) == 0
    finally:
        os.umask(previous)
    assert sorted(p.name for p in export.iterdir()) == ["latency.json", "model.onnx", "model.tflite", "parity.json"]
    assert f"kept {export / 'model.tflite'}" in capsys.readouterr().out
    assert stat.S_IMODE((export / "model.onnx").stat().st_mode) == 0o644

    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((2, 5, 5, 1), "float32"))
    result, _ = keras_nn_command("--verbose", "bench", export, "--inputs", wrong, "--runs", "2")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("keras-nn: error:")]
    assert len(errors) == 1 and "(2, 5, 5, 1)" in errors[0] and "(N, 8, 8, 1)" in errors[0], result.stderr
    assert NATIVE_LOG_LINE.search(result.stderr), "--verbose shows TensorFlow's own log"


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    from PIL import Image

    root = tmp_path_factory.mktemp("images") / "data"
    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        for index in range(6):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(root / name / f"{index}.png")
    (root / "cat" / "notes.csv").write_text("not an image\n")
    return root


def test_a_corrupted_png_is_named_and_nothing_is_written(image_folder, tmp_path):
    data = tmp_path / "data"
    import shutil

    shutil.copytree(image_folder, data)
    whole = (data / "dog" / "3.png").read_bytes()
    (data / "dog" / "3.png").write_bytes(whole[:60] + bytes(len(whole) - 60))  # header whole, pixel data not
    output = tmp_path / "run"
    result, _ = keras_nn_command("train", "digits_cnn", "--data", f"dir:{data}", "--epochs", "1", "--output", output)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("keras-nn: error:")]
    assert len(errors) == 1 and "dog/3.png" in errors[0] and "data.skip_unreadable=true" in errors[0], result.stderr
    assert "Traceback" not in result.stderr and not NATIVE_LOG_LINE.search(result.stderr)
    assert not output.exists()


def test_the_folder_summary_names_skipped_files(image_folder, caplog):
    from keras_nn.data import load_dataset

    with caplog.at_level(logging.INFO, logger="keras_nn"):
        bundle = load_dataset(f"dir:{image_folder}", batch_size=4)
    assert bundle.num_classes == 2 and sum(bundle.num_examples.values()) == 12
    assert caplog.messages == [f"dir:{image_folder}: 12 images in 2 classes, 1 files skipped: cat/notes.csv"]


def test_unreadable_images_can_be_skipped_with_a_warning(image_folder, tmp_path, caplog):
    import shutil

    from keras_nn.data import load_dataset

    data = tmp_path / "data"
    shutil.copytree(image_folder, data)
    (data / "dog" / "5.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with caplog.at_level(logging.INFO, logger="keras_nn"):
        bundle = load_dataset(f"dir:{data}", batch_size=4, skip_unreadable=True)
    assert sum(bundle.num_examples.values()) == 11
    assert any(record.levelname == "WARNING" and "dog/5.png" in record.message for record in caplog.records)
    assert caplog.messages[-1] == f"dir:{data}: 11 images in 2 classes, 2 files skipped: cat/notes.csv, dog/5.png"


def test_help_texts_name_every_command_and_explain_every_option():
    top, _ = keras_nn_command("--help")
    for command in ("list", "quickstart", "train", "evaluate", "export", "bench", "predict", "translate", "detect",
                    "generate"):
        assert re.search(rf"^\s+{command}\b", top.stdout, re.M), command  # listed with its one-line help
    assert "translate" in top.stdout.split("positional arguments")[0]  # the description names it too
    train, _ = keras_nn_command("train", "--help")
    assert "generated:NAME" in train.stdout and "keras-nn list" in train.stdout  # --data
    assert re.search(r"--epochs EPOCHS\s+training epochs", train.stdout)
    assert re.search(r"--strategy \{auto,[\w,]+\}\s+tf.distribute strategy", train.stdout)
    bench, _ = keras_nn_command("bench", "--help")
    assert re.search(r"--runs RUNS\s+\S", bench.stdout) and re.search(r"--threads THREADS\s+\S", bench.stdout)
