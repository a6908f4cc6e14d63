"""The sequence tasks end to end: short runs that must learn, their reports, reloads and front ends."""

import json

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_nn.cli import main
from keras_nn.errors import ConfigError, UnknownDatasetError
from keras_nn.training import load_recipe, train
from keras_nn.training.sequence_tasks import export_seq2seq, predict_run_texts
from keras_nn.training.trainer import load_run

# A shortened seq2seq recipe: about 20 s of training on 2 cores, ~75% exact match afterwards (chance: 0).
SHORT_SEQ2SEQ = [
    "task_options.train_size=3000", "task_options.validation_size=100", "task_options.test_size=300",
    "task_options.attention_plots=2", "training.epochs=3", "data.batch_size=32", "optimizer.learning_rate=0.008",
    "model.embedding_dim=16", "model.encoder_units=32", "model.decoder_units=64", "export.formats=[]",
    "export.verify_samples=50",
]


@pytest.fixture(scope="module")
def seq2seq_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("seq2seq") / "run"
    result = train(load_recipe("seq2seq", SHORT_SEQ2SEQ), run, verbose=0)
    return run, result


def test_short_seq2seq_run_learns_and_reports(seq2seq_run):
    run, result = seq2seq_run
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_exact_match_greedy"] > 0.5, metrics
    assert metrics["test_exact_match_beam"] >= metrics["test_exact_match_greedy"] - 0.02, metrics
    assert metrics["expected"]["metric"] == "test_exact_match_beam"
    for name in ("attention.png", "samples.tsv", "vocabulary.json", "model.keras", "curves.png"):
        assert (run / name).is_file(), name
    lines = (run / "samples.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "source\ttarget\tgreedy\tbeam" and len(lines) == 201
    assert not (run / "export").exists()


@pytest.mark.slow
def test_seq2seq_exports_to_every_runtime_with_parity(seq2seq_run):
    run, result = seq2seq_run
    config = load_run(run)[1]
    config["export"]["formats"] = ["savedmodel", "tflite", "onnx"]
    report = export_seq2seq(run, result.model, result.data, config)
    parity = json.loads((run / "export" / "parity.json").read_text())
    assert [entry["format"] for entry in parity] == ["savedmodel", "tflite", "onnx"]
    assert parity[0]["logits_max_abs_error"] < 1e-4
    for entry in parity:
        # Exactly Keras's greedy tokens, attention weights to float32 precision, the same on a second run.
        assert entry["greedy_token_agreement"] == 1.0, entry
        assert entry["max_abs_error"] < 1e-5 and entry["repeat_max_abs_diff"] == 0.0, entry
    tflite = next(path for path in report["files"] if path.endswith(".tflite"))
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=tflite)
    ops = {detail["op_name"] for detail in interpreter._get_ops_details()}
    assert not any("Flex" in op for op in ops), ops
    assert "greedy_decoder.tflite" in (run / "export" / "NOTES.md").read_text()


def test_reloaded_seq2seq_run_decodes_the_same(seq2seq_run):
    run, result = seq2seq_run
    model, config = load_run(run)
    source, _, _ = result.data.arrays("test", limit=64)
    for method in ("greedy_decode", "beam_decode"):
        np.testing.assert_array_equal(getattr(model, method)(source)["tokens"], getattr(result.model, method)(source)["tokens"])
    greedy = model.greedy_decode(source)
    one = model.beam_decode(source, beam_width=1, length_penalty=0.0)
    np.testing.assert_array_equal(greedy["tokens"], one["tokens"])


def test_translate_and_predict_front_ends(seq2seq_run, capsys, tmp_path):
    run, _ = seq2seq_run
    rows = predict_run_texts(run, ["2024년 3월 5일", "March 5, 2024"], beam_width=2, attention_png=tmp_path / "a.png")
    assert [len(row["output"]) for row in rows] == [10, 10] and (tmp_path / "a.png").is_file()
    assert main(["translate", str(run), "2024년 3월 5일 화요일", "--beam-width", "1"]) == 0
    assert capsys.readouterr().out.startswith("2024년 3월 5일 화요일\t")
    assert main(["predict", str(run), "05.03.2024"]) == 0
    assert capsys.readouterr().out.startswith("05.03.2024\t")
    assert main(["translate", str(run), "x" * 80]) == 2
    assert "at most" in capsys.readouterr().err


def test_forecasting_beats_the_naive_forecast(tmp_path):
    overrides = [
        "task_options.series_length=2000", "task_options.window=48", "task_options.horizon=12", "model.units=24",
        "training.epochs=4", "export.formats=[]",
    ]
    result = train(load_recipe("time_series_forecasting", overrides), tmp_path / "run", verbose=0)
    metrics = result.metrics
    assert metrics["test_mae"] < metrics["test_naive_mae"], metrics
    assert metrics["test_mae_ratio"] == pytest.approx(metrics["test_mae"] / metrics["test_naive_mae"], rel=1e-3)
    assert metrics["test_skill"] == pytest.approx(1 - metrics["test_mae_ratio"], abs=1e-5)
    assert (tmp_path / "run" / "forecast.png").is_file()


def test_tagging_learns_the_date_fields(tmp_path):
    config = {
        "name": "date_fields",
        "task": "tagging",
        "task_options": {"train_size": 800, "validation_size": 100, "test_size": 200},
        "model": {"name": "lstm_tagger", "units": 16, "embedding_dim": 16},
        "data": {"source": "generated:date_fields", "batch_size": 32},
        "optimizer": {"learning_rate": 0.01},
        "training": {"epochs": 2},
    }
    result = train(config, tmp_path / "run", verbose=0)
    assert result.metrics["test_accuracy"] > 0.9, result.metrics
    assert 0.0 <= result.metrics["test_sequence_accuracy"] <= 1.0
    report = json.loads((tmp_path / "run" / "tagging_report.json").read_text())
    assert {"YEAR", "MONTH", "DAY", "WEEKDAY", "O"} <= set(report)


def test_sequence_classification_reads_text_with_a_saved_vocabulary(tmp_path, capsys):
    overrides = [
        "data.source=tfds:imdb_reviews", "task_options.max_tokens=50", "task_options.sequence_length=12",
        "model.units=4", "model.embedding_dim=4", "training.epochs=1", "export.formats=[]",
    ]
    with tfds.testing.mock_data(num_examples=16):
        result = train(load_recipe("sequence_classification", overrides), tmp_path / "run", verbose=0)
    run = tmp_path / "run"
    vocabulary = (run / "vocabulary.txt").read_text().split("\n")
    assert vocabulary[:2] == ["", "[UNK]"] and len(vocabulary) - 1 == result.model.get_config()["vocab_size"]
    rows = predict_run_texts(run, ["a wonderful film", "dull"])
    assert [row["class"] in ("neg", "pos") for row in rows] == [True, True]
    assert main(["predict", str(run), "not bad at all"]) == 0
    assert "not bad at all\t" in capsys.readouterr().out


def test_sequence_classification_of_digit_rows(tmp_path):
    result = train(
        load_recipe("sequence_classification", ["model.units=8", "training.epochs=1", "export.formats=[]"]),
        tmp_path / "run", verbose=0,
    )
    assert result.model.input_shape == (None, 8, 8) and "test_accuracy" in result.metrics


def test_task_options_and_sources_are_checked(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown recipe key\(s\) task_options.beam for task 'seq2seq'"):
        load_recipe("seq2seq", ["task_options.beam=3"])
    with pytest.raises(ConfigError, match="beam_width"):
        load_recipe("seq2seq", ["task_options.beam_width=0"])
    with pytest.raises(ConfigError, match="task_options.loss"):
        load_recipe("time_series_forecasting", ["task_options.loss=l3"])
    with pytest.raises(UnknownDatasetError, match="generated:dates"):
        train(load_recipe("seq2seq", ["data.source=embedded:digits"]), tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_full_seq2seq_recipe_reaches_its_target(tmp_path):
    result = train(load_recipe("seq2seq", ["export.formats=[]"]), tmp_path / "run", verbose=0)
    metrics = result.metrics
    assert metrics["test_exact_match_beam"] >= 0.95, metrics
    assert metrics["test_exact_match_beam"] >= metrics["test_exact_match_greedy"], metrics
    assert metrics["expected"]["met"]
    assert isinstance(result.model, keras.Model)


@pytest.mark.slow
def test_cli_export_of_a_seq2seq_run_uses_the_task_export(seq2seq_run, capsys):
    run, _ = seq2seq_run
    assert main(["export", str(run), "--format", "onnx"]) == 0
    assert (run / "export" / "greedy_decoder.onnx").is_file()
    parity = json.loads((run / "export" / "parity.json").read_text())
    assert [row["format"] for row in parity] == ["onnx"] and parity[0]["greedy_token_agreement"] == 1.0
    assert "greedy_decoder.onnx" in capsys.readouterr().out
