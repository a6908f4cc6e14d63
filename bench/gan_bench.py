"""GAN training step time: keras-nn's `dcgan` against the keras-io DCGAN example's training loop, interleaved.

Both train the same networks: a `keras_nn.models.DCGANGenerator` and `DCGANDiscriminator` of the same sizes and
seed (ours builds its own inside `create_model("dcgan", ...)`; the keras-io loop wraps a second pair built with
the same arguments), with Adam(2e-4, beta_1=0.5) for each, on the same batch of images in [-1, 1], float32. What
differs is the training step:
- ours (`DCGAN.train_step`): one latent draw and one generator forward pass per step; the discriminator sees the
  real and the fake batch as two calls (batch norm per batch, as the PyTorch DCGAN example), is updated, then the
  same fake batch, scored by the updated discriminator, gives the generator's non-saturating loss;
- keras-io (the example "DCGAN to generate face images", its `GAN.train_step`, rewritten here from its
  description): a latent draw, a generator forward pass, real and fake concatenated into one discriminator batch
  with labels (1 for fake, 0 for real) plus 0.05 x uniform noise, the discriminator update; then a second latent
  draw and a second generator forward pass for the generator update against "all real" labels. The example's
  discriminator ends in a sigmoid and its loss takes probabilities; the shared discriminator here gives a logit,
  so its loss takes logits (`from_logits=True`): the same arithmetic but for one sigmoid.

Each model is compiled (`jit_compile` as `--jit-compile`, default `auto`: what `fit` uses) and driven by
`train_on_batch` on one batch held as a tensor, so both pay the same per-call overhead. After `--warmup` untimed
steps each (tracing), every round times `--steps` consecutive steps of each model, the order alternating from
round to round; the table gives the median over the rounds of the mean step time, and the ratio keras-io / ours
(>= 1: ours is not slower).

Settings: 32x32x1 images (e.g. digits or MNIST upscaled), 32 base filters; 64x64x3 (the DCGAN paper's size),
64 base filters (the PyTorch reference's 3.58M + 2.77M parameters); latent 100, batch 64.

    python bench/gan_bench.py                               # 7 rounds of 5 steps per setting
    python bench/gan_bench.py --rounds 2 --steps 2          # a quick check that it runs
    python bench/gan_bench.py --settings 1 --threads 2 --json gan_bench.json
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

import keras_nn  # noqa: E402
from keras_nn.models import DCGANDiscriminator, DCGANGenerator  # noqa: E402
from keras_nn.viz import markdown_table  # noqa: E402

#: (name, image shape, base filters)
SETTINGS = (
    ("32x32x1, 32 filters", (32, 32, 1), 32),
    ("64x64x3, 64 filters (the DCGAN paper's size)", (64, 64, 3), 64),
)


class KerasIOGAN(keras.Model):
    """The keras-io DCGAN example's training step around a given generator and discriminator (logits out)."""

    def __init__(self, generator, discriminator, latent_dim, seed=0):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")
        self.built = True

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        return [self.d_loss_metric, self.g_loss_metric]

    def train_step(self, data):
        import tensorflow as tf

        real_images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch_size = keras.ops.shape(real_images)[0]
        latent = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        generated = self.generator(latent, training=True)
        combined = keras.ops.concatenate([generated, real_images], axis=0)
        labels = keras.ops.concatenate([keras.ops.ones((batch_size, 1)), keras.ops.zeros((batch_size, 1))], axis=0)
        labels = labels + 0.05 * keras.random.uniform(keras.ops.shape(labels), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            d_loss = self.loss_fn(labels, self.discriminator(combined, training=True))
        variables = self.discriminator.trainable_variables
        self.d_optimizer.apply(tape.gradient(d_loss, variables), variables)

        latent = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        misleading = keras.ops.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            g_loss = self.loss_fn(misleading, self.discriminator(self.generator(latent, training=True), training=True))
        variables = self.generator.trainable_variables
        self.g_optimizer.apply(tape.gradient(g_loss, variables), variables)
        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {"d_loss": self.d_loss_metric.result(), "g_loss": self.g_loss_metric.result()}


def adam():
    return keras.optimizers.Adam(2e-4, beta_1=0.5)


def build_ours(shape, filters, latent_dim, jit_compile, seed):
    model = keras_nn.create_model(
        "dcgan", input_shape=shape, latent_dim=latent_dim, base_filters=filters, seed=seed
    )
    model.compile(generator_optimizer=adam(), discriminator_optimizer=adam(), jit_compile=jit_compile)
    return model


def build_keras_io(shape, filters, latent_dim, jit_compile, seed):
    generator = DCGANGenerator(image_shape=shape, latent_dim=latent_dim, base_filters=filters, seed=seed)
    discriminator = DCGANDiscriminator(input_shape=shape, base_filters=filters, seed=seed + 1000)
    model = KerasIOGAN(generator, discriminator, latent_dim, seed=seed)
    model.compile(d_optimizer=adam(), g_optimizer=adam(), jit_compile=jit_compile)
    return model


def time_steps(model, batch, steps):
    """Mean seconds of one `train_on_batch` over `steps` consecutive calls (the last one's result fetched)."""
    started = time.perf_counter()
    for _ in range(steps):
        logs = model.train_on_batch(batch, return_dict=True)
    float(logs["g_loss"])
    return (time.perf_counter() - started) / steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per setting (default 7)")
    parser.add_argument("--steps", type=int, default=5, help="training steps per model per round (default 5)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per model first (default 3)")
    parser.add_argument("--batch-size", type=int, default=64, help="images per step (default 64)")
    parser.add_argument("--latent-dim", type=int, default=100, help="size of the noise vector (default 100)")
    parser.add_argument(
        "--jit-compile",
        choices=("auto", "on", "off"),
        default="auto",
        help="XLA compilation of both steps (default auto, what fit uses)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads of TensorFlow (default: all)"
    )
    parser.add_argument("--settings", default="1,2", help="which settings to run, by number (default 1,2)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.steps < 1 or args.warmup < 1 or args.batch_size < 1:
        parser.error("--rounds, --steps, --warmup and --batch-size must be at least 1")
    try:
        chosen = [SETTINGS[int(index) - 1] for index in args.settings.split(",")]
    except (ValueError, IndexError):
        parser.error(f"--settings {args.settings!r}: give numbers from 1 to {len(SETTINGS)}, e.g. 1,2")
    jit_compile = {"auto": "auto", "on": True, "off": False}[args.jit_compile]

    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    print(
        f"keras {keras.__version__} (backend {keras.backend.backend()}), TensorFlow {tf.__version__}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, threads {args.threads or 'all'}, "
        f"devices {[device.name for device in tf.config.list_logical_devices()]}"
    )
    rows = []
    for name, shape, filters in chosen:
        keras.backend.clear_session()
        rng = np.random.default_rng(0)
        batch = tf.constant(rng.uniform(-1.0, 1.0, (args.batch_size, *shape)).astype("float32"))
        models = {
            "ours": build_ours(shape, filters, args.latent_dim, jit_compile, seed=0),
            "keras-io": build_keras_io(shape, filters, args.latent_dim, jit_compile, seed=0),
        }
        for model in models.values():
            time_steps(model, batch, args.warmup)
        seconds = {key: [] for key in models}
        order = list(models)
        for _ in range(args.rounds):
            for key in order:
                seconds[key].append(time_steps(models[key], batch, args.steps))
            order.reverse()
        ours_ms = 1000 * float(np.median(seconds["ours"]))
        theirs_ms = 1000 * float(np.median(seconds["keras-io"]))
        rows.append(
            {
                "setting": name,
                "image_shape": list(shape),
                "base_filters": filters,
                "batch_size": args.batch_size,
                "latent_dim": args.latent_dim,
                "generator_parameters": models["ours"].generator.count_params(),
                "discriminator_parameters": models["ours"].discriminator.count_params(),
                "ours_step_ms": ours_ms,
                "keras_io_step_ms": theirs_ms,
                "ratio_keras_io_over_ours": theirs_ms / ours_ms,
                "jit_compile": {key: bool(model.jit_compile) for key, model in models.items()},
                "ours_round_seconds_per_step": seconds["ours"],
                "keras_io_round_seconds_per_step": seconds["keras-io"],
            }
        )
        print(f"{name}: ours {ours_ms:.1f} ms, keras-io {theirs_ms:.1f} ms per step", flush=True)

    print(
        f"\nGAN training step, ms (median of {args.rounds} rounds x {args.steps} steps after {args.warmup} warm-up "
        f"steps, interleaved), batch {args.batch_size}, latent {args.latent_dim}, float32"
    )
    cells = [
        [
            row["setting"],
            f"{row['ours_step_ms']:.1f}",
            f"{row['keras_io_step_ms']:.1f}",
            f"{row['ratio_keras_io_over_ours']:.2f}",
        ]
        for row in rows
    ]
    header = ["setting", "ours ms/step", "keras-io ms/step", "ratio keras-io/ours"]
    print(markdown_table(header, cells, align=["left", "right", "right", "right"]))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "machine": platform.platform(),
                    "cpus": os.cpu_count(),
                    "keras": keras.__version__,
                    "tensorflow": tf.__version__,
                    "backend": keras.backend.backend(),
                    "settings": vars(args),
                    "results": rows,
                    "date": time.strftime("%Y-%m-%d"),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
