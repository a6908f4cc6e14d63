"""Real training processes killed (SIGKILL, SIGTERM) at random moments, then resumed: no epoch lost or written
twice, and the weights of an uninterrupted run. The in-process resume cases (a finished run, the best checkpoint
and early stopping carried) are in tests/runs/test_train.py."""

import csv
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_nn.runs import load_model_file, load_recipe, train_run
from keras_nn.training import PREEMPTED_EXIT_CODE, Preempted, read_backup_state

DRIVER = Path(__file__).with_name("kill_driver.py")


class SigtermAt(keras.callbacks.Callback):
    """Sends this process SIGTERM at the end of training step `step` (1-based)."""

    def __init__(self, step):
        super().__init__()
        self.step, self.seen = step, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_backs_up_the_step_in_flight_and_resumes_there(tmp_path, caplog):
    config = load_recipe("digits_cnn", [*KILL_RUN, "training.epochs=2", "training.backup_every_steps=4"])
    run = tmp_path / "run"
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Preempted) as stopped:
        train_run(config, run, verbose=0, callbacks=[SigtermAt(10)])
    assert signal.getsignal(signal.SIGTERM) is previous, "the SIGTERM handler is put back"
    # Sent after the backup callback saw step 10 (it comes first), so the next step, 11, finishes and is backed
    # up: not step 8, the last periodic backup.
    assert (stopped.value.epoch, stopped.value.step) == (0, 11)
    state = read_backup_state(run / "checkpoints" / "backup")
    assert (state["epoch"], state["step"], state["history"]) == (0, 11, [])
    with caplog.at_level(logging.INFO, logger="keras_nn"):
        result = train_run(config, run, resume=True, verbose=0)
    assert "epoch 1 of 2, step 11 of 41 (0 epoch(s) complete)" in caplog.text
    assert [row["epoch"] for row in history_rows(run)] == ["0", "1"]
    assert result.metrics["epochs_trained"] == 2


def history_rows(run):
    with open(Path(run) / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


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
