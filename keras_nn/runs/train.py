"""Train, then export: a whole run of a recipe into its run directory.

Everything that can be checked (the recipe, its task options, the run directory, the model name and arguments,
the data source) is checked before a file is written, so a bad run leaves nothing behind.
"""

import dataclasses
from pathlib import Path

import keras

from keras_nn.errors import ConfigError, OutputDirError
from keras_nn.runs.export import export_trained_run
from keras_nn.runs.recipes import read_run_recipe, resolve_recipe
from keras_nn.runs.run_directory import RunDirectory
from keras_nn.training import train


@dataclasses.dataclass
class RunResult:
    """What a run hands back: the run directory, the final metrics, the trained model, its data and the export
    (an `ExportReport`, or None when the recipe exports nothing)."""

    run_dir: Path
    metrics: dict
    model: keras.Model
    data: object
    export: object = None


def check_run_directory(run, config, resume):
    """Checks, without writing, that `run` can take this run; returns the recipe to train with.

    A new run needs a missing or empty directory. `resume` needs the directory of an earlier run of the same
    recipe (only `training.epochs` may differ, to extend a run); it trains with that run's config.yaml.
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
            if (section, key) != ("training", "epochs") and previous.get(section, {}).get(key) != value
        ]
        if mismatch:
            raise ConfigError(
                f"--resume: the recipe differs from the one in {str(run.config)!r} at {', '.join(mismatch)}; resume "
                "with the same recipe, or start a new run in another --output directory"
            )
        previous["training"]["epochs"] = config["training"]["epochs"]
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
        resume: continue the interrupted run in `output_dir` from its last epoch backup.
        verbose: Keras verbosity; `"auto"` shows a progress bar on a terminal and a line per epoch elsewhere.
        callbacks: extra Keras callbacks.
        export: write the recipe's export targets after training (`export.formats`; none: no export).

    Returns:
        A `RunResult`.
    """
    run = output_dir if isinstance(output_dir, RunDirectory) else RunDirectory(output_dir)
    config = check_run_directory(run, resolve_recipe(config), resume)
    result = train(config, run, resume=resume, verbose=verbose, callbacks=callbacks)
    report = None
    if export and result.metrics and config["export"]["formats"]:
        report = export_trained_run(run, result.task, result.model, result.data, config)
    return RunResult(run.root, result.metrics, result.model, result.data, report)
