"""Picks the `tf.distribute` strategy a run trains under, from `--strategy` and the hardware present."""

import json
import os

import tensorflow as tf

from keras_nn.config.vocabulary import STRATEGIES
from keras_nn.errors import ConfigError
from keras_nn.training.distributed import KerasMultiWorkerMirroredStrategy


def _worker_count():
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    except json.JSONDecodeError as error:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({error}); fix or unset it") from None
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def resolve_strategy_name(name="auto"):
    """The concrete strategy `auto` stands for here: several workers in TF_CONFIG -> `multi_worker`,
    more than one local GPU -> `mirrored`, else `one_device` (the GPU if there is one, else the CPU, where
    `get_strategy` gives TensorFlow's default strategy).
    TPUs are only used when asked for, because finding one needs a cluster resolver round trip."""
    if name not in STRATEGIES:
        raise ConfigError(f"strategy {name!r} is not known; choose one of: {', '.join(STRATEGIES)}")
    if name != "auto":
        return name
    if _worker_count() > 1:
        return "multi_worker"
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return "mirrored"
    return "one_device"


# One strategy of each kind per process: a second MirroredStrategy or MultiWorkerMirroredStrategy would start its
# collective keys again and clash with the first's (runs of an experiment, or several runs in one process, fail with
# "Shape mismatch in the collective instance").
_BUILT = {}


def get_strategy(name="auto"):
    """Builds the strategy for `name` (see `resolve_strategy_name`).

    Args:
        name: `auto`, `one_device`, `mirrored` (all local GPUs), `multi_worker` (`TF_CONFIG` describes the
            cluster), or `tpu` (`TPU_NAME` or a local TPU).

    Returns:
        A `tf.distribute.Strategy`. Build and compile the model inside `strategy.scope()`.
    """
    name = resolve_strategy_name(name)
    key = (name, os.environ.get("TF_CONFIG", ""), os.environ.get("TPU_NAME", ""))
    if key not in _BUILT:
        _BUILT[key] = _build_strategy(name)
    return _BUILT[key]


def _build_strategy(name):
    if name == "one_device" and not tf.config.list_physical_devices("GPU"):
        # On a machine whose one device is the CPU, TensorFlow's default strategy places everything where
        # OneDeviceStrategy("/cpu:0") would, and skips its input pipeline, whose GeneratorDataset makes tf.data log
        # "will not be optimized" at every epoch (a plain Keras fit under OneDeviceStrategy("/cpu:0") logs it too).
        strategy = tf.distribute.get_strategy()
    elif name == "one_device":
        strategy = tf.distribute.OneDeviceStrategy("/gpu:0")
    elif name == "mirrored":
        strategy = tf.distribute.MirroredStrategy(_mirrored_devices())
    elif name == "multi_worker":
        if _worker_count() < 1:
            raise ConfigError(
                "strategy 'multi_worker' needs TF_CONFIG with a cluster of workers "
                '(e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", '
                '"index": 0}}); set it on every worker'
            )
        strategy = KerasMultiWorkerMirroredStrategy()
    else:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=os.environ.get("TPU_NAME", ""))
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        strategy = tf.distribute.TPUStrategy(resolver)
    return strategy


def _mirrored_devices():
    """Every local GPU; without one, every logical CPU device (several only when the process split its CPU with
    `tf.config.set_logical_device_configuration`, the stand-in for a multi-GPU machine), else None (the CPU)."""
    if tf.config.list_physical_devices("GPU"):
        return None
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    return cpus if len(cpus) > 1 else None


def strategy_label(strategy):
    """The strategy's class name as `tf.distribute` exports it: `DefaultStrategy` for TensorFlow's default (no
    distribution: one CPU), `MultiWorkerMirroredStrategy` for keras-nn's (`KerasMultiWorkerMirroredStrategy`)."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "MultiWorkerMirroredStrategy"
    name = type(strategy).__name__
    return "DefaultStrategy" if name == "_DefaultDistributionStrategy" else name


def is_chief(strategy):
    """True on the worker that writes the run directory (the only worker outside multi-worker runs)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()
    )
