"""The fit loop a recipe drives: data, strategy, model, optimizer, callbacks, evaluation, run directory.

A run directory holds `config.yaml` (the resolved recipe), `checkpoints/`, `model.keras`, `history.csv`,
`metrics.json`, `curves.png`, TensorBoard `logs/` and, when the recipe lists export formats, `export/`.
Everything that can be checked (recipe, model name and arguments, data source) is checked before the
directory is created, so a bad run leaves nothing behind.
"""

import dataclasses
import json
import logging
import math
import os
import shutil
import sys
import time
import zipfile
from pathlib import Path

import keras
import yaml

from keras_nn.errors import ConfigError, MissingPathError, ModelFileError, OutputDirError
from keras_nn.training import recipe as recipes
from keras_nn.training.callbacks import standard_callbacks, tidy_history
from keras_nn.training.strategy import get_strategy, is_chief
from keras_nn.training.tasks import get_task
from keras_nn.viz import plot_history

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class RunResult:
    """What `train` hands back: the run directory, the final metrics, the trained model and its data."""

    run_dir: Path
    metrics: dict
    model: keras.Model
    data: object


def load_data(config):
    """The `DatasetBundle` a resolved recipe describes (through its task)."""
    return get_task(config["task"]).load_data(config)


def build_model(config, bundle):
    """The recipe's model for its data (through its task)."""
    return get_task(config["task"]).build_model(config, bundle)


def check_run_dir(run_dir, config, resume):
    """Checks, without writing, that `run_dir` can take this run; returns the recipe to train with.

    A new run needs a missing or empty directory. `resume` needs the directory of an earlier run of the same
    recipe (only `training.epochs` may differ, to extend a run); it trains with that run's config.yaml.
    """
    run_dir = Path(run_dir)
    saved = run_dir / "config.yaml"
    if resume:
        if not saved.is_file():
            raise OutputDirError(f"--resume: {str(run_dir)!r} holds no config.yaml from an earlier run; drop --resume")
        previous = recipes.validate(yaml.safe_load(saved.read_text()))
        mismatch = [
            f"{section}.{key}"
            for section, values in config.items()
            if isinstance(values, dict)
            for key, value in values.items()
            if (section, key) != ("training", "epochs") and previous.get(section, {}).get(key) != value
        ]
        if mismatch:
            raise ConfigError(
                f"--resume: the recipe differs from the one in {str(saved)!r} at {', '.join(mismatch)}; resume with "
                "the same recipe, or start a new run in another --output directory"
            )
        previous["training"]["epochs"] = config["training"]["epochs"]
        return previous
    if run_dir.exists() and any(run_dir.iterdir()):
        raise OutputDirError(
            f"output directory {str(run_dir)!r} is not empty; pass --resume to continue that run or choose "
            "another --output"
        )
    return config


def _atomic_write_text(path, text):
    temporary = Path(f"{path}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def save_model(model, path):
    """Saves a `.keras` file by writing a temporary file and renaming it, so no half-written model remains."""
    temporary = Path(path).with_name(f".{Path(path).stem}.tmp.keras")
    model.save(temporary)
    os.replace(temporary, path)


def train(config, output_dir, resume=False, verbose="auto", callbacks=(), export=True):
    """Trains the model a resolved recipe describes and fills the run directory.

    Args:
        config: a recipe mapping (validated here; `recipe.load_recipe` gives one from a file or name).
        output_dir: the run directory (created; must be empty unless `resume`).
        resume: continue the interrupted run in `output_dir` from its last epoch backup.
        verbose: Keras verbosity; `"auto"` shows a progress bar on a terminal and a line per epoch elsewhere.
        callbacks: extra Keras callbacks.
        export: write the recipe's export targets after training.

    Returns:
        A `RunResult`.
    """
    config = check_run_dir(output_dir, recipes.validate(config), resume)
    training = config["training"]
    run_dir = Path(output_dir)
    keras.utils.set_random_seed(training["seed"])
    previous_policy = keras.config.dtype_policy()
    if training["mixed_precision"]:
        keras.config.set_dtype_policy("mixed_float16")
    try:
        strategy = get_strategy(training["strategy"])
        task = get_task(config["task"])
        bundle = task.load_data(config)
        steps_per_epoch = max(math.ceil(bundle.num_examples["train"] / config["data"]["batch_size"]), 1)
        with strategy.scope():
            model = task.build_model(config, bundle)
            task.compile(model, config, steps_per_epoch)
            # Build the optimizer's state now: BackupAndRestore restores into it before the first step.
            model.optimizer.build(model.trainable_variables)

        chief = is_chief(strategy)
        # Non-chief workers of a multi-worker run write their (discarded) copies in a folder of their own.
        write_dir = run_dir if chief else run_dir / f".worker-{strategy.cluster_resolver.task_id}"
        write_dir.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(write_dir / "config.yaml", recipes.dump_recipe(config))

        if verbose == "auto":
            verbose = 1 if sys.stdout.isatty() else 2
        started = time.perf_counter()
        history = task.fit(
            model,
            bundle,
            config,
            callbacks=[*standard_callbacks(write_dir, training, resume), *callbacks],
            verbose=verbose,
        )
        train_seconds = time.perf_counter() - started
        if not chief:
            shutil.rmtree(write_dir, ignore_errors=True)
            return RunResult(run_dir, {}, model, bundle)

        tidy_history(run_dir / "history.csv")
        metrics = evaluate_model(model, bundle, config)
        metrics.update(task.report(model, bundle, config, run_dir, metrics))
        metrics.update(
            epochs_trained=len(history.epoch),
            train_seconds=round(train_seconds, 2),
            num_parameters=int(model.count_params()),
            strategy=type(strategy).__name__,
            replicas=int(strategy.num_replicas_in_sync),
        )
        save_model(model, run_dir / "model.keras")
        plot_history(run_dir / "history.csv", run_dir / "curves.png", title=f"{config['model']['name']} on {bundle.source}")
        _atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2))
    finally:
        keras.config.set_dtype_policy(previous_policy)

    if export and config["export"]["formats"]:
        task.export(run_dir, model, bundle, config)
    return RunResult(run_dir, metrics, model, bundle)


def evaluate_model(model, bundle, config):
    """The task's validation and test metrics, and whether the recipe's expected result was met."""
    metrics = get_task(config["task"]).evaluate(model, bundle, config)
    expected = config["expected"]
    if expected["min"] is not None:
        value = metrics.get(expected["metric"])
        metrics["expected"] = {
            "metric": expected["metric"],
            "min": expected["min"],
            "value": value,
            "met": value is not None and value >= expected["min"],
        }
    return metrics


def load_model_file(path):
    """Loads a `.keras` file, turning a missing or unreadable file into a one-line keras-nn error."""
    path = Path(path)
    if not path.is_file():
        raise MissingPathError(f"model file {str(path)!r} does not exist")
    if path.suffix != ".keras":
        raise ModelFileError(f"{str(path)!r} is not a .keras file; give the model.keras of a run")
    try:
        return keras.saving.load_model(path)
    except (ValueError, OSError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise ModelFileError(
            f"cannot read model file {str(path)!r}: it is corrupted or not a Keras 3 .keras file "
            f"({type(error).__name__}); re-export it from its run or retrain"
        ) from None


def load_run(run_dir):
    """The trained model and resolved recipe of a finished run directory."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise MissingPathError(f"run directory {str(run_dir)!r} does not exist")
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise MissingPathError(f"{str(run_dir)!r} is not a run directory: it has no config.yaml")
    config = recipes.validate(yaml.safe_load(config_path.read_text()))
    return load_model_file(run_dir / "model.keras"), config
