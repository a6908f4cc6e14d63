"""The callbacks every run gets: backup for `--resume`, best checkpoint, history CSV, TensorBoard,
early stopping when the recipe asks for it."""

import csv
import os

import keras


def standard_callbacks(run, training_config, resume=False):
    """Builds the run's callbacks, writing only inside the run directory.

    Args:
        run: the `keras_nn.runs.RunDirectory` (its checkpoints, history and logs paths).
        training_config: the recipe's resolved `training` section.
        resume: append to an existing history instead of starting it anew.

    Returns:
        A list of Keras callbacks. `BackupAndRestore` comes first so that an epoch's backup is on disk before
        anything else records that epoch; it keeps the previous backup too (`double_checkpoint`), so a crash
        while writing one never loses the epoch before.
    """
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run.backup), double_checkpoint=True),
        keras.callbacks.ModelCheckpoint(
            str(run.best_weights),
            monitor="val_loss",
            save_best_only=True,
            save_weights_only=True,
        ),
        keras.callbacks.CSVLogger(str(run.history), append=resume),
        keras.callbacks.TensorBoard(str(run.logs), write_graph=False),
    ]
    patience = training_config.get("early_stopping_patience")
    if patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
        )
    return callbacks


def tidy_history(path):
    """Keeps one row per epoch (the last written) in a history CSV appended to across a resume.

    An interruption between the CSV row and the next backup makes the resumed run redo that epoch and
    write its row again.
    """
    if not os.path.exists(path):
        return
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return
    by_epoch = {int(row["epoch"]): row for row in rows}
    fieldnames = list(rows[-1].keys())
    temporary = f"{path}.tmp"
    with open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(by_epoch[epoch] for epoch in sorted(by_epoch))
    os.replace(temporary, path)
