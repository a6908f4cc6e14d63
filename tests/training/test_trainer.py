import json
import os

import keras
import pytest

from keras_nn.errors import ConfigError, MissingPathError, OutputDirError, UnknownModelError
from keras_nn.training import load_recipe, train
from keras_nn.training.strategy import get_strategy, is_chief, resolve_strategy_name

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
    assert metrics["epochs_trained"] == 2 and 0.0 <= metrics["test_accuracy"] <= 1.0
    assert metrics["expected"]["metric"] == "test_accuracy"
    assert (run / "history.csv").read_text().splitlines()[0].startswith("epoch,accuracy")
    assert not [p for p in run.rglob("*.tmp*")], "temporary files left behind"


def test_a_tiny_model_really_learns(tmp_path):
    overrides = [*FAST[:2], "model.dropout=0.1", "optimizer.learning_rate=0.01", "training.epochs=6", "export.formats=[]"]
    result = train(load_recipe("digits_cnn", overrides), tmp_path / "r", verbose=0)
    assert result.metrics["test_accuracy"] > 0.9


def test_resume_continues_from_the_last_backup(tmp_path):
    config = load_recipe("digits_cnn", [*FAST[:2], "training.epochs=4", "export.formats=[]"])
    run = tmp_path / "run"
    with pytest.raises(Interrupt):
        train(config, run, verbose=0, callbacks=[InterruptAfter(2)])
    assert (run / "checkpoints" / "backup" / "latest.weights.h5").is_file()
    assert not (run / "model.keras").exists()

    with pytest.raises(OutputDirError, match="pass --resume"):
        train(config, run, verbose=0)

    recorder = RecordEpochs()
    result = train(config, run, resume=True, verbose=0, callbacks=[recorder])
    assert recorder.seen == [2, 3], "resume must start after the last completed epoch"
    epochs = [line.split(",")[0] for line in (run / "history.csv").read_text().splitlines()[1:]]
    assert epochs == ["0", "1", "2", "3"]
    assert result.metrics["epochs_trained"] == 2


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


def test_strategy_resolution(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert resolve_strategy_name("auto") == "one_device"  # no GPU here
    assert resolve_strategy_name("mirrored") == "mirrored"
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}))
    assert resolve_strategy_name("auto") == "multi_worker"
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG is not valid JSON"):
        resolve_strategy_name("auto")
    with pytest.raises(ConfigError, match="choose one of: auto, one_device"):
        resolve_strategy_name("gpus")


def test_one_device_and_mirrored_strategies_build_here(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    one = get_strategy("one_device")
    assert one.num_replicas_in_sync == 1 and is_chief(one)
    mirrored = get_strategy("mirrored")  # falls back to the CPU as its one replica
    assert mirrored.num_replicas_in_sync >= 1
    with pytest.raises(ConfigError, match="needs TF_CONFIG"):
        get_strategy("multi_worker")


def test_mixed_precision_run_trains_and_restores_the_policy(tmp_path):
    result = train(load_recipe("digits_cnn", [*FAST, "training.mixed_precision=true", "training.epochs=1"]), tmp_path / "r", verbose=0)
    assert keras.config.dtype_policy().name == "float32"
    assert result.model.layers[1].compute_dtype == "float16"
    assert result.metrics["test_loss"] == result.metrics["test_loss"]  # not NaN


def test_recurrent_recipe_with_label_smoothing_and_sgd(tmp_path):
    overrides = [
        "model.units=8", "training.epochs=1", "export.formats=[]", "training.label_smoothing=0.1",
        "optimizer.name=sgd", "schedule.name=step", "optimizer.clipnorm=1.0",
    ]
    result = train(load_recipe("digits_lstm", overrides), tmp_path / "r", verbose=0)
    assert os.path.isfile(result.run_dir / "model.keras")
    assert "test_accuracy" in result.metrics
