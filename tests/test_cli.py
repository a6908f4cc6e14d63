"""The `keras-nn` command: exit codes, one-line errors, and nothing half-written on bad input."""

import contextlib
import io
import json
import subprocess
import sys
import types
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_nn.cli import build_parser, main
from keras_nn.config.vocabulary import EXPORT_FORMATS, QUANTIZE_MODES, STRATEGIES, TFLITE_RNN_FORMS

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
def trained_run_and_output(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["train", "digits_cnn", *FAST, "--output", str(run)]) == 0
    return run, printed.getvalue()


@pytest.fixture(scope="module")
def trained_run(trained_run_and_output):
    return trained_run_and_output[0]


def test_train_says_where_the_report_is(trained_run_and_output, capsys, monkeypatch, tmp_path):
    # digits_cnn writes no report.md, and no line points at one.
    run, printed = trained_run_and_output
    assert not (run / "report.md").exists() and "report:" not in printed
    # A task that writes one (language_model, gan, ...): the last line says where it is.
    import keras_nn.runs

    def train_with_a_report(config, output, resume=False):
        Path(output).mkdir(parents=True)
        (Path(output) / "report.md").write_text("# report\n")
        return types.SimpleNamespace(run_dir=output, metrics={"test_accuracy": 1.0}, export=None, complete=False)

    monkeypatch.setattr(keras_nn.runs, "train_run", train_with_a_report)
    code, out, _ = run_cli(capsys, "train", "language_model", "--output", str(tmp_path / "lm"))
    assert code == 0 and out.splitlines()[-1] == f"report: {tmp_path / 'lm' / 'report.md'}"


def test_list_shows_models_recipes_and_data(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    for name in ("simple_cnn", "lstm_classifier", "digits_cnn", "digits_lstm", "embedded:digits"):
        assert name in out


def test_train_evaluate_export_bench_predict(capsys, trained_run, tmp_path):
    code, out, _ = run_cli(capsys, "evaluate", str(trained_run))
    # The same model on the same split: evaluate prints the accuracy the training run recorded.
    recorded = json.loads((trained_run / "metrics.json").read_text())["test_accuracy"]
    assert code == 0 and any(line.split()[1:4] == ["test_accuracy", "│", f"{recorded}"] for line in out.splitlines() if "test_accuracy" in line), out

    code, out, _ = run_cli(capsys, "export", str(trained_run), "--format", "tflite,onnx", "--quantize", "int8")
    assert code == 0, out
    export = trained_run / "export"
    assert sorted(p.name for p in export.iterdir()) == ["latency.json", "model.int8.tflite", "model.onnx", "model.tflite", "parity.json"]
    parity = {row["format"]: row for row in json.loads((export / "parity.json").read_text())}
    # float32 files reach about 1e-6 against Keras.
    assert parity["tflite-float32"]["max_abs_error"] < 1e-5 and parity["onnx"]["max_abs_error"] < 1e-5

    code, out, _ = run_cli(capsys, "bench", str(export), "--runs", "5")
    assert code == 0 and "model.int8.tflite" in out and "median ms" in out

    sample = tmp_path / "x.npy"
    images = np.random.default_rng(0).random((3, 8, 8, 1), dtype=np.float32)
    np.save(sample, images)
    code, out, _ = run_cli(capsys, "predict", str(trained_run), str(sample))
    expected = np.asarray(keras.saving.load_model(trained_run / "model.keras").predict(images, verbose=0))
    assert code == 0 and out.splitlines() == [
        f"{index}\tclass {int(row.argmax())}\tscore {float(row.max()):.4f}" for index, row in enumerate(expected)
    ]
    np.save(sample, images[0])  # one example without the batch dim
    code, out, _ = run_cli(capsys, "predict", str(trained_run), str(sample))
    assert code == 0 and out.splitlines() == [f"0\tclass {int(expected[0].argmax())}\tscore {float(expected[0].max()):.4f}"]


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


@pytest.mark.parametrize(
    ("sets", "words"),
    [
        (["model.patch_size=5"], ("16x16 is not divisible by patch_size=5", "data.image_size")),
        (["model.pooling=cls"], ("pooling='cls'", "choose one of")),
    ],
)
def test_a_bad_vision_transformer_exits_2_and_writes_nothing(capsys, tmp_path, sets, words):
    recipe = tmp_path / "vit.yaml"
    recipe.write_text(
        "task: image_classification\n"
        "model: {name: vit_tiny_patch16_224, depth: 1, hidden_dim: 16, num_heads: 2, mlp_dim: 32}\n"
        "data: {source: 'embedded:digits', form: image, image_size: [16, 16]}\n"
    )
    output = tmp_path / "vit"
    code, _, err = run_cli(capsys, "train", str(recipe), *[a for s in sets for a in ("--set", s)], "--output", str(output))
    assert code == 2
    assert_one_line_error(err, *words)
    assert not output.exists()


def test_a_subword_vocabulary_too_small_for_the_text_exits_2_and_writes_nothing(capsys, tmp_path):
    # The generated Korean has more distinct characters than 20 pieces; SentencePiece's own error is a RuntimeError.
    output = tmp_path / "translator"
    code, _, err = run_cli(capsys, "train", "translator", "--set", "task_options.train_size=200", "--set",
                           "task_options.vocab_size=20", "--output", str(output))
    assert code == 2
    assert_one_line_error(err, "vocab_size=20 is smaller than the", "set vocab_size to at least")
    assert not output.exists()


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


def test_the_command_line_speaks_the_shared_vocabularies():
    parser = build_parser()
    commands = next(action for action in parser._actions if action.dest == "command").choices
    train = {action.dest: action for action in commands["train"]._actions}
    export = {action.dest: action for action in commands["export"]._actions}
    assert tuple(train["strategy"].choices) == STRATEGIES
    assert tuple(export["rnn_form"].choices) == TFLITE_RNN_FORMS
    assert ",".join(EXPORT_FORMATS) in export["format"].help and ",".join(QUANTIZE_MODES) in export["quantize"].help


def test_predict_and_translate_answer_bad_inputs_in_one_line(capsys, trained_run, tmp_path):
    wrong = tmp_path / "one.npy"
    np.save(wrong, np.zeros((5, 5, 1), "float32"))  # one example, the wrong size: no batch dim in the message
    code, _, err = run_cli(capsys, "predict", str(trained_run), str(wrong))
    assert code == 2
    assert_one_line_error(err, "shape (5, 5, 1)", "(8, 8, 1)")
    text = tmp_path / "inputs.npy"
    text.write_text("1,2,3\n")
    code, _, err = run_cli(capsys, "predict", str(trained_run / "model.keras"), str(text))
    assert code == 2
    assert_one_line_error(err, "is not a .npy file", "numpy.save")
    code, _, err = run_cli(capsys, "translate", str(trained_run), "hello")
    assert code == 2
    assert_one_line_error(err, "'classification' run", "keras-nn predict", "seq2seq or translation run")


def test_a_misspelt_recipe_gets_did_you_mean(capsys):
    code, _, err = run_cli(capsys, "train", "digits_cnm")
    assert code == 2
    assert_one_line_error(err, "unknown recipe 'digits_cnm'", "did you mean digits_cnn")
