"""Batch-1 latency of every export form of the edge models, side by side in one run per model.

For each model every form is built from the same weights, checked against Keras, and timed on the same
batch-1 example, interleaved round by round with the order rotating (`keras_nn.edge.bench_device.time_runners`),
so machine noise hits every form alike. Compare ratios within a table, not milliseconds across runs.

Recurrent models (50 steps of 32 features, 128 units, a dense head; random Glorot weights, latency does not
depend on them): `lstm_classifier`, `gru_classifier`, a bidirectional two-layer `lstm_classifier` and an
`lstm_tagger` (one forward layer, every step returned). Their rows: the Keras call, the SavedModel, the stock
Keras 3 TFLite conversion (WHILE loop; at a fixed batch of 1, and with a dynamic batch through the
converter's batch-1 tensor-list option), keras-nn's TFLite forms (the default `auto`, the lean `loop`, the
fused LSTM op at batch 1, float16, dynamic-range and full int8), tf2onnx as it is (dynamic and fixed batch),
keras-nn's ONNX (native LSTM/GRU nodes, dynamic and fixed batch) and the streaming single-step models (their
time is per sample, not per sequence).

CNNs: `simple_cnn` (28x28x1), `resnet20_cifar` (32x32x3) and `mobilenet_v2` (96x96x3), each first trained for
a few epochs on synthetic images (a bright square at one of ten positions; label = position) so that the int8
top-1 agreement measures quantization rather than ties between random logits. Their rows: Keras call,
SavedModel, TFLite float32 / float16 / dynamic-range / int8 (int8 in and out) and ONNX.

    python bench/edge_latency.py                              # every model, 1 thread: about 10 minutes here
    python bench/edge_latency.py --models gru_classifier --runs 500 --threads 2
"""

import argparse
import json
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_nn  # noqa: E402
from keras_nn.edge.bench_device import time_runners  # noqa: E402
from keras_nn.edge.operators import operators  # noqa: E402
from keras_nn.edge.run_onnx import ONNXRunner  # noqa: E402
from keras_nn.edge.run_streaming import StreamingRunner  # noqa: E402
from keras_nn.edge.run_tflite import TFLiteRunner  # noqa: E402
from keras_nn.export import (  # noqa: E402
    convert_onnx,
    convert_tflite,
    to_saved_model,
    to_streaming_onnx,
    to_streaming_tflite,
)
from keras_nn.export.runtimes import SavedModelRunner  # noqa: E402
from keras_nn.export.tflite import fusable_lstms  # noqa: E402

STEPS, FEATURES, UNITS, CLASSES = 50, 32, 128, 10

RECURRENT_MODELS = {
    "lstm_classifier": lambda: keras_nn.create_model(
        "lstm_classifier", input_shape=(STEPS, FEATURES), num_classes=CLASSES, units=UNITS
    ),
    "gru_classifier": lambda: keras_nn.create_model(
        "gru_classifier", input_shape=(STEPS, FEATURES), num_classes=CLASSES, units=UNITS
    ),
    "bilstm2_classifier": lambda: keras_nn.create_model(
        "lstm_classifier",
        input_shape=(STEPS, FEATURES),
        num_classes=CLASSES,
        units=UNITS,
        num_layers=2,
        bidirectional=True,
    ),
    "lstm_tagger": lambda: keras_nn.create_model(
        "lstm_tagger", input_shape=(STEPS, FEATURES), num_classes=CLASSES, units=UNITS, bidirectional=False
    ),
}
CNN_MODELS = {
    "simple_cnn": (28, 1),
    "resnet20_cifar": (32, 3),
    "mobilenet_v2": (96, 3),
}


class KerasRunner:
    """A Keras model called eagerly on a batch-1 tensor (`model(x, training=False)`)."""

    def __init__(self, model):
        self.model = model

    def prepare(self, x1):
        return tf.constant(x1)

    def invoke_prepared(self, prepared):
        return self.model(prepared, training=False)

    def run(self, x):
        return np.asarray(self.model.predict(x, verbose=0, batch_size=256))


def synthetic_images(n, size, channels, seed):
    """Noise images with a bright square at one of ten positions; the label is the position (synthetic)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    images = rng.normal(0.0, 0.2, (n, size, size, channels)).astype(np.float32)
    cell = size // 5
    for image, label in zip(images, labels, strict=True):
        row, column = divmod(int(label), 5)
        image[
            row * 2 * cell + cell // 2 : row * 2 * cell + cell // 2 + cell,
            column * cell : column * cell + cell,
        ] += 1.5
    return images, labels


def parity(runner, inputs, reference, stream=False):
    """Max abs error and top-1 agreement of a runner's outputs against Keras."""
    if stream:
        stepped = runner.run(inputs)
        outputs = stepped if stepped.ndim == reference.ndim else stepped[:, -1]
    else:
        outputs = runner.run(inputs)
    outputs = np.asarray(outputs, np.float32).reshape(reference.shape)
    agreement = float(np.mean(outputs.argmax(-1) == reference.argmax(-1)))
    return float(np.abs(outputs - reference).max()), agreement


def recurrent_forms(model, directory, calibration):
    """label -> (file or None, runner factory, notes) for every form of a recurrent model."""
    forms = {}

    def tflite(label, name, **kwargs):
        result = convert_tflite(model, os.path.join(directory, name), **kwargs)
        notes = f"rnn_form={result.rnn_form}, batch={result.batch_size or 'dynamic'}"
        forms[label] = (str(result.path), TFLiteRunner, notes)

    def onnx(label, name, **kwargs):
        result = convert_onnx(model, os.path.join(directory, name), **kwargs)
        forms[label] = (str(result.path), ONNXRunner, f"batch={result.batch_size or 'dynamic'}")

    tflite("TFLite stock conversion (WHILE), batch 1", "stock_b1.tflite", rnn_form="layer", batch_size=1)
    tflite("TFLite stock, dynamic batch (batch-1 lists)", "stock_dyn.tflite", rnn_form="layer")
    tflite("TFLite keras-nn default (auto)", "auto.tflite")
    if fusable_lstms(model):
        tflite("TFLite keras-nn fused LSTM op, batch 1", "fused_b1.tflite", rnn_form="fused", batch_size=1)
    tflite("TFLite keras-nn loop float16", "loop.float16.tflite", rnn_form="loop", quantize="float16")
    tflite(
        "TFLite keras-nn loop dynamic-range int8", "loop.dynamic.tflite", rnn_form="loop", quantize="dynamic"
    )
    try:
        tflite(
            "TFLite keras-nn loop full int8",
            "loop.int8.tflite",
            rnn_form="loop",
            quantize="int8",
            representative_data=calibration,
            io_dtype="float32",
        )
    except Exception as error:  # report a form the converter cannot build instead of stopping the benchmark
        print(f"  full int8 of {model.name}: {type(error).__name__}: {str(error)[:200]}")
    onnx("ONNX stock tf2onnx, dynamic batch", "stock_dyn.onnx", rnn_form="layer")
    onnx("ONNX stock tf2onnx, batch 1", "stock_b1.onnx", rnn_form="layer", batch_size=1)
    onnx("ONNX keras-nn native, dynamic batch", "native_dyn.onnx")
    onnx("ONNX keras-nn native, batch 1", "native_b1.onnx", batch_size=1)
    try:
        stream_tflite = to_streaming_tflite(model, os.path.join(directory, "model.stream.tflite"))
        stream_onnx = to_streaming_onnx(model, os.path.join(directory, "model.stream.onnx"))
        forms["TFLite streaming, one step (per sample)"] = (str(stream_tflite), StreamingRunner, "per step")
        forms["ONNX streaming, one step (per sample)"] = (str(stream_onnx), StreamingRunner, "per step")
    except Exception as error:  # a bidirectional model cannot stream
        print(f"  no streaming form for {model.name}: {str(error)[:120]}")
    return forms


def cnn_forms(model, directory, calibration):
    forms = {}
    for label, quantize, name in (
        ("TFLite float32", None, "model.tflite"),
        ("TFLite float16", "float16", "model.float16.tflite"),
        ("TFLite dynamic-range int8", "dynamic", "model.dynamic.tflite"),
        ("TFLite full int8 (int8 in/out)", "int8", "model.int8.tflite"),
    ):
        result = convert_tflite(
            model,
            os.path.join(directory, name),
            quantize=quantize,
            representative_data=calibration,
            representative_samples=100,
        )
        forms[label] = (str(result.path), TFLiteRunner, "")
    forms["ONNX (tf2onnx, BN folded)"] = (
        str(convert_onnx(model, os.path.join(directory, "model.onnx")).path),
        ONNXRunner,
        "",
    )
    return forms


def summarize_operators(path):
    counts = operators(path)
    interesting = [
        name for name in ("UNIDIRECTIONAL_SEQUENCE_LSTM", "WHILE", "LSTM", "GRU", "Loop") if counts.get(name)
    ]
    return ", ".join(f"{name} x{counts[name]}" for name in interesting) or f"{sum(counts.values())} ops"


def bench_model(name, model, inputs, calibration, forms_of, baseline, args):
    print(f"\n== {name} ==", flush=True)
    with tempfile.TemporaryDirectory(prefix=f"edge-{name}-") as directory:
        started = time.perf_counter()
        forms = forms_of(model, directory, calibration)
        saved_model = to_saved_model(model, os.path.join(directory, "saved_model"))
        print(f"  {len(forms) + 1} files written in {time.perf_counter() - started:.0f} s", flush=True)
        reference = np.asarray(model.predict(inputs, verbose=0, batch_size=256))
        runners = {
            "Keras call (eager)": KerasRunner(model),
            "SavedModel (TensorFlow)": SavedModelRunner(saved_model),
        }
        rows = {label: {"file": None, "size_kb": None, "notes": "", "operators": ""} for label in runners}
        for label, (path, factory, notes) in forms.items():
            runners[label] = factory(path, num_threads=args.threads)
            rows[label] = {
                "file": os.path.basename(path),
                "size_kb": os.path.getsize(path) / 1024,
                "notes": notes,
                "operators": summarize_operators(path),
            }
        for label, runner in runners.items():
            rows[label]["max_abs_error"], rows[label]["top1_agreement"] = parity(
                runner, inputs, reference, stream=isinstance(runner, StreamingRunner)
            )
        runs = args.runs if name in RECURRENT_MODELS else max(20, args.runs // 4)
        timings = {row["name"]: row for row in time_runners(runners, inputs[:1], warmup=10, runs=runs)}
    base = timings[baseline]["median_ms"]
    table = []
    for label, row in rows.items():
        timing = timings[label]
        table.append(
            {
                "model": name,
                "form": label,
                **row,
                "median_ms": timing["median_ms"],
                "p90_ms": timing["p90_ms"],
                "speedup_vs_baseline": base / timing["median_ms"],
                "runs": timing["runs"],
            }
        )
    print_table(name, table, baseline)
    return table


def print_table(name, table, baseline):
    print(f"\n{name} (batch 1; speed-up = {baseline} median / this median)\n")
    print("| form | operators | size KB | median ms | p90 ms | speed-up | max abs err | top-1 agree |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for row in table:
        size = f"{row['size_kb']:.0f}" if row["size_kb"] is not None else "-"
        print(
            f"| {row['form']} | {row['operators'] or '-'} | {size} | {row['median_ms']:.3f} | {row['p90_ms']:.3f} | "
            f"{row['speedup_vs_baseline']:.2f} | {row['max_abs_error']:.1e} | {row['top1_agreement']:.3f} |"
        )


def ratio(table, model, slower, faster):
    rows = {row["form"]: row for row in table if row["model"] == model}
    if slower not in rows or faster not in rows:
        return None
    return rows[slower]["median_ms"] / rows[faster]["median_ms"]


def targets(table):
    """The issue's Done-when ratios, from this run."""
    checks = [
        (
            "gru_classifier: keras-nn ONNX vs stock tf2onnx (dynamic batch)",
            "gru_classifier",
            "ONNX stock tf2onnx, dynamic batch",
            "ONNX keras-nn native, dynamic batch",
            3.0,
        ),
        (
            "lstm_classifier: keras-nn ONNX vs stock tf2onnx (batch 1 signature)",
            "lstm_classifier",
            "ONNX stock tf2onnx, batch 1",
            "ONNX keras-nn native, batch 1",
            3.0,
        ),
        (
            "lstm_classifier: keras-nn default TFLite (dynamic batch) vs stock fixed-batch WHILE",
            "lstm_classifier",
            "TFLite stock conversion (WHILE), batch 1",
            "TFLite keras-nn default (auto)",
            1.0,
        ),
        (
            "lstm_tagger: keras-nn default TFLite vs the stock fixed-batch conversion of its Keras LSTM twin",
            "lstm_tagger (Keras LSTM twin)",
            "TFLite stock conversion (WHILE), batch 1",
            "TFLite keras-nn default (auto)",
            1.3,
        ),
        (
            "mobilenet_v2: full int8 vs float32 TFLite",
            "mobilenet_v2",
            "TFLite float32",
            "TFLite full int8 (int8 in/out)",
            1.5,
        ),
    ]
    results = []
    for label, model, slower, faster, goal in checks:
        value = ratio(table, model, slower, faster)
        if value is not None:
            results.append({"target": label, "ratio": value, "goal": goal, "met": value >= goal})
    agreement = [
        row for row in table if row["model"] == "mobilenet_v2" and row["form"].startswith("TFLite full int8")
    ]
    if agreement:
        value = agreement[0]["top1_agreement"]
        results.append(
            {
                "target": "mobilenet_v2 int8 top-1 agreement",
                "ratio": value,
                "goal": 0.98,
                "met": value >= 0.98,
            }
        )
    print("\nTargets (ratio = stock median / keras-nn median)\n")
    for row in results:
        print(
            f"- {row['target']}: {row['ratio']:.2f} (goal {row['goal']}) {'met' if row['met'] else 'NOT met'}"
        )
    return results


def lstm_tagger_stock_twin(model):
    """The tagger with Keras 3's own LSTM layer and the same weights, for the stock conversion's row."""
    inputs = keras.Input((STEPS, FEATURES))
    x = keras.layers.LSTM(UNITS, return_sequences=True)(inputs)
    twin = keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(x), name="lstm_tagger_keras")
    twin.set_weights(model.get_weights())
    return twin


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join([*RECURRENT_MODELS, *CNN_MODELS]))
    parser.add_argument(
        "--runs", type=int, default=300, help="timed rounds for recurrent models (CNNs: a quarter)"
    )
    parser.add_argument("--threads", type=int, default=1, help="runtime threads (TFLite and onnxruntime)")
    parser.add_argument("--json", help="write every row and the targets here")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; threads={args.threads}"
    )
    rng = np.random.default_rng(0)
    table = []
    for name in args.models.split(","):
        if name in RECURRENT_MODELS:
            model = RECURRENT_MODELS[name]()
            inputs = rng.random((32, STEPS, FEATURES), dtype=np.float32)
            calibration = rng.random((64, STEPS, FEATURES), dtype=np.float32)
            table += bench_model(
                name,
                model,
                inputs,
                calibration,
                recurrent_forms,
                "TFLite stock conversion (WHILE), batch 1",
                args,
            )
            if name == "lstm_tagger":
                # The stock conversion of the same tagger built with keras.layers.LSTM (same weights).
                twin = lstm_tagger_stock_twin(model)
                with tempfile.TemporaryDirectory() as directory:
                    forms = {
                        "TFLite stock conversion (WHILE), batch 1": convert_tflite(
                            twin, os.path.join(directory, "k.tflite"), rnn_form="layer", batch_size=1
                        ).path,
                        "TFLite keras-nn default (auto)": convert_tflite(
                            model, os.path.join(directory, "a.tflite")
                        ).path,
                    }
                    runners = {label: TFLiteRunner(str(path), args.threads) for label, path in forms.items()}
                    rows = time_runners(runners, inputs[:1], warmup=10, runs=args.runs)
                for row in rows:
                    table.append({"model": "lstm_tagger (Keras LSTM twin)", "form": row["name"], **row})
                print(
                    "\nlstm_tagger against its keras.layers.LSTM twin's stock conversion: "
                    + ", ".join(f"{row['name']} {row['median_ms']:.3f} ms" for row in rows)
                )
        elif name in CNN_MODELS:
            size, channels = CNN_MODELS[name]
            model = keras_nn.create_model(name, input_shape=(size, size, channels), num_classes=CLASSES)
            images, labels = synthetic_images(1024, size, channels, seed=0)
            model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
            started = time.perf_counter()
            history = model.fit(images, labels, epochs=3, batch_size=32, verbose=0)
            print(
                f"\n{name}: trained 3 epochs on synthetic images in {time.perf_counter() - started:.0f} s "
                f"(train accuracy {history.history['accuracy'][-1]:.3f})"
            )
            test, _ = synthetic_images(200, size, channels, seed=1)
            table += bench_model(name, model, test, images[:100], cnn_forms, "TFLite float32", args)
        else:
            parser.error(f"unknown model {name!r}; choose from {', '.join([*RECURRENT_MODELS, *CNN_MODELS])}")
    results = targets(table)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(
                {"threads": args.threads, "rows": table, "targets": results}, f, indent=2, default=float
            )


if __name__ == "__main__":
    main()
