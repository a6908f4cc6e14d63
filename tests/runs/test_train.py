"""A whole run: the run directory, resume, bad runs that leave nothing, and metrics checked independently."""

import csv
import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss

from keras_nn import cli
from keras_nn.errors import ConfigError, MissingPathError, OutputDirError, UnknownModelError
from keras_nn.runs import load_model_file, load_recipe
from keras_nn.runs import train_run as train
from keras_nn.training import read_backup_state

# A small, fast version of the digits recipe (a few seconds an epoch on 2 cores).
FAST = [
    "model.filters=[8, 16, 16]",
    "model.dense_units=32",
    "training.epochs=2",
    "export.formats=[]",
]


class Interrupt(Exception):
    """Stands in for a killed process."""


class InterruptAfter(keras.callbacks.Callback):
    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise Interrupt()


class RecordEpochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """`(run directory, TrainResult)` of FAST trained to the end: the tests below read it and never change it (the
    one that extends it works on a copy)."""
    run = tmp_path_factory.mktemp("finished") / "run"
    return run, train(load_recipe("digits_cnn", FAST), run, verbose=0)


def test_run_directory_holds_everything_promised(finished_run):
    run, result = finished_run
    for name in ("config.yaml", "model.keras", "history.csv", "metrics.json", "curves.png"):
        assert (run / name).is_file(), name
    assert (run / "checkpoints" / "best.weights.h5").is_file()
    assert any((run / "logs").rglob("events.out.tfevents.*"))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics == result.metrics
    assert metrics["epochs_trained"] == 2
    # The reported accuracy is the saved model's on the test split, recomputed here with scikit-learn.
    x, y = result.data.as_numpy("test")
    predicted = np.asarray(load_model_file(run / "model.keras").predict(x, verbose=0)).argmax(-1)
    assert metrics["test_accuracy"] == pytest.approx(accuracy_score(y, predicted), abs=1e-6)
    assert metrics["expected"] == {
        "metric": "test_accuracy", "min": 0.95, "value": metrics["test_accuracy"],
        "met": metrics["test_accuracy"] >= 0.95,
    }
    assert (run / "history.csv").read_text().splitlines()[0].startswith("epoch,accuracy")
    assert not [p for p in run.rglob("*.tmp*")], "temporary files left behind"


@pytest.mark.slow
def test_a_tiny_model_really_learns(tmp_path):
    overrides = [*FAST[:2], "model.dropout=0.1", "optimizer.learning_rate=0.01", "training.epochs=6", "export.formats=[]"]
    result = train(load_recipe("digits_cnn", overrides), tmp_path / "r", verbose=0)
    assert result.metrics["test_accuracy"] > 0.9


def test_resume_continues_from_the_last_backup(tmp_path):
    config = load_recipe("digits_cnn", [*FAST[:2], "training.epochs=4", "export.formats=[]"])
    run = tmp_path / "run"
    with pytest.raises(Interrupt):
        train(config, run, verbose=0, callbacks=[InterruptAfter(2)])
    assert (run / "checkpoints" / "backup" / "state.json").is_file()
    assert not (run / "model.keras").exists()

    with pytest.raises(OutputDirError, match="pass --resume"):
        train(config, run, verbose=0)

    recorder = RecordEpochs()
    result = train(config, run, resume=True, verbose=0, callbacks=[recorder])
    assert recorder.seen == [2, 3], "resume must start after the last completed epoch"
    epochs = [line.split(",")[0] for line in (run / "history.csv").read_text().splitlines()[1:]]
    assert epochs == ["0", "1", "2", "3"]
    assert result.metrics["epochs_trained"] == 4, "metrics.json counts the whole run, the epochs before the resume included"


def test_resume_refuses_a_different_recipe(finished_run, tmp_path):
    run, _ = finished_run
    with pytest.raises(ConfigError, match="differs .* at optimizer.learning_rate"):
        train(load_recipe("digits_cnn", [*FAST, "optimizer.learning_rate=0.1"]), run, resume=True, verbose=0)
    with pytest.raises(OutputDirError, match="no config.yaml"):
        train(load_recipe("digits_cnn", FAST), tmp_path / "empty", resume=True, verbose=0)


@pytest.mark.parametrize(
    "override, error",
    [
        ("model.name=resnet9000", UnknownModelError),
        ("data.source=dir:/no/such/folder", MissingPathError),
        ("model.colour=red", ConfigError),
    ],
)
def test_bad_runs_leave_nothing_behind(tmp_path, override, error):
    run = tmp_path / "run"
    with pytest.raises(error):
        train(load_recipe("digits_cnn", [*FAST, override]), run, verbose=0)
    assert not run.exists()


def test_mixed_precision_run_trains_and_restores_the_policy(tmp_path):
    result = train(load_recipe("digits_cnn", [*FAST, "training.mixed_precision=true", "training.epochs=1"]), tmp_path / "r", verbose=0)
    assert keras.config.dtype_policy().name == "float32"
    assert result.model.layers[1].compute_dtype == "float16"
    # The test loss is the float16 model's cross-entropy on the test split (float16 rounding: 1e-3).
    x, y = result.data.as_numpy("test")
    probabilities = np.asarray(result.model.predict(x, verbose=0), np.float64)
    probabilities /= probabilities.sum(-1, keepdims=True)  # float16 rows sum to 1 within rounding only
    assert result.metrics["test_loss"] == pytest.approx(log_loss(y, probabilities, labels=range(10)), rel=1e-3)


def test_recurrent_recipe_with_label_smoothing_and_sgd(tmp_path):
    overrides = [
        "model.units=8", "training.epochs=1", "export.formats=[]", "training.label_smoothing=0.1",
        "optimizer.name=sgd", "schedule.name=step", "optimizer.clipnorm=1.0",
    ]
    result = train(load_recipe("digits_lstm", overrides), tmp_path / "r", verbose=0)
    assert (result.run_dir / "model.keras").is_file()
    # Label smoothing trains on one-hot targets; accuracy is still measured on the class ids.
    x, y = result.data.as_numpy("test")
    predicted = np.asarray(result.model.predict(x, verbose=0)).argmax(-1)
    assert result.metrics["test_accuracy"] == pytest.approx(accuracy_score(y, predicted), abs=1e-6)
    assert result.model.loss.get_config()["label_smoothing"] == pytest.approx(0.1)
    assert type(result.model.optimizer).__name__ == "SGD" and result.model.optimizer.clipnorm == 1.0


class ZeroWeightsFrom(keras.callbacks.Callback):
    """Zeroes every weight at the start of each epoch from `epoch` on: those epochs end far worse (a constant
    output, val_loss near log(10)) than any trained one."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch >= self.epoch:
            self.model.set_weights([np.zeros_like(w) for w in self.model.get_weights()])


def history_rows(run):
    with open(Path(run) / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def snapshot(folder):
    """Every file under `folder` with its bytes and modification time."""
    return {
        str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(Path(folder).rglob("*"))
        if path.is_file()
    }


def validation_loss(model, result):
    x, y = result.data.as_numpy("validation")
    return float(keras.losses.SparseCategoricalCrossentropy()(y, model.predict(x, verbose=0)))


def test_resume_of_a_finished_run_changes_nothing(finished_run, capsys):
    finished_run, _ = finished_run
    before = snapshot(finished_run)
    arguments = ["train", "digits_cnn", "--output", str(finished_run), "--resume"]
    for override in FAST:
        arguments += ["--set", override]
    assert cli.main(arguments) == 0
    assert "is complete" in capsys.readouterr().err
    assert snapshot(finished_run) == before, "--resume of a finished run must not touch a file"
    # Fewer epochs than the run has: complete too.
    result = train(load_recipe("digits_cnn", [*FAST[:2], "training.epochs=1", "export.formats=[]"]), finished_run, resume=True, verbose=0)
    assert result.complete and result.model is None
    assert result.metrics == json.loads((finished_run / "metrics.json").read_text())
    assert snapshot(finished_run) == before


def test_resume_with_more_epochs_extends_a_finished_run(finished_run, tmp_path):
    finished_run = Path(shutil.copytree(finished_run[0], tmp_path / "run"))  # the shared run stays as it was
    before = json.loads((finished_run / "metrics.json").read_text())
    recorder = RecordEpochs()
    config = load_recipe("digits_cnn", [*FAST[:2], "training.epochs=3", "export.formats=[]"])
    result = train(config, finished_run, resume=True, verbose=0, callbacks=[recorder])
    assert recorder.seen == [2], "the extension trains the added epoch only"
    assert [row["epoch"] for row in history_rows(finished_run)] == ["0", "1", "2"]
    assert result.metrics["epochs_trained"] == 3
    assert result.metrics["train_seconds"] > before["train_seconds"], "train_seconds counts the whole run"
    assert read_backup_state(finished_run / "checkpoints" / "backup")["epoch"] == 3


def test_best_checkpoint_and_early_stopping_survive_a_resume(tmp_path):
    config = load_recipe("digits_cnn", [*FAST[:2], "training.epochs=8", "training.early_stopping_patience=2", "export.formats=[]"])
    run = tmp_path / "run"
    with pytest.raises(Interrupt):
        train(config, run, verbose=0, callbacks=[InterruptAfter(2)])
    # Every resumed epoch is worse than the two before the interruption: with the checkpoint's best value and
    # early stopping's count carried, best.weights.h5 keeps epoch 1 or 0 and training stops after epoch 3
    # (patience 2); started afresh, the first resumed epoch would be "best" and training would go on to epoch 4.
    result = train(config, run, resume=True, verbose=0, callbacks=[ZeroWeightsFrom(2)])
    rows = history_rows(run)
    losses = [float(row["val_loss"]) for row in rows]
    assert [row["epoch"] for row in rows] == ["0", "1", "2", "3"], losses
    assert min(losses[:2]) < min(losses[2:])
    assert result.metrics["epochs_trained"] == 4
    model = load_model_file(run / "model.keras")
    model.load_weights(run / "checkpoints" / "best.weights.h5")
    assert validation_loss(model, result) == pytest.approx(min(losses), rel=1e-4)
    # Early stopping restored the best weights into the saved model too.
    assert result.metrics["val_loss"] == pytest.approx(min(losses), rel=1e-4)


def test_early_stopping_stops_where_the_patience_says_and_restores_the_best(tmp_path):
    config = load_recipe("digits_cnn", [*FAST[:2], "training.epochs=8", "training.early_stopping_patience=2", "export.formats=[]"])
    # Epochs 3 on are worse than 0-2: patience 2 stops after epoch 4 and puts back the best of epochs 0-2.
    result = train(config, tmp_path / "run", verbose=0, callbacks=[ZeroWeightsFrom(3)])
    losses = [float(row["val_loss"]) for row in history_rows(tmp_path / "run")]
    assert len(losses) == 5, losses
    assert min(losses[:3]) < min(losses[3:])
    assert result.metrics["val_loss"] == pytest.approx(min(losses), rel=1e-4)
    assert validation_loss(result.model, result) == pytest.approx(min(losses), rel=1e-4)
