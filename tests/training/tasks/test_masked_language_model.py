"""The masked_language_model task: a tiny BERT pretraining run, its loss and held-out scores recomputed."""

import math

import keras
import numpy as np
import pytest
import yaml

from keras_nn.data.bert_text import BertTokenizer
from keras_nn.errors import ConfigError, MissingPathError
from keras_nn.runs import load_recipe
from keras_nn.runs import train_run as train
from keras_nn.training.tasks.masked_language_model import (
    load_pretrained_encoder,
    masked_lm_loss,
    pretrain_masked_language_model,
)


def tiny_config(**model):
    return {
        "name": "tiny_mlm",
        "task": "masked_language_model",
        "task_options": {"corpus_size": 300, "sequence_length": 16, "vocab_size": 120},
        "model": {
            "name": "bert_masked_lm",
            "num_layers": 1,
            "hidden_dim": 16,
            "num_heads": 2,
            "intermediate_dim": 32,
            "max_sequence_length": 16,
            **model,
        },
        "data": {"source": "generated:sentences", "batch_size": 32},
        "optimizer": {"learning_rate": 0.003},
        "training": {"epochs": 1},
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlm") / "run"
    return root, train(tiny_config(), root, verbose=0)


def test_held_out_accuracy_and_perplexity_recomputed(run):
    _, result = run
    model, metrics = result.model, result.metrics
    nll, correct, count = 0.0, 0, 0
    for inputs, targets, weights in result.data.test.as_numpy_iterator():
        logits = model.predict(inputs, verbose=0)
        per_slot = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)(targets, logits)
        nll += float(np.sum(np.asarray(per_slot) * weights))
        correct += int(np.sum((logits.argmax(-1) == targets) * weights))
        count += int(weights.sum())
    assert metrics["test_masked_tokens"] == count > 0
    assert metrics["test_masked_accuracy"] == pytest.approx(correct / count, abs=1e-6)
    assert metrics["test_perplexity"] == pytest.approx(math.exp(nll / count), rel=1e-4)
    # Keras's weighted accuracy over the same fixed held-out masks agrees.
    keras_values = model.evaluate(result.data.test, verbose=0, return_dict=True)
    assert keras_values["masked_accuracy"] == pytest.approx(correct / count, abs=1e-5)


def test_only_masked_positions_are_in_the_loss(run):
    _, result = run
    inputs, targets, weights = next(result.data.validation.as_numpy_iterator())
    assert (weights == 0).any() and (weights == 1).any()
    logits = np.asarray(result.model(inputs, training=False), np.float64)
    loss = masked_lm_loss()
    base = float(loss(targets, logits, sample_weight=weights))
    log_probs = logits - np.log(np.sum(np.exp(logits - logits.max(-1, keepdims=True)), -1, keepdims=True)) - logits.max(
        -1, keepdims=True
    )
    hand = -np.sum(np.take_along_axis(log_probs, targets[..., None], -1)[..., 0] * weights) / weights.sum()
    assert base == pytest.approx(hand, rel=1e-5)
    unused, used = np.argwhere(weights == 0)[0], np.argwhere(weights == 1)[0]
    changed = targets.copy()
    changed[tuple(unused)] = (changed[tuple(unused)] + 7) % result.data.tokenizer.size
    assert float(loss(changed, logits, sample_weight=weights)) == pytest.approx(base, rel=1e-6)
    changed = targets.copy()
    changed[tuple(used)] = (changed[tuple(used)] + 7) % result.data.tokenizer.size
    assert float(loss(changed, logits, sample_weight=weights)) != pytest.approx(base, rel=1e-4)


def test_run_saves_tokenizer_and_loads_as_pretrained_encoder(run):
    root, result = run
    model, tokenizer, config = load_pretrained_encoder(root)
    assert config["task"] == "masked_language_model"
    assert isinstance(tokenizer, BertTokenizer) and tokenizer.size == result.data.tokenizer.size
    text = "the cat eats tuna ."
    np.testing.assert_array_equal(tokenizer.encode(text), result.data.tokenizer.encode(text))
    for loaded, trained in zip(model.backbone.weights, result.model.backbone.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(loaded), np.asarray(trained))
    assert (root / "report.md").read_text().count("masked-token accuracy") == 1


def test_load_pretrained_encoder_names_a_wrong_directory(run, tmp_path):
    with pytest.raises(MissingPathError, match="does not exist"):
        load_pretrained_encoder(tmp_path / "absent")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"task": "language_model"}))
    with pytest.raises(ConfigError, match="'language_model' run, not a masked_language_model run"):
        load_pretrained_encoder(tmp_path)


def test_short_max_sequence_length_is_one_line_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match="max_sequence_length=8 is shorter than task_options.sequence_length=16"):
        train(tiny_config(max_sequence_length=8), tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


def test_shipped_recipe_resolves():
    config = load_recipe("bert_pretraining")
    assert config["task"] == "masked_language_model" and config["model"]["name"] == "bert_masked_lm"
    assert config["task_options"]["selection_rate"] == 0.15


@pytest.mark.slow
def test_inline_pretraining_sees_the_runs_data_and_scores_its_own_model(run):
    _, result = run
    inline = pretrain_masked_language_model(tiny_config())
    assert inline.tokenizer.size == result.data.tokenizer.size
    assert inline.model.backbone.name == "bert_encoder" and inline.config["task"] == "masked_language_model"
    # The same recipe gives the same held-out sentences and the same fixed held-out masks.
    for (ours, our_targets, _), (theirs, their_targets, _) in zip(inline.bundle.test, result.data.test, strict=True):
        np.testing.assert_array_equal(ours["mask_positions"], theirs["mask_positions"])
        np.testing.assert_array_equal(our_targets, their_targets)
    assert inline.metrics["test_masked_tokens"] == result.metrics["test_masked_tokens"]
    keras_values = inline.model.evaluate(inline.bundle.test, verbose=0, return_dict=True)
    assert inline.metrics["test_masked_accuracy"] == pytest.approx(keras_values["masked_accuracy"], abs=1e-5)
    assert inline.metrics["epochs_trained"] == 1 and inline.metrics["train_seconds"] > 0
