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
import types
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_nn.errors import OutputDirError
from keras_nn.runs import load_model_file, load_recipe, train_run
from keras_nn.training import (
    PREEMPTED_EXIT_CODE,
    Preempted,
    RunBackup,
    read_backup_state,
    resumable_callbacks,
)
from keras_nn.training.resumable_callbacks import (
    START,
    backup_positions,
    choose_resume_position,
    roll_back_backup,
)

DRIVER = Path(__file__).with_name("kill_driver.py")


def _backup(folder, best_weights=None):
    """A `RunBackup` of a one-weight model; `_save` sets its weight to 10 * epoch + step first."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    checkpoint = types.SimpleNamespace(best=None) if best_weights else None
    backup = RunBackup(folder, best_weights=best_weights, checkpoint=checkpoint)
    backup.set_model(model)
    backup.on_train_begin()
    return backup


def _save(backup, epoch, step=0):
    backup.model.set_weights([np.full((1, 1), 10 * epoch + step, "float32")])
    if backup.checkpoint is not None:  # as if every epoch were the best so far
        backup.checkpoint.best = 1.0 / epoch
        backup.best_weights_path.write_bytes(f"best of epoch {epoch}".encode())
    backup.history_rows = [{"epoch": index, "loss": float(index)} for index in range(epoch)]
    backup._save(epoch, step)


def _restored_weight(folder):
    backup = _backup(folder)
    return float(backup.model.get_weights()[0][0, 0]), [row["epoch"] for row in backup.history_rows]


def test_backups_keep_the_latest_two_and_remove_older_files(tmp_path):
    backup = _backup(tmp_path)
    _save(backup, 1)
    assert backup_positions(tmp_path) == [(1, 0), START]  # the first backup: the other choice is a fresh start
    _save(backup, 1, 4)
    _save(backup, 2)
    state = read_backup_state(tmp_path)
    assert (state["epoch"], state["previous"]["epoch"], state["previous"]["step"]) == (2, 1, 4)
    assert "previous" not in state["previous"]  # two backups, not a chain
    assert backup_positions(tmp_path) == [(2, 0), (1, 4)]
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "state.json", "weights-2.weights.h5", "weights-3.weights.h5"
    ]
    assert _restored_weight(tmp_path) == (20.0, [0, 1])


def test_a_kill_between_the_writes_of_a_backup_leaves_the_two_before_it(tmp_path, monkeypatch):
    backup = _backup(tmp_path)
    _save(backup, 1)
    _save(backup, 2)

    def killed(path, text):
        raise KeyboardInterrupt  # stands for SIGKILL: the weights are written, state.json is not

    monkeypatch.setattr(resumable_callbacks, "atomic_write_text", killed)
    with pytest.raises(KeyboardInterrupt):
        _save(backup, 3)
    monkeypatch.undo()
    assert (tmp_path / "weights-3.weights.h5").is_file()  # written, named by no state: removed by the next backup
    assert backup_positions(tmp_path) == [(2, 0), (1, 0)]
    assert _restored_weight(tmp_path) == (20.0, [0, 1])
    _save(_backup(tmp_path), 3)
    assert backup_positions(tmp_path) == [(3, 0), (2, 0)]
    assert not (tmp_path / "weights-1.weights.h5").exists()


def test_rolling_back_restores_the_previous_backup_whole(tmp_path):
    folder, best = tmp_path / "backup", tmp_path / "best.weights.h5"
    backup = _backup(folder, best)
    for epoch in (1, 2, 3):
        _save(backup, epoch)
    roll_back_backup(folder, (3, 0))  # already the latest: nothing changes
    assert backup_positions(folder) == [(3, 0), (2, 0)]
    roll_back_backup(folder, (2, 0))
    assert backup_positions(folder) == [(2, 0)]  # the backup before it is gone: no fresh start either
    assert sorted(path.name for path in folder.iterdir()) == [
        "best-2.weights.h5", "state.json", "weights-2.weights.h5"
    ]
    resumed = _backup(folder, best)
    # Its weights, history rows, best checkpoint and the checkpoint's best value, not the dropped backup's.
    assert float(resumed.model.get_weights()[0][0, 0]) == 20.0
    assert [row["epoch"] for row in resumed.history_rows] == [0, 1]
    assert best.read_bytes() == b"best of epoch 2" and resumed.checkpoint.best == 0.5
    with pytest.raises(OutputDirError, match=r"holds no backup at epoch 1 step 0 \(it has epoch 2 step 0\)"):
        roll_back_backup(folder, (1, 0))
    other = tmp_path / "first"
    _save(_backup(other), 1)
    roll_back_backup(other, START)  # its first backup: back to a fresh start
    assert read_backup_state(other) is None and not list(other.iterdir())


def test_workers_resume_from_the_earliest_latest_backup():
    # The chief backed up epoch 2 and the other worker was killed before it did: both resume after epoch 1.
    assert choose_resume_position([[(2, 0), (1, 0)], [(1, 0), START]]) == (1, 0)
    assert choose_resume_position([[(1, 7), (1, 0)], [(1, 7), (1, 0)]]) == (1, 7)
    assert choose_resume_position([[(1, 0), START], [START]]) == START
    with pytest.raises(OutputDirError) as error:
        choose_resume_position([[(3, 0), (2, 0)], [(1, 0), START]])
    assert str(error.value).count("\n") == 0
    assert "do not meet at epoch 1 step 0 (worker 0 has epoch 3 step 0 and epoch 2 step 0; worker 1 has epoch 1 " \
        "step 0 and epoch 0 step 0)" in str(error.value)


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
    # later processes resume inside epoch 0, 1 or 2 (a new process, a new data iterator). One SIGKILL and one
    # SIGTERM (of a resumed process) per seed: each process costs a TensorFlow import and the traces.
    for number, name in enumerate(["KILL", "TERM"]):
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
