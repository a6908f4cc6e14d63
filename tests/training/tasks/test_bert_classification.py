"""The bert_classification task: inline masked-LM pretraining then fine-tuning beside a from-scratch classifier,
fine-tuning from an earlier pretraining run (its weights really load), and pretraining runs that do not fit."""

import json
import shutil

import keras
import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from keras_nn.cli import main
from keras_nn.data.bert_text import BertTokenizer
from keras_nn.runs import load_recipe
from keras_nn.runs.run_directory import RunDirectory
from keras_nn.training import train
from keras_nn.training.tasks.bert_classification import BertClassificationTask

TINY = [
    "model.num_layers=1", "model.hidden_dim=16", "model.num_heads=2", "model.intermediate_dim=32",
    "model.max_sequence_length=24", "task_options.sequence_length=24",
    "task_options.train_examples=40", "task_options.validation_examples=20", "task_options.test_examples=40",
    "task_options.pretraining.epochs=1", "task_options.pretraining.task_options={corpus_size: 300, vocab_size: 60}",
    "training.epochs=2", "data.batch_size=16",
]


@pytest.fixture(scope="module")
def inline_run(tmp_path_factory):
    """A tiny run of the recipe that pretrains in the run (its pretraining/ folder is a masked LM run)."""
    root = tmp_path_factory.mktemp("bert_finetune") / "run"
    # keras_nn.training.train hands back the task, which holds the from-scratch classifier.
    result = train(load_recipe("bert_finetune", TINY), RunDirectory(root), verbose=0)
    return root, result


@pytest.mark.slow
def test_inline_pretraining_then_fine_tuning_reports_both_accuracies(inline_run):
    root, result = inline_run
    metrics = json.loads((root / "metrics.json").read_text())
    for key in ("test_accuracy", "test_accuracy_from_scratch", "test_accuracy_gain", "pretraining_seconds"):
        assert key in metrics
    # Both accuracies are the models' own on the test sentences.
    task = result.task
    inputs, labels = task.encoded["test"]
    for model, key in ((result.model, "test_accuracy"), (task.scratch, "test_accuracy_from_scratch")):
        predicted = np.asarray(model.predict(inputs, verbose=0)).argmax(-1)
        assert metrics[key] == pytest.approx(accuracy_score(labels, predicted), abs=1e-6)
    assert (root / "comparison_curves.png").is_file() and "from random initialization" in (root / "report.md").read_text()
    assert (root / "pretraining" / "model.keras").is_file()
    assert BertTokenizer.load(root / "tokenizer").size == result.model.get_config()["vocab_size"]


@pytest.mark.slow
def test_pretrained_weights_really_load(inline_run):
    root, _ = inline_run
    pretraining_run = root / "pretraining"
    config = load_recipe("bert_finetune", [*TINY, f"task_options.pretrained_run={pretraining_run}"])
    task = BertClassificationTask()
    bundle = task.load_data(config)
    classifier = task.build_model(config, bundle)
    masked_lm = keras.saving.load_model(pretraining_run / "model.keras", compile=False)
    loaded, pretrained = classifier.backbone.get_weights(), masked_lm.backbone.get_weights()
    assert len(loaded) == len(pretrained)
    for ours, theirs in zip(loaded, pretrained, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    # The from-scratch classifier of the same configuration starts elsewhere.
    fresh = task.scratch.backbone.get_weights()
    assert not np.allclose(fresh[0], pretrained[0])


@pytest.mark.slow
@pytest.mark.parametrize("change", ["width", "tokenizer"])
def test_a_pretraining_run_that_does_not_fit_is_one_line_exit_2(inline_run, tmp_path, capsys, change):
    root, _ = inline_run
    pretraining_run = tmp_path / "pretraining"
    shutil.copytree(root / "pretraining", pretraining_run)
    overrides = [*TINY, f"task_options.pretrained_run={pretraining_run}"]
    if change == "width":
        overrides.append("model.hidden_dim=32")
        expected = "model.hidden_dim=32"
    else:
        # Another vocabulary: a tokenizer of another size in place of the run's own.
        shutil.rmtree(pretraining_run / "tokenizer")
        BertTokenizer.fit(["the bird eats seeds ."] * 200 + ["a b c d e f g"] * 50, vocab_size=20).save(
            pretraining_run / "tokenizer"
        )
        expected = "tokenizer of"
    out = tmp_path / "out"
    arguments = ["train", "bert_finetune", "--output", str(out)]
    for override in overrides:
        arguments += ["--set", override]
    assert main(arguments) == 2
    error = capsys.readouterr().err.strip()
    assert expected in error and len(error.splitlines()) == 1
    assert not out.exists()


def test_a_missing_pretraining_run_is_one_line_exit_2(tmp_path, capsys):
    out = tmp_path / "out"
    arguments = ["train", "bert_finetune", "--output", str(out), "--set", f"task_options.pretrained_run={tmp_path / 'none'}"]
    assert main(arguments) == 2
    error = capsys.readouterr().err.strip()
    assert "does not exist" in error and len(error.splitlines()) == 1
    assert not out.exists()
