"""The callbacks every run gets: best checkpoint, history CSV, TensorBoard, early stopping when the recipe asks
for it, and the backup for `--resume` (`keras_nn.training.resumable_callbacks.RunBackup`)."""

import keras

from keras_nn.training.resumable_callbacks import RunBackup, agree_on_backup, restore_history


def standard_callbacks(run, training_config, resume=False, strategy=None):
    """Builds the run's callbacks, writing only inside the run directory.

    Args:
        run: the `keras_nn.runs.RunDirectory` (its checkpoints, history and logs paths).
        training_config: the recipe's resolved `training` section (`backup_every_steps`,
            `early_stopping_patience`).
        resume: continue the run: `history.csv` is first cut back to the epochs its backup holds.
        strategy: the run's strategy; with several workers, resuming first makes them agree on one backup
            (`keras_nn.training.resumable_callbacks.agree_on_backup`, a collective).

    Returns:
        A list of Keras callbacks. The backup (`RunBackup`) comes last, so that at an epoch's end it records what
        the checkpoint, early stopping and history callbacks have just done; see
        `keras_nn.training.resumable_callbacks` for why history.csv and the backup always agree.
    """
    if resume:
        agree_on_backup(run.backup, strategy)
        restore_history(run.history, run.backup)
    checkpoint = keras.callbacks.ModelCheckpoint(
        str(run.best_weights),
        monitor="val_loss",
        save_best_only=True,
        save_weights_only=True,
    )
    callbacks = [
        checkpoint,
        keras.callbacks.CSVLogger(str(run.history), append=resume),
        keras.callbacks.TensorBoard(str(run.logs), write_graph=False),
    ]
    early_stopping = None
    patience = training_config.get("early_stopping_patience")
    if patience:
        early_stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
        callbacks.append(early_stopping)
    callbacks.append(
        RunBackup(
            run.backup,
            every_steps=training_config.get("backup_every_steps"),
            best_weights=run.best_weights,
            run_root=run.root,
            checkpoint=checkpoint,
            early_stopping=early_stopping,
        )
    )
    return callbacks


def run_backup(callbacks):
    """The `RunBackup` among `callbacks` (None without one)."""
    return next((callback for callback in callbacks if isinstance(callback, RunBackup)), None)
