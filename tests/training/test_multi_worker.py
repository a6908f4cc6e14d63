"""Training that really distributes: two worker processes on localhost (MultiWorkerMirroredStrategy, TF_CONFIG),
two logical CPU devices in one process (MirroredStrategy, the stand-in for a multi-GPU machine), and the
`--workers` launcher, each against a single-process run with the same global batch.

The recipes are tiny (a few batches of digits, 2 epochs) and read the data in order (`data.shuffle_buffer=1`:
Keras's symbolic build opens one extra iterator under a strategy, so a reshuffling pipeline would give the
distributed run the next epoch's order), without dropout, so the runs differ only by how the batch is split.
The same worker pair then trains the models whose `train_step` is their own (the DCGAN's two optimizers, the
RBM's contrastive divergence) and the deep belief net's layer-wise pretraining: they draw random numbers per
replica, so they are checked for agreement between the workers, not against one process.
"""

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from keras_nn.runs.launch import worker_tf_configs
from keras_nn.training import read_backup_state

pytestmark = pytest.mark.slow

# 336 training images: 5 batches of 64 and one of 16, which splits evenly over two replicas (the mean of two
# unequal halves' means is not the batch's mean: 359 images, a last batch of 20 + 19, end 2.4e-4 apart).
COMMON = [
    "training.epochs=2",
    "export.formats=[]",
    "data.batch_size=64",
    "data.shuffle_buffer=1",
    "data.validation_fraction=0.25",
    "data.test_fraction=0.75",
    "model.dropout=0.0",
]
RECIPES = {
    "cnn": ("digits_cnn", [*COMMON, "model.filters=[8, 16]", "model.dense_units=16"]),
    "lstm": ("digits_lstm", [*COMMON, "model.units=8"]),
}
# One epoch on a fifth of the digits, no export, the reports' extras off. Their recipes' steps_per_execution (20, 64,
# 8) becomes 1 under two workers (`keras_nn.training.distributed.steps_per_execution`); with more, the first step fails.
TINY = ["training.epochs=1", "export.formats=[]", "data.test_fraction=0.8"]
OWN_TRAIN_STEP = {
    "gan": ("dcgan_digits", [*TINY, "model.base_filters=8", "model.latent_dim=8", "task_options.score_samples=20",
                             "task_options.score_splits=1", "task_options.scorer_epochs=1",
                             "task_options.samples_per_epoch=2", "task_options.grid_samples=10"]),
    "rbm": ("rbm_digits", [*TINY, "data.batch_size=64", "model.hidden_units=16", "task_options.gibbs_chains=0",
                           "task_options.filters=0", "task_options.reference=false"]),
    "dbn": ("dbn_pretraining", [*TINY, "model.hidden_units=[16, 8]", "task_options.pretrain.epochs=1",
                                "task_options.pretrain.batch_size=64", "task_options.label_fraction=0.5"]),
}
# Measured against the single-process run: training losses equal (float32), weights within 2.2e-6 (CNN)
# and 3e-8 (LSTM), float sums in another order; the two workers' weights are identical.
LOSS_TOLERANCE = 1e-5
WEIGHT_TOLERANCE = 1e-5

DRIVER = textwrap.dedent(
    """
    import json, os, sys, time
    started = time.perf_counter()
    import numpy as np
    if os.environ.get("LOGICAL_CPUS"):
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * int(os.environ["LOGICAL_CPUS"])
        )
    from keras_nn.runs import load_recipe, train_run
    print(f"imported in {time.perf_counter() - started:.1f} s", flush=True)

    recipes, strategies, root = json.loads(sys.argv[1]), sys.argv[2].split(","), sys.argv[3]
    for strategy in strategies:
        dump = os.path.join(root, os.environ.get("DUMP_NAME", strategy))
        results = {}
        for key, (name, overrides) in recipes.items():
            started = time.perf_counter()
            config = load_recipe(name, [*overrides, f"training.strategy={strategy}"])
            result = train_run(config, os.path.join(root, strategy, key), verbose=0, export=False)
            print(f"trained {key} under {strategy} in {time.perf_counter() - started:.1f} s", flush=True)
            np.savez(f"{dump}-{key}.npz", *result.model.get_weights())
            results[key] = {"metrics": result.metrics}
        with open(f"{dump}.json", "w") as handle:
            json.dump(results, handle)
    """
)


def _environment(**extra):
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", **extra}


def _start(root, recipes, strategies, **environment):
    """A process training `recipes` under each of `strategies` in turn; its files go under `root`."""
    driver = root / "driver.py"
    driver.write_text(DRIVER)
    return subprocess.Popen(
        [sys.executable, str(driver), json.dumps(recipes), ",".join(strategies), str(root)],
        env=_environment(**environment),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process, timeout=300):
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-3000:]
    return output


def _weights(path):
    with np.load(path) as arrays:
        return [arrays[key] for key in sorted(arrays.files, key=lambda name: int(name.split("_")[1]))]


def _max_difference(first, second):
    return max(float(np.max(np.abs(a - b))) for a, b in zip(first, second, strict=True))


def _history(run_dir):
    with open(Path(run_dir) / "history.csv") as handle:
        return list(csv.DictReader(handle))


def _history_loss(run_dir):
    return [float(row["loss"]) for row in _history(run_dir)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The two-worker pair, and beside it one process with two logical CPUs training the single-device reference
    (TensorFlow's default strategy, on the first CPU device) and then the two-device mirrored run."""
    root = tmp_path_factory.mktemp("distributed")
    started = {"local": _start(root, RECIPES, ["one_device", "mirrored"], LOGICAL_CPUS="2")}
    for index, tf_config in enumerate(worker_tf_configs(2)):
        started[f"worker{index}"] = _start(
            root, {**RECIPES, **OWN_TRAIN_STEP}, ["multi_worker"], TF_CONFIG=tf_config, DUMP_NAME=f"worker{index}"
        )
    logs = {name: _finish(process) for name, process in started.items()}
    return root, logs


@pytest.mark.parametrize("key", sorted(RECIPES))
def test_two_workers_match_one_process(runs, key):
    root, _ = runs
    reference = _weights(root / f"one_device-{key}.npz")
    chief, other = _weights(root / f"worker0-{key}.npz"), _weights(root / f"worker1-{key}.npz")
    assert _max_difference(chief, other) == 0.0  # mirrored variables: the workers hold the same model
    assert _max_difference(chief, reference) < WEIGHT_TOLERANCE
    np.testing.assert_allclose(
        _history_loss(root / "multi_worker" / key), _history_loss(root / "one_device" / key), rtol=LOSS_TOLERANCE
    )
    summary = json.loads((root / "worker0.json").read_text())[key]
    assert summary["metrics"]["strategy"] == "MultiWorkerMirroredStrategy" and summary["metrics"]["replicas"] == 2
    assert json.loads((root / "worker1.json").read_text())[key]["metrics"] == {}  # the other worker wrote nothing
    # Written once, by the chief: no worker folder left, and the chief's model is the trained one.
    run_dir = root / "multi_worker" / key
    assert not list(run_dir.glob(".worker-*"))
    assert (run_dir / "model.keras").is_file() and (run_dir / "metrics.json").is_file()
    # The chief's backup stays (a later --resume with more epochs extends the run from it), with both epochs.
    assert len(read_backup_state(run_dir / "checkpoints" / "backup")["history"]) == 2


@pytest.mark.parametrize("key", sorted(RECIPES))
def test_mirrored_over_two_cpu_devices_matches_one_device(runs, key):
    root, _ = runs
    summary = json.loads((root / "mirrored.json").read_text())[key]
    assert summary["metrics"]["strategy"] == "MirroredStrategy" and summary["metrics"]["replicas"] == 2
    assert _max_difference(_weights(root / f"mirrored-{key}.npz"), _weights(root / f"one_device-{key}.npz")) < (
        WEIGHT_TOLERANCE
    )
    np.testing.assert_allclose(
        _history_loss(root / "mirrored" / key), _history_loss(root / "one_device" / key), rtol=LOSS_TOLERANCE
    )


@pytest.mark.parametrize("key", sorted(OWN_TRAIN_STEP))
def test_own_train_steps_and_pretraining_train_on_two_workers(runs, key):
    root, _ = runs
    chief, other = _weights(root / f"worker0-{key}.npz"), _weights(root / f"worker1-{key}.npz")
    assert _max_difference(chief, other) == 0.0
    metrics = json.loads((root / "worker0.json").read_text())[key]["metrics"]
    assert metrics["strategy"] == "MultiWorkerMirroredStrategy" and metrics["replicas"] == 2
    assert json.loads((root / "worker1.json").read_text())[key]["metrics"] == {}
    run_dir = root / "multi_worker" / key
    (row,) = _history(run_dir)
    assert np.isfinite(float(row["loss"])), row
    assert (run_dir / "model.keras").is_file() and not list(run_dir.glob(".worker-*"))
    if key == "dbn":
        assert metrics["pretrained"] is True and (run_dir / "pretrained" / "rbm_2.keras").is_file()
