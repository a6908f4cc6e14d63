"""Multi-worker training with Keras 3's `fit`: the `MultiWorkerMirroredStrategy` the trainer builds, and the local
copy of a trained model that the chief evaluates, reports on and exports alone.

Keras 3.15's TensorFlow trainer calls `Strategy.reduce` in two ways that `MultiWorkerMirroredStrategy` rejects once
a second worker is in the cluster (keras-team/keras#20585, tensorflow/tensorflow#72388):

- `_maybe_symbolic_build` (the start of `fit` and `evaluate`) reduces the first batch, a tuple of `PerReplica`
  values, with `axis=None`; `Strategy.reduce` takes one value, not a nest ("TODO: support `value` being a nest" in
  TensorFlow), and the collective path tries to convert the tuple to a tensor: `ValueError: Attempt to convert a
  value (PerReplica:{...})`.
- `reduce_per_replica` reduces every scalar metric of a step with `axis=0` on a multi-worker strategy: `Invalid
  reduction dimension 0 for input with 0 dimensions`.

`KerasMultiWorkerMirroredStrategy` hands the symbolic build this worker's own first batch (it reads the shapes and
dtypes alone, and the workers' first batches may differ in length), reduces any other nest leaf by leaf, and a scalar
across replicas only (what `axis=0` can only mean for a value with no batch dimension). Nothing else changes: the variables, the collectives, the input
sharding and the optimizer's all-reduce are `MultiWorkerMirroredStrategy`'s own, so every task's `fit` (its own
`train_step` included) runs unchanged, with its callbacks.
"""

import contextlib

import keras
import tensorflow as tf

from keras_nn.errors import WorkerLostError


class KerasMultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """`tf.distribute.MultiWorkerMirroredStrategy` whose `reduce` takes what Keras 3's `fit` hands it.

    An eager `reduce` with `axis=None` of distributed values that have a batch dimension is Keras's symbolic
    build (nothing else in `fit` or `evaluate` makes one; the per-step reductions run inside a `tf.function`, with
    `axis=0`): it gets this worker's own values, not a mean.

    Args:
        cluster_resolver, communication_options: as for `tf.distribute.MultiWorkerMirroredStrategy`.
    """

    def reduce(self, reduce_op, value, axis):
        leaves = tf.nest.flatten(value)
        if (
            axis is None
            and not tf.inside_function()
            and all(isinstance(leaf, tf.distribute.DistributedValues) for leaf in leaves)
            and any(self.experimental_local_results(leaf)[0].shape.rank for leaf in leaves)
        ):
            # Keras's symbolic build, eagerly, on the first batch: it reads the shapes and dtypes alone. An
            # all-reduce would need the same shapes on every worker, and a validation set smaller than one global
            # batch splits unevenly ("Shape mismatch in the collective instance ...: [16,24,1] ... [15,24,1]").
            return tf.nest.map_structure(lambda leaf: self.experimental_local_results(leaf)[0], value)

        def reduce_one(one):
            local = self.experimental_local_results(one)[0]
            if not (local.dtype.is_floating or local.dtype.is_integer or local.dtype.is_bool):
                # A string or other tensor has no mean.
                return local
            return super(KerasMultiWorkerMirroredStrategy, self).reduce(
                reduce_op, one, None if local.shape.rank == 0 else axis
            )

        return tf.nest.map_structure(reduce_one, value)


def in_multi_worker_mode(strategy):
    """True when `strategy` spans several workers: then every collective needs every worker, so a model trained
    under it can no longer run on one worker alone."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return False
    cluster = resolver.cluster_spec().as_dict()
    return len(cluster.get("worker", [])) + len(cluster.get("chief", [])) > 1


def gather_from_workers(strategy, values):
    """Every worker's `values` (a list of ints, the same length on each), one list per worker in task order: a
    collective that every worker of `strategy` must call at the same point. Alone it is `[values]`.

    A gather, not an all-reduce: `MultiWorkerMirroredStrategy`'s all-reduce sums or averages, and the callers want
    each worker's own values (a minimum, and each worker's values in an error message).
    """
    if not in_multi_worker_mode(strategy):
        return [list(values)]
    row = tf.constant([[strategy.cluster_resolver.task_id, *values]], tf.int64)
    per_replica = strategy.experimental_distribute_values_from_function(lambda context: row)
    # One row per replica: a worker with several devices sends its row once per device.
    rows = {int(gathered[0]): [int(value) for value in gathered[1:]] for gathered in strategy.gather(per_replica, 0).numpy()}
    return [rows[task] for task in sorted(rows)]


@contextlib.contextmanager
def reporting_lost_workers(strategy):
    """Turns the collective errors a multi-worker step raises when another worker is gone (its heartbeats stop:
    TensorFlow's coordination service notices within about 10 s) into one `WorkerLostError` line."""
    if not in_multi_worker_mode(strategy):
        yield
        return
    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        cause = next((line for line in lines if "unhealthy" in line or "aborted" in line), lines[0] if lines else "")
        raise WorkerLostError(
            f"another worker of this multi-worker run stopped ({cause[:160]}); start every worker again with the "
            "same command and --resume to continue from the last backup"
        ) from None


def steps_per_execution(requested):
    """The `steps_per_execution` to compile with under the current strategy: `requested`, or 1 in a multi-worker
    run.

    With several steps per execution, Keras 3.15 calls its one-step `tf.function` inside a `tf.cond` inside the
    `tf.while_loop` of the outer one. Under `MultiWorkerMirroredStrategy` every all-reduce of that step takes its
    collective instance key as a call-time value (`capture_call_time_value`, which TensorFlow notes does not
    propagate to an outer function), and inside the loop's `cond` nothing feeds it: the first step fails with
    "You must feed a value for placeholder tensor '...while/cond/Placeholder_N' with dtype int32". Static
    instance keys (`CollectiveReplicaLauncher._prefer_unique_instance_key = False`) would avoid it but break as
    soon as one worker retraces the step and another does not (a shorter last shard). One step per execution
    costs a Python call per step, small beside the step's cross-worker all-reduce.

    Call it where the model is compiled, inside `strategy.scope()`.
    """
    return 1 if in_multi_worker_mode(tf.distribute.get_strategy()) else requested


def local_copy(model, task=None, config=None, steps_per_epoch=None):
    """A copy of a model trained by several workers, built outside their strategy, with its weights.

    After `fit` the other workers leave, and every `evaluate` or `predict` of the trained model would wait on a
    collective with them; the chief evaluates, reports, saves and exports this copy instead.

    Args:
        model: the trained model (its variables mirrored across the workers).
        task: the run's `Task`, to compile the copy as it compiled the model; None leaves the copy uncompiled
            (a side model, which the task's `compile` of the trained model's copy compiles).
        config: the resolved recipe.
        steps_per_epoch: as given to `task.compile`.

    Returns:
        A `keras.Model` with the same weights, on this worker's devices.
    """
    # Called outside `strategy.scope()`: the copy's variables are plain ones of TensorFlow's default strategy.
    # The `.keras` round trip every registered model is tested for, in memory: config, then built from its
    # build config.
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    if task is not None:
        task.compile(copy, config, steps_per_epoch)
    copy.set_weights(model.get_weights())
    return copy


def local_copies(model, task, config, steps_per_epoch):
    """`local_copy` of the trained model and of the task's side models (`Task.side_models`), which replace the
    task's own; returns the trained model's copy."""
    for name, side in task.side_models().items():
        setattr(task, name, local_copy(side))
    return local_copy(model, task, config, steps_per_epoch)


def synchronize_batch_norm(model):
    """Makes every `BatchNormalization` layer of `model` compute its batch statistics over the global batch
    (`synchronized=True`, an all-reduce per layer and step) instead of each replica's share of it.

    Without it, each replica normalizes by the statistics of its own part of the batch, so the gradients differ
    from a run on one device with the same global batch, and each worker's moving mean and variance follow its own
    shard (the workers end with different weights). Called before `fit` traces the step, which reads the flag.

    Returns:
        How many layers were switched.
    """
    switched = 0
    # Keras has no public recursive walk over nested layers (blocks inside models inside models); this is the one
    # private name this module uses.
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization) and not layer.synchronized:
            layer.synchronized = True
            switched += 1
    return switched
