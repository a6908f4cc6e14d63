"""RBM training throughput: keras-nn's `rbm` model against scikit-learn's `BernoulliRBM`, in one interleaved run.

Both train a Bernoulli-Bernoulli RBM by persistent contrastive divergence (PCD-1) on the same binarized digits
(scikit-learn's 1,797 8x8 images, grey levels / 16 thresholded at 0.5), with the same number of hidden units,
learning rate, batch size and epochs, in float32:
- ours: `keras_nn.create_model("rbm", persistent=True, persistent_chains=batch)`, compiled with
  `SGD(learning_rate)` (no momentum) and `steps_per_execution` = the steps of one epoch, trained by
  `model.fit` on a `tf.data` pipeline of the array, batched once and cached (no shuffling, as scikit-learn does
  not shuffle), with `training_metrics=False`: the same work as `BernoulliRBM`, which computes no metric while
  it trains. A third run, "ours + metrics", also computes the logged per-batch reconstruction error and
  pseudo-log-likelihood (one more matrix product per step), the model's default;
- scikit-learn: `BernoulliRBM(n_components, learning_rate, batch_size, n_iter).fit` on the same array;
- "fit loop alone": a Keras model whose `train_step` does no work, fitted on the same pipeline with the same
  compile settings: the ceiling of any model trained by `model.fit` at that batch size.

Throughput is examples per second of one epoch (1,797 / the time between the ends of consecutive epochs);
each run trains a fresh model for one warm-up epoch (tracing and compiling for ours, setup for both) plus
`--epochs` timed ones, and the table gives the median over the timed epochs of every repeat. The runs are
interleaved, ours, scikit-learn, ours + metrics, fit loop alone, `--repeats` times per setting, so machine noise hits both alike.
scikit-learn's epochs are timed by counting its mini-batch updates (a subclass whose `_fit` notes the time
after each epoch's last batch: one extra Python call per batch).

Settings: the 8x8 digits (64 visible) with 256 hidden, batch 10, learning rate 0.1 (scikit-learn's defaults);
the digits upscaled to 28x28 (784 visible; bilinear resize of the grey levels, then thresholded at 0.5) with
500 hidden, batch 100 (Hinton's MNIST setting); and the 784-visible digits with 256 hidden, batch 10.

    python bench/rbm_bench.py                                  # 3 repeats of 1 + 10 epochs per setting
    python bench/rbm_bench.py --repeats 1 --epochs 2           # a quick check that it runs
    python bench/rbm_bench.py --threads 2 --json rbm_bench.json
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.neural_network import BernoulliRBM  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import keras_nn  # noqa: E402
from keras_nn.viz import markdown_table  # noqa: E402

#: (name, image side, hidden units, batch size)
SETTINGS = (
    ("digits 8x8 (64 visible), 256 hidden, batch 10", 8, 256, 10),
    ("digits upscaled to 28x28 (784 visible), 500 hidden, batch 100", 28, 500, 100),
    ("digits upscaled to 28x28 (784 visible), 256 hidden, batch 10", 28, 256, 10),
)


def binarized_digits(side):
    """scikit-learn's digits as float32 0/1 vectors of `side * side` pixels (bilinear upscaling first if > 8)."""
    images = load_digits().images.astype(np.float32) / 16.0
    if side != 8:
        resized = keras.ops.image.resize(images[..., None], (side, side), interpolation="bilinear")
        images = keras.ops.convert_to_numpy(resized)[..., 0]
    return (images > 0.5).astype(np.float32).reshape(len(images), side * side)


class EpochEnds(keras.callbacks.Callback):
    """Notes `time.perf_counter()` at the start of training and at the end of every epoch."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_begin(self, logs=None):
        self.times = [time.perf_counter()]

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter())


class TimedBernoulliRBM(BernoulliRBM):
    """`BernoulliRBM` that notes the time after each epoch's last mini-batch update."""

    def fit(self, X, y=None):
        self.batches_per_epoch_ = -(-len(X) // self.batch_size)
        self.batches_done_ = 0
        self.epoch_ends_ = [time.perf_counter()]
        return super().fit(X, y)

    def _fit(self, v_pos, rng):
        super()._fit(v_pos, rng)
        self.batches_done_ += 1
        if self.batches_done_ % self.batches_per_epoch_ == 0:
            self.epoch_ends_.append(time.perf_counter())


def run_ours(data, hidden, batch, learning_rate, epochs, jit_compile, seed, training_metrics=False):
    """Trains a fresh `rbm` for 1 + `epochs` epochs; returns the seconds of each epoch after the first."""
    import tensorflow as tf

    keras.backend.clear_session()
    model = keras_nn.create_model(
        "rbm",
        input_shape=(data.shape[1],),
        hidden_units=hidden,
        persistent=True,
        persistent_chains=batch,
        training_metrics=training_metrics,
        seed=seed,
    )
    # keras-nn's tasks feed tf.data pipelines; batched once and cached, in scikit-learn's fixed order.
    pipeline = tf.data.Dataset.from_tensor_slices(data).batch(batch).cache().prefetch(tf.data.AUTOTUNE)
    steps = -(-len(data) // batch)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate), steps_per_execution=steps, jit_compile=jit_compile
    )
    clock = EpochEnds()
    model.fit(pipeline, epochs=1 + epochs, shuffle=False, verbose=0, callbacks=[clock])
    return np.diff(clock.times)[1:].tolist(), bool(model.jit_compile)


class IdleModel(keras.Model):
    """A model whose training step does nothing: `fit` on it times Keras' loop and the input pipeline alone."""

    def call(self, inputs):
        return inputs

    def train_step(self, data):
        return {"loss": keras.ops.zeros((), "float32")}


def run_fit_loop(data, batch, epochs):
    """Fits an `IdleModel` as `run_ours` fits the RBM; returns the seconds of each epoch after the first."""
    import tensorflow as tf

    keras.backend.clear_session()
    model = IdleModel()
    pipeline = tf.data.Dataset.from_tensor_slices(data).batch(batch).cache().prefetch(tf.data.AUTOTUNE)
    model.compile(optimizer=keras.optimizers.SGD(0.1), steps_per_execution=-(-len(data) // batch))
    clock = EpochEnds()
    model.fit(pipeline, epochs=1 + epochs, shuffle=False, verbose=0, callbacks=[clock])
    return np.diff(clock.times)[1:].tolist()


def run_sklearn(data, hidden, batch, learning_rate, epochs, seed):
    """Trains a fresh `BernoulliRBM` for 1 + `epochs` epochs; returns the seconds of each epoch after the first."""
    rbm = TimedBernoulliRBM(
        n_components=hidden,
        learning_rate=learning_rate,
        batch_size=batch,
        n_iter=1 + epochs,
        random_state=seed,
    )
    rbm.fit(data)
    if len(rbm.epoch_ends_) != 2 + epochs:
        # The epoch clock hooks BernoulliRBM's per-batch `_fit`; a scikit-learn that renames it times nothing.
        raise SystemExit(
            f"scikit-learn {sklearn.__version__}: BernoulliRBM.fit no longer calls _fit per batch"
        )
    return np.diff(rbm.epoch_ends_)[1:].tolist()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=3, help="interleaved runs of each per setting (default 3)"
    )
    parser.add_argument(
        "--epochs", type=int, default=10, help="timed epochs per run, after one warm-up (default 10)"
    )
    parser.add_argument("--learning-rate", type=float, default=0.1, help="both models' (default 0.1)")
    parser.add_argument(
        "--jit-compile",
        choices=("auto", "on", "off"),
        default="auto",
        help="ours: XLA compilation (default auto, what model.fit uses)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads of TensorFlow and of NumPy's BLAS (default: all)",
    )
    parser.add_argument(
        "--settings", default="1,2,3", help="which of the three settings to run, by number (default 1,2,3)"
    )
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.epochs < 1:
        parser.error("--repeats and --epochs must be at least 1")
    try:
        chosen = [SETTINGS[int(index) - 1] for index in args.settings.split(",")]
    except (ValueError, IndexError):
        parser.error(f"--settings {args.settings!r}: give numbers from 1 to {len(SETTINGS)}, e.g. 1,3")
    jit_compile = {"auto": "auto", "on": True, "off": False}[args.jit_compile]
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    print(
        f"keras {keras.__version__} (backend {keras.backend.backend()}), scikit-learn {sklearn.__version__}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, threads {args.threads or 'all'}"
    )
    rows = []
    with threadpool_limits(limits=args.threads):
        for name, side, hidden, batch in chosen:
            data = binarized_digits(side)
            ours, metered, theirs, idle, xla = [], [], [], [], None
            for repeat in range(args.repeats):
                seconds, xla = run_ours(
                    data, hidden, batch, args.learning_rate, args.epochs, jit_compile, repeat
                )
                ours.append(seconds)
                theirs.append(run_sklearn(data, hidden, batch, args.learning_rate, args.epochs, repeat))
                metered.append(
                    run_ours(data, hidden, batch, args.learning_rate, args.epochs, jit_compile, repeat, True)[0]
                )
                idle.append(run_fit_loop(data, batch, args.epochs))
            ours_rate = len(data) / float(np.median(ours))
            metered_rate = len(data) / float(np.median(metered))
            sklearn_rate = len(data) / float(np.median(theirs))
            idle_rate = len(data) / float(np.median(idle))
            rows.append(
                {
                    "setting": name,
                    "examples": len(data),
                    "visible": data.shape[1],
                    "hidden": hidden,
                    "batch_size": batch,
                    "ours_examples_per_s": ours_rate,
                    "sklearn_examples_per_s": sklearn_rate,
                    "ratio": ours_rate / sklearn_rate,
                    "ours_with_training_metrics_examples_per_s": metered_rate,
                    "ratio_with_training_metrics": metered_rate / sklearn_rate,
                    "fit_loop_alone_examples_per_s": idle_rate,
                    "ours_jit_compile": xla,
                    "ours_epoch_seconds": ours,
                    "sklearn_epoch_seconds": theirs,
                }
            )

    print(
        f"\nPCD-1 training throughput, examples/s per epoch (median of {args.repeats} x {args.epochs} epochs after "
        f"a warm-up epoch, interleaved), learning rate {args.learning_rate}, float32"
    )
    cells = [
        [
            row["setting"],
            f"{row['ours_examples_per_s']:.0f}",
            f"{row['sklearn_examples_per_s']:.0f}",
            f"{row['ratio']:.2f}",
            f"{row['ours_with_training_metrics_examples_per_s']:.0f}",
            f"{row['ratio_with_training_metrics']:.2f}",
            f"{row['fit_loop_alone_examples_per_s']:.0f}",
            f"{row['fit_loop_alone_examples_per_s'] / row['sklearn_examples_per_s']:.2f}",
        ]
        for row in rows
    ]
    header = [
        "setting", "ours ex/s", "sklearn ex/s", "ratio ours/sklearn", "ours + metrics ex/s", "ratio",
        "fit loop alone ex/s", "ratio",
    ]
    print(markdown_table(header, cells, align=["left"] + ["right"] * 7))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "machine": platform.platform(),
                    "cpus": os.cpu_count(),
                    "keras": keras.__version__,
                    "backend": keras.backend.backend(),
                    "sklearn": sklearn.__version__,
                    "settings": vars(args),
                    "results": rows,
                    "date": time.strftime("%Y-%m-%d"),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
