"""A whole run: the run directory, resume, bad runs that leave nothing, and metrics checked independently."""

import json

import keras
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss

from keras_nn.errors import ConfigError, MissingPathError, OutputDirError, UnknownModelError
from keras_nn.runs import load_model_file, load_recipe
from keras_nn.runs import train_run as train

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


def test_run_directory_holds_everything_promised(tmp_path):
    result = train(load_recipe("digits_cnn", FAST), tmp_path / "run", verbose=0)
    run = tmp_path / "run"
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


def test_resume_refuses_a_different_recipe(tmp_path):
    run = tmp_path / "run"
    train(load_recipe("digits_cnn", FAST), run, verbose=0)
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
