"""keras-nn attention against keras.layers.MultiHeadAttention, side by side in one run.

Three pairs, each holding the same weights (copied with `set_weights`, outputs checked equal before timing):
- `MultiHeadAttention`: `keras_nn.layers.MultiHeadAttention` vs `keras.layers.MultiHeadAttention`, self-attention
  with a padding mask;
- encoder block: `keras_nn.layers.TransformerEncoderBlock` (post-LN, GELU) vs the same block written with
  `keras.layers.MultiHeadAttention`, `Dense`, `Dropout` and `LayerNormalization` (`KerasEncoderBlock` below);
- a stack of `--stack` such blocks each.

Each pair is timed forward (inference) and forward+backward (gradients of a scalar loss with respect to every
weight and the input, `tf.GradientTape`), eagerly, as a `tf.function` compiled with XLA (`jit_compile=True`, what
`model.fit` runs by default, Keras' `jit_compile="auto"`) and as a plain `tf.function` graph
(`jit_compile=False`). Timings are interleaved round by round (the order alternates every round), so machine
noise hits both alike; the ratios are ours / Keras (below 1: ours is faster), of the median wall time and of
the median CPU time of the process (all threads), which other jobs on a shared machine disturb less.

    python bench/attention_bench.py                       # batch 8, 128 tokens, width 256, 4 heads, 4 blocks
    python bench/attention_bench.py --batch 32 --length 512 --width 768 --heads 12 --intermediate 3072
"""

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from cnn_throughput import interleaved  # noqa: E402

from keras_nn import layers  # noqa: E402


class KerasEncoderBlock(keras.layers.Layer):
    """A post-LN Transformer encoder block from Keras built-ins, with the sublayers (and so the weights) in the
    order of `keras_nn.layers.TransformerEncoderBlock`: attention, its norm, the two dense layers, their norm."""

    def __init__(self, num_heads, intermediate_dim, activation="gelu", dropout=0.0, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.intermediate_dim = num_heads, intermediate_dim
        self.activation, self.dropout, self.epsilon = activation, dropout, epsilon

    def build(self, shape):
        width = shape[-1]
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads, width // self.num_heads, dropout=self.dropout
        )
        self.attention.build(shape, shape)
        self.attention_norm = keras.layers.LayerNormalization(epsilon=self.epsilon)
        self.attention_norm.build(shape)
        self.attention_dropout = keras.layers.Dropout(self.dropout)
        self.intermediate = keras.layers.Dense(self.intermediate_dim, activation=self.activation)
        self.intermediate.build(shape)
        self.output_dense = keras.layers.Dense(width)
        self.output_dense.build((*shape[:-1], self.intermediate_dim))
        self.feedforward_dropout = keras.layers.Dropout(self.dropout)
        self.feedforward_norm = keras.layers.LayerNormalization(epsilon=self.epsilon)
        self.feedforward_norm.build(shape)

    def call(self, x, attention_mask=None, training=None):
        attended = self.attention(x, x, attention_mask=attention_mask, training=training)
        x = self.attention_norm(x + self.attention_dropout(attended, training=training))
        hidden = self.output_dense(self.intermediate(x))
        return self.feedforward_norm(x + self.feedforward_dropout(hidden, training=training))


def pairs(args, x, keep):
    """`{pair: {name: call(x)}}` with the weights of each keras-nn layer copied from its Keras twin."""
    width, heads = args.width, args.heads
    attention_mask = keep[:, None, :]  # [B, 1, Tk]: the same mask for every query

    ours_attention = layers.MultiHeadAttention(heads, width // heads, dropout=args.dropout)
    keras_attention = keras.layers.MultiHeadAttention(heads, width // heads, dropout=args.dropout)
    keras_attention(x, x)
    ours_attention(x, x)
    ours_attention.set_weights(keras_attention.get_weights())

    def blocks(count):
        ours = [
            layers.TransformerEncoderBlock(heads, args.intermediate, dropout=args.dropout, activation="gelu")
            for _ in range(count)
        ]
        theirs = [KerasEncoderBlock(heads, args.intermediate, dropout=args.dropout) for _ in range(count)]
        for our_block, keras_block in zip(ours, theirs, strict=True):
            keras_block(x)
            our_block(x)
            our_block.set_weights(keras_block.get_weights())

        def run_ours(inputs):
            for block in ours:
                inputs = block(inputs, padding_mask=keep, training=False)
            return inputs

        def run_keras(inputs):
            for block in theirs:
                inputs = block(inputs, attention_mask=attention_mask, training=False)
            return inputs

        return {"keras_nn": (run_ours, ours), "keras": (run_keras, theirs)}

    return {
        "MultiHeadAttention": {
            name: (lambda v, layer=layer: layer(v, v, attention_mask=attention_mask, training=False), [layer])
            for name, layer in (("keras_nn", ours_attention), ("keras", keras_attention))
        },
        "encoder block": blocks(1),
        f"stack of {args.stack} blocks": blocks(args.stack),
    }


def step_functions(call, owners, mode):
    """Forward and forward+backward functions of `call` in `mode` (eager, graph or xla)."""
    variables = [v for owner in owners for v in owner.trainable_variables]

    def forward(x):
        return call(x)

    def forward_backward(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_mean(tf.square(call(x)))
        return tape.gradient(loss, [x, *variables])

    if mode == "eager":
        return forward, forward_backward
    jit = mode == "xla"
    return tf.function(forward, jit_compile=jit), tf.function(forward_backward, jit_compile=jit)


def with_cpu_clock(step, x, cpu_seconds):
    """`step(x)` as a zero-argument function that also records the CPU time of each call (every thread of this
    process) in `cpu_seconds`: on a machine shared with other jobs, CPU time shows the work done, wall time
    also the waiting."""

    def run():
        start = time.process_time()
        step(x)
        cpu_seconds.append(time.process_time() - start)

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=128, help="tokens per sequence")
    parser.add_argument("--width", type=int, default=256, help="model width d_model")
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--intermediate", type=int, default=1024, help="feed-forward width")
    parser.add_argument("--stack", type=int, default=4, help="blocks in the stacked comparison")
    parser.add_argument(
        "--dropout",
        type=float,
        default=0.0,
        help="dropout rate of the layers (calls run in inference mode, so it only selects code paths: "
        "keras.layers.MultiHeadAttention fuses its attention into ops.dot_product_attention only at 0)",
    )
    parser.add_argument("--runs", type=int, default=20, help="timed calls per model, mode and pass")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls first (tracing, XLA compiling)")
    parser.add_argument("--modes", default="eager,graph,xla", help="comma-separated: eager, graph, xla")
    args = parser.parse_args(argv)

    print(
        f"keras {keras.__version__}, tensorflow {tf.__version__}, {platform.machine()}, {os.cpu_count()} CPUs"
    )
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(args.batch, args.length, args.width)).astype("float32"))
    lengths = rng.integers(args.length // 2, args.length + 1, size=args.batch)
    # Ragged padding: True at the real tokens.
    keep = tf.constant(np.arange(args.length)[None, :] < lengths[:, None])

    rows = []
    for pair, twins in pairs(args, x, keep).items():
        outputs = {name: call(x).numpy() for name, (call, _) in twins.items()}
        difference = np.abs(outputs["keras_nn"] - outputs["keras"]).max()
        assert difference < 1e-4, f"{pair}: outputs differ by {difference}; the comparison would be unfair"
        for mode in args.modes.split(","):
            functions = {name: step_functions(call, owners, mode) for name, (call, owners) in twins.items()}
            for index, what in enumerate(("forward", "forward+backward")):
                cpu = {name: [] for name in functions}
                wall = interleaved(
                    {name: with_cpu_clock(step[index], x, cpu[name]) for name, step in functions.items()},
                    args.warmup,
                    args.runs,
                )
                row = [
                    np.median(wall["keras_nn"]) * 1e3,
                    np.median(wall["keras"]) * 1e3,
                    np.median(cpu["keras_nn"][args.warmup :]) * 1e3,
                    np.median(cpu["keras"][args.warmup :]) * 1e3,
                ]
                rows.append((pair, mode, what, *row))
                print(f"  {pair}, {mode}, {what}: wall {row[0]:.2f} vs {row[1]:.2f} ms", flush=True)

    print(
        f"\nbatch {args.batch}, {args.length} tokens (ragged padding mask), width {args.width}, {args.heads} heads, "
        f"feed-forward {args.intermediate}, dropout {args.dropout}, float32; {args.warmup} warm-up + {args.runs} timed calls each, "
        "interleaved; medians"
    )
    print(
        "| layer | mode | pass | keras_nn ms | keras ms | wall-time ratio keras_nn / keras "
        "| CPU-time ratio keras_nn / keras |"
    )
    print("|---|---|---|---:|---:|---:|---:|")
    for pair, mode, what, ours, theirs, ours_cpu, theirs_cpu in rows:
        mode_name = {"eager": "eager", "graph": "tf.function", "xla": "tf.function jit_compile"}[mode]
        print(
            f"| {pair} | {mode_name} | {what} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.2f} "
            f"| {ours_cpu / theirs_cpu:.2f} |"
        )


if __name__ == "__main__":
    main()
