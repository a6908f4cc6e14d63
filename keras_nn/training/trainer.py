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

from keras_nn.data import load_dataset
from keras_nn.errors import ConfigError, MissingPathError, ModelFileError, OutputDirError
from keras_nn.models import create_model
from keras_nn.schedules import build_schedule
from keras_nn.training import recipe as recipes
from keras_nn.training.callbacks import standard_callbacks, tidy_history
from keras_nn.training.strategy import get_strategy, is_chief
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
    """The `DatasetBundle` a resolved recipe describes."""
    data = config["data"]
    return load_dataset(
        data["source"],
        form=data["form"],
        batch_size=data["batch_size"],
        image_size=data["image_size"],
        data_dir=data["data_dir"],
        validation_fraction=data["validation_fraction"],
        test_fraction=data["test_fraction"],
        seed=config["training"]["seed"],
        cache=data["cache"],
        shuffle_buffer=data["shuffle_buffer"],
        label_column=data["label_column"],
        timesteps=data["timesteps"],
    )


def build_model(config, bundle):
    """Creates the recipe's model with `num_classes` and the input shape taken from the data."""
    arguments = {key: value for key, value in config["model"].items() if key != "name"}
    arguments.setdefault("num_classes", bundle.num_classes)
    if bundle.form == "text":
        raise ConfigError(
            f"data {bundle.source!r} is raw text; this recipe's model {config['model']['name']!r} needs "
            "numbers (text vectorization arrives with the sequence recipes)"
        )
    arguments.setdefault("input_shape", tuple(bundle.input_shape))
    return create_model(config["model"]["name"], **arguments)


def build_optimizer(config, steps_per_epoch):
    section = config["optimizer"]
    learning_rate = build_schedule(
        config["schedule"], section["learning_rate"], steps_per_epoch, config["training"]["epochs"]
    )
    common = {"learning_rate": learning_rate, "clipnorm": section["clipnorm"]}
    name = section["name"]
    if name == "adam":
        return keras.optimizers.Adam(**common, weight_decay=section["weight_decay"])
    if name == "adamw":
        return keras.optimizers.AdamW(**common, weight_decay=section["weight_decay"] or 0.004)
    if name == "sgd":
        return keras.optimizers.SGD(**common, momentum=section["momentum"], weight_decay=section["weight_decay"])
    return keras.optimizers.RMSprop(**common, weight_decay=section["weight_decay"])


def compile_model(model, config, steps_per_epoch):
    """Compiles with the recipe's optimizer, cross-entropy (label smoothing optional) and accuracy."""
    training = config["training"]
    from_logits = getattr(model, "classifier_activation", "softmax") is None
    if training["label_smoothing"]:
        loss = keras.losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=training["label_smoothing"])
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(
        optimizer=build_optimizer(config, steps_per_epoch),
        loss=loss,
        metrics=metrics,
        jit_compile=True if training["xla"] else "auto",
        steps_per_execution=training["steps_per_execution"],
    )


def _labels_for_loss(dataset, config, num_classes):
    if not config["training"]["label_smoothing"] or dataset is None:
        return dataset
    import tensorflow as tf

    return dataset.map(lambda x, y: (x, tf.one_hot(y, num_classes)), num_parallel_calls=tf.data.AUTOTUNE)


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
        bundle = load_data(config)
        steps_per_epoch = max(math.ceil(bundle.num_examples["train"] / config["data"]["batch_size"]), 1)
        with strategy.scope():
            model = build_model(config, bundle)
            compile_model(model, config, steps_per_epoch)
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
        history = model.fit(
            _labels_for_loss(bundle.train, config, bundle.num_classes),
            validation_data=_labels_for_loss(bundle.validation, config, bundle.num_classes),
            epochs=training["epochs"],
            callbacks=[*standard_callbacks(write_dir, training, resume), *callbacks],
            verbose=verbose,
            shuffle=False,  # the tf.data pipeline shuffles
        )
        train_seconds = time.perf_counter() - started
        if not chief:
            shutil.rmtree(write_dir, ignore_errors=True)
            return RunResult(run_dir, {}, model, bundle)

        tidy_history(run_dir / "history.csv")
        metrics = evaluate_model(model, bundle, config)
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
        from keras_nn.export import export_run

        export_run(run_dir, model=model, bundle=bundle, config=config)
    return RunResult(run_dir, metrics, model, bundle)


def evaluate_model(model, bundle, config):
    """Test (and validation) loss and accuracy, and whether the recipe's expected result was met."""
    metrics = {}
    for split, dataset in (("val", bundle.validation), ("test", bundle.test)):
        if dataset is None:
            continue
        values = model.evaluate(_labels_for_loss(dataset, config, bundle.num_classes), verbose=0, return_dict=True)
        metrics.update({f"{split}_{name}": round(float(value), 6) for name, value in values.items()})
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
