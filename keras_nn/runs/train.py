"""Train, then export: a whole run of a recipe into its run directory.

Everything that can be checked (the recipe, its task options, the run directory, the model name and arguments,
the data source) is checked before a file is written, so a bad run leaves nothing behind.
"""

import dataclasses
import json
import logging
from pathlib import Path

import keras

from keras_nn.errors import ConfigError, OutputDirError
from keras_nn.runs.export import export_trained_run
from keras_nn.runs.recipes import read_run_recipe, resolve_recipe
from keras_nn.runs.run_directory import RunDirectory
from keras_nn.training import read_backup_state, train

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class RunResult:
    """What a run hands back: the run directory, the final metrics, the trained model, its data and the export
    (an `ExportReport`, or None when the recipe exports nothing)."""

    run_dir: Path
    metrics: dict
    model: keras.Model
    data: object
    export: object = None
    complete: bool = False  # `--resume` found the run already finished and left it untouched (no model loaded)


# What `--resume` may change in a run's recipe.
RESUMABLE_CHANGES = (("training", "epochs"), ("training", "backup_every_steps"))


def finished_run_metrics(run, config):
    """The metrics of a finished run that `config` does not extend, with why it is complete; None when there is
    training left to do.

    A run is finished once its metrics.json is written. `--resume` extends it when `training.epochs` grew past
    the epochs its backup holds and early stopping did not end it; otherwise the run is complete.

    Returns:
        None, or `(metrics, reason)`: the run's metrics.json and a phrase saying why nothing is left to do.
    """
    if not run.metrics.is_file():
        return None
    state = read_backup_state(run.backup)
    if state is None:
        reason = "it has no backup to extend from"
    elif state["stopped_early"]:
        reason = "early stopping ended it"
    elif config["training"]["epochs"] > state["epoch"]:
        return None
    else:
        reason = "raise training.epochs to extend it"
    return json.loads(run.metrics.read_text()), reason


def check_run_directory(run, config, resume):
    """Checks, without writing, that `run` can take this run; returns the recipe to train with.

    A new run needs a missing or empty directory. `resume` needs the directory of an earlier run of the same
    recipe (only `training.epochs`, to extend a run, and `training.backup_every_steps` may differ); it trains
    with that run's config.yaml.
    """
    if resume:
        if not run.config.is_file():
            raise OutputDirError(
                f"--resume: {str(run.root)!r} holds no {run.config.name} from an earlier run; drop --resume"
            )
        previous = read_run_recipe(run)
        mismatch = [
            f"{section}.{key}"
            for section, values in config.items()
            if isinstance(values, dict)
            for key, value in values.items()
            if (section, key) not in RESUMABLE_CHANGES and previous.get(section, {}).get(key) != value
        ]
        if mismatch:
            raise ConfigError(
                f"--resume: the recipe differs from the one in {str(run.config)!r} at {', '.join(mismatch)}; resume "
                "with the same recipe, or start a new run in another --output directory"
            )
        for section, key in RESUMABLE_CHANGES:
            previous[section][key] = config[section][key]
        return previous
    if not run.is_empty():
        raise OutputDirError(
            f"output directory {str(run.root)!r} is not empty; pass --resume to continue that run or choose "
            "another --output"
        )
    return config


def train_run(config, output_dir, resume=False, verbose="auto", callbacks=(), export=True):
    """Trains the model a recipe describes into `output_dir`, then exports what the recipe asks for.

    Args:
        config: a recipe mapping (resolved here; `keras_nn.runs.load_recipe` gives one from a file or name).
        output_dir: the run directory (created; must be empty unless `resume`).
        resume: continue the interrupted run in `output_dir` from its last backup; a finished run is left
            untouched (`complete` in the result) unless `training.epochs` grew, which trains the added epochs
            from the last one's weights and optimizer state and exports again.
        verbose: Keras verbosity; `"auto"` shows a progress bar on a terminal and a line per epoch elsewhere.
        callbacks: extra Keras callbacks.
        export: write the recipe's export targets after training (`export.formats`; none: no export).

    Returns:
        A `RunResult`.
    """
    run = output_dir if isinstance(output_dir, RunDirectory) else RunDirectory(output_dir)
    config = check_run_directory(run, resolve_recipe(config), resume)
    if resume:
        finished = finished_run_metrics(run, config)
        if finished is not None:
            metrics, reason = finished
            logger.info(
                "run %s is complete (%s epoch(s)); nothing was changed (%s)",
                run.root, metrics.get("epochs_trained", "?"), reason,
            )
            return RunResult(run.root, metrics, None, None, None, complete=True)
        if run.metrics.is_file():
            logger.info("extending the finished run %s to %d epochs", run.root, config["training"]["epochs"])
    result = train(config, run, resume=resume, verbose=verbose, callbacks=callbacks)
    report = None
    if export and result.metrics and config["export"]["formats"]:
        report = export_trained_run(run, result.task, result.model, result.data, config)
    return RunResult(run.root, result.metrics, result.model, result.data, report)
