"""keras-nn CNNs against their keras.applications twins, side by side in one run.

Two comparisons, each interleaved round by round (the order alternates every round) so that machine noise hits
both models alike:
- training throughput (images/s) of `resnet50` vs `keras.applications.ResNet50(weights=None)`: the same batch,
  input size, optimizer and loss; a few warm-up `train_on_batch` steps (tracing), then timed steps;
- batch-1 inference latency of `mobilenet_v2` vs `keras.applications.MobileNetV2(weights=None)`, through
  `predict_on_batch` (the compiled predict function) and a direct eager model call.

Both pairs have the same layers and weight layout, and keras-nn's model starts from the keras.applications
model's weights (saved and loaded by name), so both do exactly the same arithmetic on the same values; a
ratio far from 1 would mean a layout or setting difference worth finding.

    python bench/cnn_throughput.py                     # resnet50 at 128x128 batch 8, mobilenet_v2 at 224x224
    python bench/cnn_throughput.py --train-size 224 --train-batch 32 --train-steps 20   # a bigger machine
"""

import argparse
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_nn  # noqa: E402


def interleaved(functions, warmup, runs):
    """Times each zero-argument function `runs` times, alternating the order each round; returns seconds."""
    names = list(functions)
    for _ in range(warmup):
        for name in names:
            functions[name]()
    times = {name: [] for name in names}
    for index in range(runs):
        order = names if index % 2 == 0 else names[::-1]
        for name in order:
            start = time.perf_counter()
            functions[name]()
            times[name].append(time.perf_counter() - start)
    return {name: np.asarray(values) for name, values in times.items()}


def twins(reference, name, directory, **kwargs):
    """The keras.applications model and the keras-nn model holding the same weights."""
    path = os.path.join(directory, f"{name}.weights.h5")
    reference.save_weights(path)
    return {f"keras.applications.{reference.name}": reference,
            f"keras_nn {name}": keras_nn.create_model(name, weights=path, **kwargs)}


def training_throughput(args, directory):
    shape = (args.train_size, args.train_size, 3)
    rng = np.random.default_rng(0)
    images = rng.random((args.train_batch, *shape), dtype=np.float32)
    labels = rng.integers(0, 1000, args.train_batch)
    reference = keras.applications.ResNet50(weights=None, input_shape=shape, name="ResNet50")
    models = twins(reference, "resnet50", directory, input_shape=shape)
    for model in models.values():
        model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy")

    def step(model):
        return lambda: model.train_on_batch(images, labels)

    seconds = interleaved({n: step(m) for n, m in models.items()}, args.warmup, args.train_steps)
    return [(name, args.train_batch / np.median(s), np.median(s) * 1e3) for name, s in seconds.items()]


def inference_latency(args, directory):
    shape = (args.infer_size, args.infer_size, 3)
    image = np.random.default_rng(1).random((1, *shape), dtype=np.float32)
    reference = keras.applications.MobileNetV2(weights=None, alpha=args.alpha, input_shape=shape,
                                                name="MobileNetV2")
    models = twins(reference, "mobilenet_v2", directory, alpha=args.alpha, input_shape=shape)
    rows = []
    for how, call, runs in (("predict_on_batch", lambda m: lambda: m.predict_on_batch(image), args.infer_runs),
                            ("model(x) eager", lambda m: lambda: m(image, training=False), args.eager_runs)):
        seconds = interleaved({n: call(m) for n, m in models.items()}, args.warmup, runs)
        rows += [(name, how, np.median(s) * 1e3, np.percentile(s, 90) * 1e3) for name, s in seconds.items()]
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-size", type=int, default=128, help="ResNet-50 input size (default 128)")
    parser.add_argument("--train-batch", type=int, default=8, help="ResNet-50 batch (default 8)")
    parser.add_argument("--train-steps", type=int, default=20, help="timed training steps per model")
    parser.add_argument("--infer-size", type=int, default=224, help="MobileNetV2 input size (default 224)")
    parser.add_argument("--alpha", type=float, default=1.0, help="MobileNetV2 width multiplier (default 1.0)")
    parser.add_argument("--infer-runs", type=int, default=100, help="timed inference calls per model and mode")
    parser.add_argument("--eager-runs", type=int, default=40, help="timed eager calls per model (slow: Python)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls per model first (tracing)")
    args = parser.parse_args(argv)

    print(f"keras {keras.__version__}, backend {keras.backend.backend()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as directory:
        train = training_throughput(args, directory)
        keras.backend.clear_session()
        infer = inference_latency(args, directory)

    base = train[0][1]
    print(f"\nTraining throughput: ResNet-50, {args.train_size}x{args.train_size}x3, batch {args.train_batch}, "
          f"SGD momentum, {args.warmup} warm-up + {args.train_steps} timed train_on_batch steps each, interleaved")
    print("| model | images/s | median step ms | throughput ratio to keras.applications |")
    print("|---|---:|---:|---:|")
    for name, rate, ms in train:
        print(f"| {name} | {rate:.2f} | {ms:.1f} | {rate / base:.2f} |")

    print(f"\nInference latency: MobileNetV2 alpha {args.alpha}, {args.infer_size}x{args.infer_size}x3, batch 1, "
          f"{args.warmup} warm-up + {args.infer_runs} (compiled) / {args.eager_runs} (eager) timed calls each, "
          "interleaved")
    print("| model | call | median ms | p90 ms | latency ratio to keras.applications |")
    print("|---|---|---:|---:|---:|")
    for index in range(0, len(infer), 2):
        reference = infer[index][2]
        for name, how, median, p90 in infer[index:index + 2]:
            print(f"| {name} | {how} | {median:.2f} | {p90:.2f} | {median / reference:.2f} |")


if __name__ == "__main__":
    main()
