"""The dbn task: pretraining on every training image, fine-tuning on a share of the labels, a fine-tune from
an earlier run's RBMs; accuracy recomputed; bad sizes and fractions refused."""

import json

import keras
import numpy as np
import pytest

from keras_nn.cli import main
from keras_nn.errors import ConfigError, ShapeError
from keras_nn.runs import load_recipe
from keras_nn.runs import train_run as train

QUICK = [
    "model.hidden_units=[16,8]", "training.epochs=2", "task_options.pretrain.epochs=2", "task_options.label_fraction=0.1",
]


def recipe(*overrides):
    config = load_recipe("dbn_pretraining", [*QUICK, *overrides])
    return {key: value for key, value in config.items() if key != "comparison"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dbn") / "run"
    return train(recipe(), root, verbose=0, export=False), root


def test_pretrains_on_every_image_and_fine_tunes_on_the_labelled_share(run):
    result, root = run
    metrics = result.metrics
    x_all, y_all = result.data.as_numpy("train")
    assert metrics["labelled_examples"] == len(y_all)
    # Stratified 10% of the 1149 training images: about a tenth of each class, at least one each.
    assert 105 <= len(y_all) <= 125
    assert len(np.unique(y_all)) == 10
    assert [layer["visible"] for layer in metrics["pretraining"]] == [64, 16]
    assert [layer["hidden"] for layer in metrics["pretraining"]] == [16, 8]
    x, y = result.data.as_numpy("test")
    accuracy = np.mean(np.argmax(result.model.predict(x, verbose=0), axis=1) == y)
    assert metrics["test_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert sorted(path.name for path in (root / "pretrained").iterdir()) == ["pretraining.json", "rbm_1.keras", "rbm_2.keras"]
    assert len(json.loads((root / "pretrained" / "pretraining.json").read_text())) == 2


@pytest.mark.slow
def test_fine_tunes_from_an_earlier_runs_rbms(run, tmp_path):
    _, root = run
    again = train(recipe(f"task_options.pretrain.from_run={root}", "training.epochs=1"), tmp_path / "again", verbose=0, export=False)
    assert again.metrics["pretrained"] is True and "pretraining" not in again.metrics
    # Loaded, not retrained: the first hidden layer started from the earlier run's first RBM.
    first = keras.saving.load_model(root / "pretrained" / "rbm_1.keras")
    assert again.metrics["pretrained_from"] == str(root)
    assert first.rbm.kernel.shape == again.model.hidden_layers[0].kernel.shape


def test_a_pretraining_run_of_other_sizes_is_refused(run, tmp_path, capsys):
    _, root = run
    with pytest.raises(ShapeError, match=r"pretrained RBMs have weights \[\(64, 16\), \(16, 8\)\], this model needs \[\(64, 16\), \(16, 9\)\]"):
        train(recipe(f"task_options.pretrain.from_run={root}", "model.hidden_units=[16,9]"), tmp_path / "a", verbose=0, export=False)
    output = tmp_path / "b"
    argv = ["train", "dbn_pretraining", "--set", f"task_options.pretrain.from_run={tmp_path}", "--output", str(output)]
    assert main(argv) == 2
    assert "holds no pretrained RBMs" in capsys.readouterr().err
    assert not output.exists()


def test_label_fraction_is_checked():
    with pytest.raises(ConfigError, match="label_fraction"):
        train(recipe("task_options.label_fraction=0"), "/nonexistent/never-written", verbose=0, export=False)


def test_a_model_without_rbms_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="task 'dbn' pretrains a stack of RBMs; model 'simple_cnn' has none: use dbn"):
        train(recipe("model={name: simple_cnn}"), tmp_path / "a", verbose=0, export=False)
    assert not (tmp_path / "a").exists()
