"""Faults and `--resume`: a finished run left untouched or extended, the best checkpoint and early stopping carried
across a resume, and real training processes killed (SIGKILL, SIGTERM) at random moments."""

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_nn import cli
from keras_nn.runs import load_model_file, load_recipe, train_run
from keras_nn.training import PREEMPTED_EXIT_CODE, read_backup_state

FAST = ["model.filters=[8, 16, 16]", "model.dense_units=32", "export.formats=[]"]
DRIVER = Path(__file__).with_name("kill_driver.py")


class Interrupt(Exception):
    """Stands in for a killed process."""


class InterruptAfter(keras.callbacks.Callback):
    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise Interrupt()


class ZeroWeightsFrom(keras.callbacks.Callback):
    """Zeroes every weight at the start of each epoch from `epoch` on: those epochs end far worse (a constant
    output, val_loss near log(10)) than any trained one."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch >= self.epoch:
            self.model.set_weights([np.zeros_like(w) for w in self.model.get_weights()])


class RecordEpochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)


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


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("finished") / "run"
    train_run(load_recipe("digits_cnn", [*FAST, "training.epochs=2"]), run, verbose=0)
    return run


def test_resume_of_a_finished_run_changes_nothing(finished_run, capsys):
    before = snapshot(finished_run)
    arguments = ["train", "digits_cnn", "--output", str(finished_run), "--resume", "--epochs", "2"]
    for override in FAST:
        arguments += ["--set", override]
    assert cli.main(arguments) == 0
    assert "is complete" in capsys.readouterr().err
    assert snapshot(finished_run) == before, "--resume of a finished run must not touch a file"
    # Fewer epochs than the run has: complete too.
    result = train_run(load_recipe("digits_cnn", [*FAST, "training.epochs=1"]), finished_run, resume=True, verbose=0)
    assert result.complete and result.model is None
    assert result.metrics == json.loads((finished_run / "metrics.json").read_text())
    assert snapshot(finished_run) == before


def test_resume_with_more_epochs_extends_a_finished_run(finished_run):
    before = json.loads((finished_run / "metrics.json").read_text())
    recorder = RecordEpochs()
    config = load_recipe("digits_cnn", [*FAST, "training.epochs=3"])
    result = train_run(config, finished_run, resume=True, verbose=0, callbacks=[recorder])
    assert recorder.seen == [2], "the extension trains the added epoch only"
    assert [row["epoch"] for row in history_rows(finished_run)] == ["0", "1", "2"]
    assert result.metrics["epochs_trained"] == 3
    assert result.metrics["train_seconds"] > before["train_seconds"], "train_seconds counts the whole run"
    assert read_backup_state(finished_run / "checkpoints" / "backup")["epoch"] == 3


def test_best_checkpoint_and_early_stopping_survive_a_resume(tmp_path):
    config = load_recipe("digits_cnn", [*FAST, "training.epochs=8", "training.early_stopping_patience=2"])
    run = tmp_path / "run"
    with pytest.raises(Interrupt):
        train_run(config, run, verbose=0, callbacks=[InterruptAfter(2)])
    # Every resumed epoch is worse than the two before the interruption: with the checkpoint's best value and
    # early stopping's count carried, best.weights.h5 keeps epoch 1 or 0 and training stops after epoch 3
    # (patience 2); started afresh, the first resumed epoch would be "best" and training would go on to epoch 4.
    result = train_run(config, run, resume=True, verbose=0, callbacks=[ZeroWeightsFrom(2)])
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
    config = load_recipe("digits_cnn", [*FAST, "training.epochs=8", "training.early_stopping_patience=2"])
    # Epochs 3 on are worse than 0-2: patience 2 stops after epoch 4 and puts back the best of epochs 0-2.
    result = train_run(config, tmp_path / "run", verbose=0, callbacks=[ZeroWeightsFrom(3)])
    losses = [float(row["val_loss"]) for row in history_rows(tmp_path / "run")]
    assert len(losses) == 5, losses
    assert min(losses[:3]) < min(losses[3:])
    assert result.metrics["val_loss"] == pytest.approx(min(losses), rel=1e-4)
    assert validation_loss(result.model, result) == pytest.approx(min(losses), rel=1e-4)


def _driver(run, signal_name, step, delay_ms, extra, timeout=240):
    arguments = ["train", "digits_cnn", "--output", str(run), *extra]
    command = [sys.executable, str(DRIVER), signal_name, str(step), str(delay_ms), "--", *arguments]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)


# Deterministic data order: the shuffle buffer of 1 keeps the (cached) training order in every epoch. With the
# default buffer, tf.data reshuffles each epoch from a seed sequence that restarts in a new process, so a resumed
# epoch sees another order than the uninterrupted run's and the weights differ (training is still correct).
# No dropout: its random state is not in the backup either.
KILL_RUN = [
    "model.filters=[4, 8]", "model.dense_units=16", "model.dropout=0.0", "training.epochs=3",
    "export.formats=[]", "data.shuffle_buffer=1", "training.backup_every_steps=7",
]
SEEDS = [int(seed) for seed in os.environ.get("KERAS_NN_KILL_SEEDS", "0").split(",")]


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_killed_training_resumes_to_the_uninterrupted_weights(tmp_path, seed):
    extra = [item for override in KILL_RUN for item in ("--set", override)]
    reference = train_run(load_recipe("digits_cnn", KILL_RUN), tmp_path / "reference", verbose=0)
    run = tmp_path / "run"
    rng = np.random.default_rng(seed)
    # 41 steps an epoch, 123 in all; each process is killed after 1-35 steps of its own (a backup is at most 6
    # steps behind), plus 0-40 ms, so the kill lands in a step, a backup, the history row or validation, and the
    # later processes resume inside epoch 1 or 2 (a new process, a new data iterator).
    for number, name in enumerate(["KILL", "TERM", "KILL"]):
        state = read_backup_state(run / "checkpoints" / "backup")
        done = _driver(run, name, int(rng.integers(1, 36)), int(rng.integers(0, 41)), extra + ["--resume"] * (number > 0))
        if name == "KILL":
            assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
        else:
            assert done.returncode == PREEMPTED_EXIT_CODE, done.stderr[-2000:]
            assert "continue with: keras-nn train digits_cnn --output" in done.stderr
            assert done.stderr.rstrip().endswith("--resume")
        if state is not None:
            assert f"epoch {state['epoch'] + 1} of 3, step {state['step']}" in done.stderr
    done = _driver(run, "NONE", 0, 0, extra + ["--resume"])
    assert done.returncode == 0, done.stderr[-3000:]
    rows = history_rows(run)
    assert [row["epoch"] for row in rows] == ["0", "1", "2"], "no epoch lost or written twice"
    expected = [float(row["val_loss"]) for row in history_rows(tmp_path / "reference")]
    np.testing.assert_allclose([float(row["val_loss"]) for row in rows], expected, rtol=1e-5)
    # Same steps on the same batches in the same order: the weights match to float32 round-off (1e-5).
    resumed = load_model_file(run / "model.keras").get_weights()
    for got, want in zip(resumed, reference.model.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_trained"] == 3
