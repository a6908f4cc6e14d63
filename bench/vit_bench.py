"""keras-nn's VisionTransformer against keras-hub's ViTBackbone with the same configuration, side by side in one run.

keras-hub is a bench-only dependency (`pip install -e ".[bench]"`). Both models are classifiers on the class
token: keras-nn's `VisionTransformer(classifier_activation=None)` and `keras_hub.models.ViTImageClassifier` on a
`ViTBackbone` (no preprocessor), both pre-LN with LayerNorm epsilon 1e-6, exact (erf) GELU, biases on the
query/key/value projections. keras-nn's weights are copied from keras-hub's by layer (`WEIGHT_MAP`), and the
tokens and logits of both are checked equal before anything is timed, so both do the same arithmetic.

Timed, interleaved round by round (the order alternates every round, so machine noise hits both alike):
- training throughput: `train_on_batch` (Adam, sparse cross-entropy on logits, no metrics), with XLA
  (`jit_compile=True`, what `fit` runs by default on the TensorFlow backend) and as a plain graph;
- batch-1 inference latency: `predict_on_batch` (the compiled predict function), and the model called inside a
  `tf.function` with and without XLA.
Ratios are ours / keras-hub: of the median wall time and of the median CPU time of the process (all threads),
which waiting for a shared CPU inflates less. The traced forward graphs' op counts are printed too.

    python bench/vit_bench.py                                  # image 64, patch 8, ViT-Ti width, 6 blocks, batch 16
    python bench/vit_bench.py --config vit_tiny_patch16_224 --num-classes 1000 --batch 32   # ViT-Ti/16 at 224
"""

import argparse
import collections
import os
import platform
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from attention_bench import with_cpu_clock  # noqa: E402
from cnn_throughput import interleaved  # noqa: E402

from keras_nn.models import VisionTransformer  # noqa: E402

CONFIGS = {
    # Sized for a 2-core CPU: ViT-Ti's width and heads, half its depth, 64 patches of 8x8.
    "cpu": {"image_size": 64, "patch_size": 8, "hidden_dim": 192, "depth": 6, "num_heads": 3, "mlp_dim": 768},
    "vit_tiny_patch16_224": {
        "image_size": 224, "patch_size": 16, "hidden_dim": 192, "depth": 12, "num_heads": 3, "mlp_dim": 768,
    },
}

# keras-nn weight path (regular expression) -> keras-hub weight path. Every weight of both models is mapped once.
WEIGHT_MAP = (
    (r"patch_embedding/projection/(kernel|bias)", r"vit_patching_and_embedding/patch_embedding/\1"),
    (r"class_token/token", r"vit_patching_and_embedding/class_token"),
    (r"position_embedding/embeddings", r"vit_patching_and_embedding/position_embedding/embeddings"),
    (r"encoder_block_(\d+)/self_attention/(\w+)/(kernel|bias)", r"vit_encoder/transformer_block_\1/mha/\2/\3"),
    (r"encoder_block_(\d+)/self_attention_norm/(gamma|beta)", r"vit_encoder/transformer_block_\1/ln_1/\2"),
    (r"encoder_block_(\d+)/intermediate_dense/(kernel|bias)", r"vit_encoder/transformer_block_\1/mlp/dense_1/\2"),
    (r"encoder_block_(\d+)/output_dense/(kernel|bias)", r"vit_encoder/transformer_block_\1/mlp/dense_2/\2"),
    (r"encoder_block_(\d+)/feedforward_norm/(gamma|beta)", r"vit_encoder/transformer_block_\1/ln_2/\2"),
    (r"encoder_norm/(gamma|beta)", r"vit_encoder/ln/\1"),
    (r"predictions/(kernel|bias)", r"predictions/\1"),
)


def keras_hub_path(path, weight_map=WEIGHT_MAP):
    """The keras-hub weight path of a keras-nn weight path (backbone prefix dropped on their side)."""
    for pattern, replacement in weight_map:
        if re.fullmatch(pattern, path):
            return re.sub(pattern, replacement, path)
    raise KeyError(f"no keras-hub twin for keras-nn weight {path!r}")


def copy_weights(ours, theirs, weight_map=WEIGHT_MAP, into_theirs=False):
    """Sets every weight of `ours` to its keras-hub twin's value (or, with `into_theirs`, every twin to ours);
    checks that each of theirs was used once. `weight_map`: (keras-nn path pattern, keras-hub path) pairs."""
    by_path = {re.sub(r"^vi_t_backbone/|^vit_backbone/", "", w.path): w for w in theirs.weights}
    used = set()
    for weight in ours.weights:
        path = keras_hub_path(weight.path, weight_map)
        source = by_path[path]
        if tuple(source.shape) != tuple(weight.shape):
            raise ValueError(f"{weight.path} {tuple(weight.shape)} vs {path} {tuple(source.shape)}")
        if into_theirs:
            source.assign(weight.numpy())
        else:
            weight.assign(source.numpy())
        used.add(path)
    unused = set(by_path) - used
    if unused:
        raise ValueError(f"keras-hub weights without a keras-nn twin: {sorted(unused)}")


def build(args):
    import keras_hub

    shape = (args.image_size, args.image_size, 3)
    backbone = keras_hub.models.ViTBackbone(
        image_shape=shape, patch_size=args.patch_size, num_layers=args.depth, num_heads=args.num_heads,
        hidden_dim=args.hidden_dim, mlp_dim=args.mlp_dim, layer_norm_epsilon=1e-6,
    )
    theirs = keras_hub.models.ViTImageClassifier(backbone=backbone, num_classes=args.num_classes, activation=None)
    ours = VisionTransformer(
        num_classes=args.num_classes, input_shape=shape, patch_size=args.patch_size, hidden_dim=args.hidden_dim,
        depth=args.depth, num_heads=args.num_heads, mlp_dim=args.mlp_dim, classifier_activation=None,
    )
    copy_weights(ours, theirs)
    return {"keras_nn": ours, "keras_hub": theirs}, backbone


def check_equal(models, backbone, images):
    """The tokens and the logits of both models agree (float32 round-off); returns the largest differences."""
    ours, theirs = models["keras_nn"], models["keras_hub"]
    tokens = np.abs(np.asarray(ours.encode(images, training=False)) - np.asarray(backbone(images, training=False)))
    logits = np.abs(np.asarray(ours(images, training=False)) - np.asarray(theirs(images, training=False)))
    scale = float(np.abs(np.asarray(theirs(images, training=False))).max())
    if tokens.max() > 1e-4 or logits.max() > 1e-4 * max(1.0, scale):
        raise AssertionError(f"outputs differ (tokens {tokens.max():.2e}, logits {logits.max():.2e}); unfair comparison")
    return float(tokens.max()), float(logits.max())


def op_counts(model, image):
    """Op types of the traced inference graph of `model(x)` (no XLA), as a Counter."""
    function = tf.function(lambda x: model(x, training=False))
    graph = function.get_concrete_function(tf.TensorSpec(image.shape, tf.float32)).graph
    return collections.Counter(op.type for op in graph.get_operations())


def timed(functions, warmup, runs):
    """Interleaved wall and CPU medians (ms) of zero-argument functions: {name: (wall, cpu)}."""
    cpu = {name: [] for name in functions}
    wall = interleaved({name: with_cpu_clock(lambda _, f=f: f(), None, cpu[name]) for name, f in functions.items()},
                       warmup, runs)
    return {name: (np.median(wall[name]) * 1e3, np.median(cpu[name][warmup:]) * 1e3) for name in functions}


def training(models, args, rng):
    images = rng.random((args.batch, args.image_size, args.image_size, 3), dtype=np.float32)
    labels = rng.integers(0, args.num_classes, args.batch)
    rows = []
    for jit in (True, False):
        steps = {}
        for name, model in models.items():
            # A fresh optimizer per compile: the same starting state for both, and no XLA program reused.
            model.compile(optimizer=keras.optimizers.Adam(1e-4),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          metrics=[], jit_compile=jit)
            steps[name] = lambda m=model: m.train_on_batch(images, labels)
        result = timed(steps, args.warmup, args.train_steps)
        rows.append(("train_on_batch, XLA" if jit else "train_on_batch, graph", result))
        print(f"  {rows[-1][0]}: {result['keras_nn'][0]:.1f} vs {result['keras_hub'][0]:.1f} ms", flush=True)
    return rows


def inference(models, args, rng):
    image = rng.random((1, args.image_size, args.image_size, 3), dtype=np.float32)
    tensor = tf.constant(image)
    rows = []
    for model in models.values():
        # Keras' default (jit_compile="auto": XLA on TensorFlow), which predict_on_batch then uses.
        model.compile(optimizer=keras.optimizers.Adam(1e-4),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=[])
    ways = {
        "predict_on_batch": lambda m: lambda: m.predict_on_batch(image),
        "tf.function call, XLA": lambda m: (lambda f: lambda: f(tensor))(
            tf.function(lambda x: m(x, training=False), jit_compile=True)),
        "tf.function call, graph": lambda m: (lambda f: lambda: f(tensor))(
            tf.function(lambda x: m(x, training=False), jit_compile=False)),
    }
    resolved = {model.jit_compile for model in models.values()}
    for how, make in ways.items():
        result = timed({name: make(model) for name, model in models.items()}, args.warmup, args.infer_runs)
        if how == "predict_on_batch":
            how += f" (jit_compile 'auto' resolved to {' / '.join(map(str, sorted(resolved)))})"
        rows.append((f"batch 1, {how}", result))
        print(f"  {how}: {result['keras_nn'][0]:.2f} vs {result['keras_hub'][0]:.2f} ms", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="cpu", help="the sizes below, unless given")
    for key in CONFIGS["cpu"]:
        parser.add_argument(f"--{key.replace('_', '-')}", type=int, dest=key)
    parser.add_argument("--num-classes", type=int, default=10)
    parser.add_argument("--batch", type=int, default=16, help="training batch")
    parser.add_argument("--train-steps", type=int, default=15, help="timed train_on_batch steps per model and mode")
    parser.add_argument("--infer-runs", type=int, default=60, help="timed batch-1 calls per model and mode")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls first (tracing, XLA compiling)")
    args = parser.parse_args(argv)
    for key, value in CONFIGS[args.config].items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    import keras_hub

    print(f"keras {keras.__version__}, keras-hub {keras_hub.__version__}, tensorflow {tf.__version__}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    models, backbone = build(args)
    probe = rng.random((2, args.image_size, args.image_size, 3), dtype=np.float32)
    token_error, logit_error = check_equal(models, backbone, probe)
    print(f"outputs equal before timing: max |tokens| difference {token_error:.1e}, max |logits| {logit_error:.1e}; "
          f"{models['keras_nn'].count_params():,} vs {models['keras_hub'].count_params():,} parameters")

    counts = {name: op_counts(model, probe[:1]) for name, model in models.items()}
    rows = training(models, args, rng) + inference(models, args, rng)
    load = os.getloadavg()

    grid = (args.image_size // args.patch_size) ** 2
    print(f"\nimage {args.image_size}x{args.image_size}x3, patch {args.patch_size} ({grid} patches + class token), "
          f"hidden {args.hidden_dim}, depth {args.depth}, heads {args.num_heads}, mlp {args.mlp_dim}, "
          f"{args.num_classes} classes, float32; training batch {args.batch}, {args.warmup} warm-up + "
          f"{args.train_steps} timed steps; inference {args.warmup} warm-up + {args.infer_runs} timed calls; "
          f"interleaved, medians; load average at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min)")
    print("| what | keras_nn ms | keras_hub ms | wall-time ratio keras_nn / keras_hub "
          "| CPU-time ratio keras_nn / keras_hub |")
    print("|---|---:|---:|---:|---:|")
    for what, result in rows:
        (ours, ours_cpu), (theirs, theirs_cpu) = result["keras_nn"], result["keras_hub"]
        print(f"| {what} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.2f} | {ours_cpu / theirs_cpu:.2f} |")
    for what, result in rows:
        if what.startswith("train"):
            print(f"{what}: keras_nn {args.batch / result['keras_nn'][0] * 1e3:.1f} images/s, "
                  f"keras_hub {args.batch / result['keras_hub'][0] * 1e3:.1f} images/s")

    print("\nop types of the traced batch-1 inference graph (no XLA), where the counts differ:")
    print("| op | keras_nn | keras_hub |")
    print("|---|---:|---:|")
    for op in sorted(set(counts["keras_nn"]) | set(counts["keras_hub"])):
        if counts["keras_nn"][op] != counts["keras_hub"][op]:
            print(f"| {op} | {counts['keras_nn'][op]} | {counts['keras_hub'][op]} |")
    print(f"| all ops | {sum(counts['keras_nn'].values())} | {sum(counts['keras_hub'].values())} |")


if __name__ == "__main__":
    main()
