"""Data-parallel training on the JAX backend with `keras.distribution.DataParallel`, and the step time of the
same model and batch on JAX and on TensorFlow.

The path of a machine with JAX and no TensorFlow (a GPU machine with `jax[cuda12]`): keras-nn's models and
layers import and train without TensorFlow, the data is numpy arrays (tf.data needs TensorFlow), and
`DataParallel` replicates the weights on every device and splits each batch over them. On a CPU-only machine
`--cpu-devices 2` (the default) asks XLA for two host devices, the stand-in for two GPUs; where JAX sees
accelerators it uses them instead (the flag only touches the host platform).

    python bench/jax_data_parallel.py                          # simple_cnn on scikit-learn digits, 2 devices
    python bench/jax_data_parallel.py --model bert_classifier --epochs 3
    python bench/jax_data_parallel.py --step-time              # JAX vs TensorFlow, one device, same model/batch
    python bench/jax_data_parallel.py --step-time --model bert_classifier

Training prints one JSON line: the devices, the loss of each epoch, the held-out accuracy, whether every weight
is replicated (one identical copy per device) after training, and how the compiled training step sees its input
batch (`jax.debug.inspect_array_sharding`: the devices and the per-device shard shape). `--step-time` runs this
script once per backend in a subprocess (a process has one Keras backend) and prints the milliseconds of a
training step inside `fit` (Keras' default compile: XLA on both), timed over a second epoch of `--steps` steps
after a first that compiles, and the process CPU time per step (less disturbed by other jobs on a shared machine).
"""

import argparse
import json
import os
import subprocess
import sys
import time

MODELS = ("simple_cnn", "bert_classifier")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=MODELS, default="simple_cnn")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64, help="the global batch, split over the devices")
    parser.add_argument("--cpu-devices", type=int, default=2, help="XLA host devices (ignored where JAX has GPUs)")
    parser.add_argument("--step-time", action="store_true", help="time a training step on JAX and TensorFlow")
    parser.add_argument("--steps", type=int, default=50, help="steps per timed epoch with --step-time")
    parser.add_argument("--backend", help=argparse.SUPPRESS)  # set by --step-time for its subprocesses
    return parser.parse_args(argv)


def digits(model_name):
    """scikit-learn's 1,797 8x8 digits (shipped with it, no download) as the model's inputs and labels."""
    import numpy as np
    from sklearn.datasets import load_digits

    data = load_digits()
    labels = data.target.astype("int32")
    if model_name == "simple_cnn":
        return (data.images[..., None] / 16.0).astype("float32"), labels
    # A Transformer over the 64 pixels read as tokens: ids 1..17 (0 stays the padding id), one segment.
    token_ids = (data.images.reshape(-1, 64) + 1).astype("int32")
    return {
        "token_ids": token_ids,
        "segment_ids": np.zeros_like(token_ids),
        "padding_mask": np.ones_like(token_ids),
    }, labels


def build(model_name):
    import keras

    import keras_nn

    if model_name == "simple_cnn":
        model = keras_nn.create_model("simple_cnn", num_classes=10, input_shape=(8, 8, 1))
    else:
        model = keras_nn.create_model("bert_classifier", num_classes=10, vocab_size=18, num_layers=2, hidden_dim=64,
                                      num_heads=4, intermediate_dim=128, max_sequence_length=64, dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def take(inputs, indices):
    return {key: value[indices] for key, value in inputs.items()} if isinstance(inputs, dict) else inputs[indices]


def train_data_parallel(args):
    import jax
    import keras
    import numpy as np

    distribution = keras.distribution.DataParallel()  # every device JAX sees, one mesh axis "batch"
    keras.distribution.set_distribution(distribution)
    keras.utils.set_random_seed(0)
    inputs, labels = digits(args.model)
    order = np.random.default_rng(0).permutation(len(labels))
    # Whole batches only (predict's too): each is split evenly over the devices, and a last partial batch that
    # does not divide by the device count is refused (jax IndivisibleError).
    whole = lambda count: count // args.batch_size * args.batch_size  # noqa: E731
    train_count = whole(len(labels) * 4 // 5)
    train, test = order[:train_count], order[train_count:][: whole(len(labels) - train_count)]
    model = build(args.model)

    seen = []
    step = model.train_step

    def inspected_step(state, data):
        # Called while jax.jit traces the step: records how the compiled step receives its input batch.
        x = data[0]
        leaf = x["token_ids"] if isinstance(x, dict) else x
        jax.debug.inspect_array_sharding(
            leaf, callback=lambda sharding: seen.append((len(sharding.device_set), sharding.shard_shape(leaf.shape),
                                                         tuple(leaf.shape)))
        )
        return step(state, data)

    model.train_step = inspected_step
    started = time.perf_counter()
    history = model.fit(take(inputs, train), labels[train], batch_size=args.batch_size, epochs=args.epochs,
                        shuffle=True, verbose=0)
    seconds = time.perf_counter() - started
    predictions = model.predict(take(inputs, test), batch_size=args.batch_size, verbose=0)
    replicated = all(
        variable.value.sharding.is_fully_replicated
        and len(variable.value.sharding.device_set) == len(jax.devices())
        and all(np.array_equal(np.asarray(shard.data), np.asarray(variable.value.addressable_shards[0].data))
                for shard in variable.value.addressable_shards)
        for variable in model.weights
    )
    return {
        "model": args.model,
        "backend": keras.backend.backend(),
        "devices": [str(device) for device in jax.devices()],
        "global_batch": args.batch_size,
        "batch_sharding": [{"devices": count, "shard_shape": list(shard), "global_shape": list(shape)}
                           for count, shard, shape in seen],
        "weights_replicated": replicated,
        "epoch_loss": [round(float(value), 4) for value in history.history["loss"]],
        "test_accuracy": round(float((predictions.argmax(-1) == labels[test]).mean()), 4),
        "train_seconds": round(seconds, 2),
    }


def time_steps(args):
    """The training step inside `fit` (what a run executes; `train_on_batch` on JAX also copies every variable
    back after each call): the second epoch's time per step, after the first traced and compiled the step."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    inputs, labels = digits(args.model)
    indices = np.arange(args.steps * args.batch_size) % len(labels)
    model = build(args.model)

    class EpochClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started, self.cpu = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = (time.perf_counter() - self.started, time.process_time() - self.cpu)

    clock = EpochClock()
    started = time.perf_counter()
    model.fit(take(inputs, indices), labels[indices], batch_size=args.batch_size, epochs=1, shuffle=False,
              verbose=0, callbacks=[clock])
    first_epoch = time.perf_counter() - started
    model.fit(take(inputs, indices), labels[indices], batch_size=args.batch_size, epochs=1, shuffle=False,
              verbose=0, callbacks=[clock])
    wall, cpu = clock.seconds
    return {"model": args.model, "backend": keras.backend.backend(), "batch": args.batch_size, "steps": args.steps,
            "ms_per_step": round(1000 * wall / args.steps, 2), "cpu_ms_per_step": round(1000 * cpu / args.steps, 2),
            "first_epoch_s": round(first_epoch, 2)}


def compare_backends(args):
    results = []
    for backend in ("jax", "tensorflow"):
        command = [sys.executable, os.path.abspath(__file__), "--model", args.model, "--batch-size",
                   str(args.batch_size), "--steps", str(args.steps), "--backend", backend]
        environment = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
        output = subprocess.run(command, env=environment, capture_output=True, text=True, check=True).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
    return results


def main(argv=None):
    args = parse_args(argv)
    if args.step_time:
        for result in compare_backends(args):
            print(json.dumps(result))
        return 0
    if args.backend:
        print(json.dumps(time_steps(args)))
        return 0
    os.environ["KERAS_BACKEND"] = "jax"
    flag = f"--xla_force_host_platform_device_count={args.cpu_devices}"
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()
    print(json.dumps(train_data_parallel(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
