"""The fit loop a recipe drives: data, strategy, model, optimizer, callbacks, evaluation and the run's files.

`train` fills a run directory with `config.yaml` (the resolved recipe), `checkpoints/`, `model.keras`,
`history.csv`, `metrics.json`, `curves.png`, TensorBoard `logs/` and the task's report. It does not export and
does not decide where the run lives: `keras_nn.runs` checks the directory, calls `train`, then exports what the
task's export plan says.
"""

import dataclasses
import json
import logging
import math
import shutil
import sys
import time

import keras

from keras_nn.config.recipe import dump_recipe
from keras_nn.files import atomic_write_text, save_model
from keras_nn.training.callbacks import run_backup, standard_callbacks
from keras_nn.training.distributed import (
    in_multi_worker_mode,
    local_copies,
    reporting_lost_workers,
    synchronize_batch_norm,
)
from keras_nn.training.preemption import handle_sigterm
from keras_nn.training.strategy import get_strategy, is_chief, strategy_label
from keras_nn.training.tasks import create_task
from keras_nn.viz import plot_history

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainResult:
    """What `train` hands back: the final metrics, the trained model, its data and the run's task.

    `metrics` is empty on a non-chief worker of a multi-worker run (it writes nothing).
    """

    metrics: dict
    model: keras.Model
    data: object
    task: object


def train(config, run, resume=False, verbose="auto", callbacks=()):
    """Trains the model a resolved recipe describes and fills the run directory.

    Args:
        config: a resolved recipe, its `task_options` included (`keras_nn.runs.load_recipe` gives one).
        run: the `keras_nn.runs.RunDirectory` to fill (checked by the caller: new, or the run to resume).
        resume: continue the interrupted run from its last epoch backup.
        verbose: Keras verbosity; `"auto"` shows a progress bar on a terminal and a line per epoch elsewhere.
        callbacks: extra Keras callbacks.

    Returns:
        A `TrainResult`.
    """
    if not hasattr(run, "history"):
        raise TypeError(
            f"train() takes the run directory as a keras_nn.runs.RunDirectory, not {run!r}; to train a recipe into "
            "a folder (checked, then exported), call keras_nn.runs.train_run(config, output_dir)"
        )
    training = config["training"]
    keras.utils.set_random_seed(training["seed"])
    previous_policy = keras.config.dtype_policy()
    if training["mixed_precision"]:
        keras.config.set_dtype_policy("mixed_float16")
    try:
        strategy = get_strategy(training["strategy"])
        task = create_task(config["task"])
        bundle = task.load_data(config)
        steps_per_epoch = max(math.ceil(bundle.num_examples["train"] / config["data"]["batch_size"]), 1)
        with strategy.scope():
            model = task.build_model(config, bundle)
            if strategy.num_replicas_in_sync > 1:
                synchronize_batch_norm(model)
            task.compile(model, config, steps_per_epoch)
            # Build the optimizer's state now: BackupAndRestore restores into it before the first step.
            model.optimizer.build(model.trainable_variables)

        chief = is_chief(strategy)
        # Non-chief workers of a multi-worker run write their (discarded) copies in a folder of their own.
        writes = run if chief else run.worker(strategy.cluster_resolver.task_id)
        writes.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(writes.config, dump_recipe(config))

        if verbose == "auto":
            verbose = 1 if sys.stdout.isatty() else 2
        # Said once the data and the model are checked: a bad input stays one line.
        logger.info("training with %s over %d replica(s)", strategy_label(strategy), strategy.num_replicas_in_sync)
        started = time.perf_counter()
        run_callbacks = standard_callbacks(writes, training, resume, strategy)
        with reporting_lost_workers(strategy), handle_sigterm():
            history = task.fit(model, bundle, config, callbacks=[*run_callbacks, *callbacks], verbose=verbose)
        train_seconds = time.perf_counter() - started
        # metrics.json counts the whole run, the parts before each --resume included (the backup carries them).
        backup = run_backup(run_callbacks)
        if backup is not None:
            train_seconds = backup.total_train_seconds()
        if not chief:
            # Kept until fit succeeds: its backup is what `--resume` restores on this worker.
            shutil.rmtree(writes.root, ignore_errors=True)
            return TrainResult({}, model, bundle, task)
        if in_multi_worker_mode(strategy):
            # The other workers are gone: evaluate, report, save and export copies that need none of them.
            model = local_copies(model, task, config, steps_per_epoch)

        metrics = evaluate_model(task, model, bundle, config)
        metrics.update(task.report(model, bundle, config, run, metrics))
        metrics.update(
            epochs_trained=len(backup.history_rows) if backup is not None else len(history.epoch),
            train_seconds=round(train_seconds, 2),
            num_parameters=int(model.count_params()),
            strategy=strategy_label(strategy),
            replicas=int(strategy.num_replicas_in_sync),
        )
        save_model(model, run.model)
        plot_history(run.history, run.curves, title=f"{config['model']['name']} on {bundle.source}")
        atomic_write_text(run.metrics, json.dumps(metrics, indent=2))
    finally:
        keras.config.set_dtype_policy(previous_policy)
    return TrainResult(metrics, model, bundle, task)


def evaluate_model(task, model, bundle, config):
    """The task's validation and test metrics, and whether the recipe's expected result was met."""
    metrics = task.evaluate(model, bundle, config)
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
