"""`RunBackup`: the backup `--resume` continues from, written so that a kill at any moment (SIGKILL too) leaves
a backup and a history.csv that agree.

One backup is `state.json` plus the weights file it names (`weights-<n>.weights.h5`: the model and the optimizer
state) and, once a best epoch exists, a copy of `best.weights.h5` (`best-<n>.weights.h5`). The weights are written
first under a new name, then `state.json` is replaced in one rename, then files no state names are removed: a kill
anywhere leaves the old backup or the new one, never a mix (Keras 3.15's `BackupAndRestore` overwrites its weights
file in place and writes its metadata after it, so a kill between the two resumes the wrong epoch).

`state.json` holds two backups: the latest at its top level and the one before it under `"previous"` (whose files
stay until a third backup replaces it). The workers of a multi-worker run train in lockstep but back up one by one,
so a worker killed at a backup can be one backup behind the others; on `--resume` they agree on the earliest latest
backup among them (`agree_on_backup`) and each one that is ahead rolls back to its previous one.

The history rows of the completed epochs live inside `state.json`; on resume `history.csv` is rewritten from them
(`restore_history`) before the CSV logger opens it. A row written after the last backup is dropped with the epoch
it belongs to, which the resumed run trains again; so no epoch is lost or written twice whatever the moment of the
kill. The same goes for `best.weights.h5`, put back from the backup's copy, and for the state of `ModelCheckpoint`
(best value) and `EarlyStopping` (best value, wait, best epoch, best weights), carried in the backup so that a
resumed run neither overwrites the best checkpoint with a worse epoch nor restarts its patience.
"""

import csv
import json
import logging
import os
import time
from pathlib import Path

import keras
import numpy as np

from keras_nn.errors import OutputDirError
from keras_nn.files import atomic_write_bytes, atomic_write_text
from keras_nn.training.distributed import gather_from_workers, in_multi_worker_mode, reporting_lost_workers
from keras_nn.training.preemption import Preempted, stop_requested

logger = logging.getLogger(__name__)

STATE = "state.json"
#: The position (epoch, step) of a run with no backup: its start.
START = (0, 0)


def read_backup_state(backup_dir):
    """The latest backup's state (a dict; `state["previous"]` is the backup before it, or None), or None when
    there is no complete backup in `backup_dir`."""
    path = Path(backup_dir) / STATE
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
    except ValueError:
        return None
    if not (Path(backup_dir) / state.get("weights", "")).is_file():
        return None
    return state


def backup_position(state):
    """Where a backup's state resumes: `(epoch, step)`; `START` for None (no backup)."""
    return START if state is None else (int(state["epoch"]), int(state["step"]))


def backup_positions(backup_dir):
    """The positions a worker can resume from: `[latest, previous]`, latest first.

    The previous one is the backup before the latest, or `START` when the latest is the run's first backup (a
    fresh start trains it again); a folder with no backup has `[START]`.
    """
    return _resume_positions(Path(backup_dir), read_backup_state(backup_dir))


def _resume_positions(folder, state):
    """`backup_positions` of the backup state already read from `folder`."""
    if state is None:
        return [START]
    previous = state.get("previous")
    if previous is not None and not (folder / previous.get("weights", "")).is_file():
        previous = None
    if previous is None and state.get("saves", 1) > 1:
        return [backup_position(state)]  # a backup before this one existed: its start is gone
    return [backup_position(state), backup_position(previous)]


def roll_back_backup(backup_dir, position):
    """Makes the backup at `position` the latest one in `backup_dir` (the later one is dropped); `START` removes
    the backup. Written like a backup: `state.json` in one rename, then the files it no longer names removed.

    Raises:
        OutputDirError: no backup there is at `position`.
    """
    folder = Path(backup_dir)
    state = read_backup_state(folder)
    if backup_position(state) == tuple(position):
        return
    positions = _resume_positions(folder, state)
    if tuple(position) not in positions:
        raise OutputDirError(
            f"--resume: {str(folder)!r} holds no backup at epoch {position[0]} step {position[1]} (it has "
            f"{_positions_text(positions)}); start the run again in another --output directory"
        )
    previous = state.get("previous")
    if previous is None:
        (folder / STATE).unlink()
    else:
        atomic_write_text(folder / STATE, json.dumps({**previous, "previous": None}, indent=1))
    _remove_unreferenced(folder, previous)
    logger.info(
        "rolled the backup in %s back from epoch %d step %d to epoch %d step %d, where every worker has one",
        folder, *backup_position(state), *position,
    )


def agree_on_backup(backup_dir, strategy):
    """Under a multi-worker strategy, makes every worker resume from the same backup: the earliest latest backup
    among the workers, which each one ahead of it has as its previous backup. A collective: every worker calls it
    at the same point. Alone (any other strategy) it does nothing.

    Raises:
        OutputDirError: a worker has no backup at that position (on every worker, with each one's positions).
    """
    if not in_multi_worker_mode(strategy):
        return
    own = backup_positions(backup_dir)
    # Each worker's [latest epoch, step, previous epoch, step] (-1 where it has no previous).
    row = [*own[0], *(own[1] if len(own) > 1 else (-1, -1))]
    with reporting_lost_workers(strategy):
        rows = gather_from_workers(strategy, row)
    positions = [[tuple(values[:2])] + ([tuple(values[2:])] if values[2] >= 0 else []) for values in rows]
    roll_back_backup(backup_dir, choose_resume_position(positions))


def choose_resume_position(positions):
    """The position every worker resumes from, given each worker's `backup_positions`: the earliest latest one.

    Raises:
        OutputDirError: a worker has no backup at that position.
    """
    chosen = min(worker[0] for worker in positions)
    if all(chosen in worker for worker in positions):
        return chosen
    have = "; ".join(f"worker {index} has {_positions_text(worker)}" for index, worker in enumerate(positions))
    raise OutputDirError(
        f"--resume: the workers' backups do not meet at epoch {chosen[0]} step {chosen[1]} ({have}); start the run "
        "again in another --output directory"
    )


def _positions_text(positions):
    return " and ".join(f"epoch {epoch} step {step}" for epoch, step in positions)


def _remove_unreferenced(folder, *states):
    keep = {STATE} | {name for state in states if state for name in (state["weights"], state.get("best_weights"))}
    for path in folder.iterdir():
        if path.name not in keep:
            path.unlink(missing_ok=True)


def restore_history(history_path, backup_dir):
    """Makes `history.csv` hold exactly the epochs the backup holds (none without a backup).

    Called before the CSV logger opens the file for appending, on every resume.
    """
    state = read_backup_state(backup_dir)
    rows = state["history"] if state else []
    history_path = Path(history_path)
    if not rows:
        history_path.unlink(missing_ok=True)  # the CSV logger then starts it with its header
        return
    fieldnames = ["epoch", *sorted({key for row in rows for key in row} - {"epoch"})]
    temporary = history_path.with_name(f".{history_path.name}.tmp")
    with open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames, restval="NA")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(temporary, history_path)


class RunBackup(keras.callbacks.BackupAndRestore):
    """Backs up a run at the end of every epoch (or every `every_steps` steps) and restores it on `fit`.

    It must come after `ModelCheckpoint`, `EarlyStopping` and `CSVLogger` in the callback list: at an epoch's end
    it records what they have just done.

    A mid-epoch backup (`every_steps`) resumes inside its epoch: the batches of that epoch the backup already
    holds are read from the data and skipped (not trained on again), so with a data order fixed per epoch the
    resumed run takes the same steps as an uninterrupted one. Keras 3.15's own `BackupAndRestore(save_freq=N)`
    instead restarts the epoch from its first batch with the mid-epoch weights, training those batches twice.
    The train metrics of a resumed epoch average its batches after the resume only (their running sums are not
    in the backup). Dropout's random state and a reshuffled data order are not in the backup either.

    On SIGTERM (see `keras_nn.training.preemption.handle_sigterm`) it writes a backup at the end of the step in
    flight and raises `Preempted`.

    Args:
        backup_dir: the backup folder (`run.backup`).
        every_steps: steps between backups inside an epoch; None: at epoch ends only.
        best_weights: the best checkpoint file `ModelCheckpoint` writes (`run.best_weights`), copied into the
            backup when it changes.
        run_root: the run directory, named in `Preempted`.
        checkpoint: the run's `ModelCheckpoint` (its best value is carried), or None.
        early_stopping: the run's `EarlyStopping` (its state is carried), or None.
    """

    def __init__(self, backup_dir, every_steps=None, best_weights=None, run_root=None, checkpoint=None,
                 early_stopping=None):
        super().__init__(str(backup_dir), save_freq=every_steps or "epoch", delete_checkpoint=False)
        self.folder = Path(backup_dir)
        # Read by tasks that train in phases (keras_nn.training.tasks.image_classification) for the epoch.
        self._training_metadata_path = str(self.folder / STATE)
        self.every_steps = every_steps
        self.best_weights_path = Path(best_weights) if best_weights else None
        self.run_root = run_root
        self.checkpoint = checkpoint
        self.early_stopping = early_stopping
        self.history_rows = []
        self.seconds_before = 0.0
        self.started = time.perf_counter()
        self.epoch = 0
        self.step = 0
        self.best_copy = None
        self.stopped_early = False
        self._skip = 0
        self._skip_epoch = None
        self._real_train_function = None
        self._saves = 0
        self._best_copied = None
        self._skipped_through = 0
        self._latest = None  # the state of the last backup: the next one keeps it as its previous

    # ----------------------------------------------------------------------------------------------- restore

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()
        state = read_backup_state(self.folder)
        if state is None:
            self._latest = None
            return
        self._latest = {key: value for key, value in state.items() if key != "previous"}
        self.model.load_weights(self.folder / state["weights"])
        self.model._initial_epoch = state["epoch"]
        self.epoch, self.step = state["epoch"], state["step"]
        self._skip_epoch, self._skip = state["epoch"], state["step"]
        self.history_rows = list(state["history"])
        self.seconds_before = state["train_seconds"]
        self.stopped_early = state.get("stopped_early", False)
        self.best_copy = state.get("best_weights")
        self._saves = state.get("saves", 0)
        self._best_copied = state.get("callbacks", {}).get("checkpoint", {}).get("best")
        self._restore_callbacks(state.get("callbacks", {}), self.folder / state["weights"])
        steps = self.params.get("steps") if self.params else None
        logger.info(
            "resuming from the backup in %s: epoch %d of %s, step %d%s (%d epoch(s) complete)",
            self.folder, state["epoch"] + 1, self.params.get("epochs", "?") if self.params else "?", state["step"],
            f" of {steps}" if steps else "", len(self.history_rows),
        )

    def _restore_callbacks(self, saved, latest):
        if self.checkpoint is not None and "checkpoint" in saved:
            self.checkpoint.best = _number(saved["checkpoint"]["best"])
        if self.best_copy and self.best_weights_path is not None:
            # A best checkpoint written after the backup belongs to an epoch the resumed run trains again.
            atomic_write_bytes(self.best_weights_path, (self.folder / self.best_copy).read_bytes())
        if self.early_stopping is not None and "early_stopping" in saved:
            carried = saved["early_stopping"]
            stopping = self.early_stopping
            stopping.best = _number(carried["best"])
            stopping.wait = carried["wait"]
            stopping.best_epoch = carried["best_epoch"]
            if stopping.restore_best_weights and carried.get("has_best_weights") and self.best_copy:
                # The best checkpoint holds that epoch's optimizer state too: load it, take the model's weights,
                # then load the backup whole again (set_weights would leave the optimizer at the best epoch's).
                self.model.load_weights(self.folder / self.best_copy)
                stopping.best_weights = self.model.get_weights()
                self.model.load_weights(latest)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.step = epoch, 0
        self._skipped_through = 0
        if epoch == self._skip_epoch and self._skip:
            self._skipped_through = self._skip
            self._real_train_function = self.model.train_function
            self.model.train_function = self._skip_batch
        self._skip_epoch = None

    def _skip_batch(self, iterator):
        for _ in range(self.model.steps_per_execution):
            next(iterator)
        self.step += self.model.steps_per_execution
        if self.step >= self._skip:
            self.model.train_function = self._real_train_function
            self._skip = 0
        return {}

    # ------------------------------------------------------------------------------------------------ backup

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 <= self._skipped_through:
            return
        previous, self.step = self.step, batch + 1
        steps = self.params.get("steps") if self.params else None
        if steps is not None and self.step >= steps:
            return  # the epoch's end comes next, with its own backup
        # Crossing a multiple of every_steps (a call may run several steps: steps_per_execution).
        due = self.every_steps and self.step // self.every_steps > previous // self.every_steps
        if due or stop_requested():
            self._save(self.epoch, self.step)
        if stop_requested():
            raise Preempted(self.run_root, self.epoch, self.step)

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch, **{key: _plain(value) for key, value in (logs or {}).items()}}
        self.history_rows = [r for r in self.history_rows if r["epoch"] < epoch] + [row]
        self.stopped_early = bool(self.model.stop_training)
        self._save(epoch + 1, 0)
        if stop_requested():
            raise Preempted(self.run_root, epoch + 1, 0)

    def on_train_end(self, logs=None):
        pass  # the backup stays: it is what extends a finished run (more `training.epochs`)

    def total_train_seconds(self):
        """Seconds of training over the whole run, the parts before each resume included."""
        return self.seconds_before + time.perf_counter() - self.started

    def _save(self, epoch, step):
        self.folder.mkdir(parents=True, exist_ok=True)
        self._saves += 1
        weights = f"weights-{self._saves}.weights.h5"
        self.model.save_weights(self.folder / weights)
        if self.best_weights_path is not None and self._best_changed(epoch, step):
            self.best_copy = f"best-{self._saves}.weights.h5"
            atomic_write_bytes(self.folder / self.best_copy, self.best_weights_path.read_bytes())
        state = {
            "epoch": epoch,
            "step": step,
            "weights": weights,
            "best_weights": self.best_copy,
            "history": self.history_rows,
            "train_seconds": round(self.total_train_seconds(), 3),
            "stopped_early": self.stopped_early,
            "saves": self._saves,
            "callbacks": self._callback_states(),
        }
        atomic_write_text(self.folder / STATE, json.dumps({**state, "previous": self._latest}, indent=1))
        _remove_unreferenced(self.folder, state, self._latest)
        self._latest = state

    def _best_changed(self, epoch, step):
        """True at the end of an epoch where the best checkpoint was just written (its best value moved)."""
        if step or self.checkpoint is None or not self.best_weights_path.is_file():
            return False
        best = _plain(self.checkpoint.best)
        changed = self.best_copy is None or best != self._best_copied
        self._best_copied = best
        return changed

    def _callback_states(self):
        states = {}
        if self.checkpoint is not None:
            states["checkpoint"] = {"best": _plain(self.checkpoint.best)}
        if self.early_stopping is not None:
            stopping = self.early_stopping
            # A phase that leaves early stopping out (image_classification's frozen phase) never started it.
            states["early_stopping"] = {
                "best": _plain(getattr(stopping, "best", None)),
                "wait": int(stopping.wait),
                "best_epoch": int(getattr(stopping, "best_epoch", 0)),
                "has_best_weights": stopping.best_weights is not None,
            }
        return states


def _plain(value):
    """A log value as JSON takes it: a number (inf/nan as strings), a list of numbers, or its text."""
    if value is None:
        return None
    try:
        array = np.asarray(value, dtype="float64")
    except (TypeError, ValueError):
        return str(value)
    if array.size != 1:
        return [_plain(item) for item in array.ravel()]
    number = float(array.reshape(()))
    return number if np.isfinite(number) else str(number)


def _number(value):
    return None if value is None else float(value)
