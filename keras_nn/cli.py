"""The `keras-nn` command: list, quickstart, train, evaluate, export, bench, predict, translate, detect, generate.

Exit codes: 0 ok; 2 bad usage, config, input or path (one line saying what and how to fix); 143 stopped by SIGTERM during
training (a backup written; the line printed gives the `--resume` command); 1 anything else.
"""

import argparse
import contextlib
import json
import logging
import os
import re
import shlex
import sys
import threading
import time
from pathlib import Path

from keras_nn.config.vocabulary import EXPORT_FORMATS, QUANTIZE_MODES, STRATEGIES, TFLITE_RNN_FORMS

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _timestamp():
    return time.strftime("%Y%m%d-%H%M%S")


def _split_list(text):
    return [item.strip() for item in text.split(",") if item.strip()] if text else []


def _console():
    from rich.console import Console

    # Off a terminal rich assumes 80 columns and truncates; tables are meant to be read whole in logs, in a width
    # a log viewer shows. COLUMNS, when set, wins.
    return Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120)


def _print_table(title, columns, rows):
    from rich.table import Table

    table = Table(title=title)
    rows = [[str(value) for value in row] for row in rows]
    for index, column in enumerate(columns):
        if column in ("model", "format", "file", "name"):
            # Names are never cut short: the user types them back. Long descriptions wrap instead.
            width = max([len(column), *(len(row[index]) for row in rows)])
            table.add_column(column, justify="left", no_wrap=True, min_width=width)
        elif column == "description":
            table.add_column(column, justify="left", overflow="fold")
        else:
            table.add_column(column, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    _console().print(table)


# ----------------------------------------------------------------------------------------------- commands


def cmd_list(args):
    # The catalog and the recipe files answer without TensorFlow; tests/test_catalog.py keeps the catalog true.
    from keras_nn.catalog import DATASETS, MODELS
    from keras_nn.config import recipe_summaries

    _print_table("models", ["name", "family", "description"], MODELS)
    _print_table("recipes", ["name", "description"], recipe_summaries())
    _print_table("data sets (--data)", ["name", "description"], DATASETS)
    return EXIT_OK


def _recipe_from_args(args):
    from keras_nn.runs import load_recipe

    return load_recipe(args.recipe, _overrides(args))


def _overrides(args):
    """The `--set` overrides a command's flags make, in the order they apply."""
    overrides = list(args.set or [])
    if args.data:
        overrides.append(f"data.source={args.data}")
    if args.strategy:
        overrides.append(f"training.strategy={args.strategy}")
    if args.epochs is not None:
        overrides.append(f"training.epochs={args.epochs}")
    if args.mixed_precision:
        overrides.append("training.mixed_precision=true")
    if args.xla:
        overrides.append("training.xla=true")
    return overrides


def _print_metrics(run_dir, metrics):
    shown = {k: v for k, v in metrics.items() if not isinstance(v, dict)}
    _print_table(f"run {run_dir}", ["metric", "value"], sorted(shown.items()))
    expected = metrics.get("expected")
    if expected:
        verdict = "met" if expected["met"] else "NOT met"
        print(f"expected {expected['metric']} >= {expected['min']}: {verdict} ({expected['value']})")


def _worker_arguments(args, output):
    """The `keras-nn` arguments each local worker of `--workers` runs: this command's, one --output for all."""
    arguments = ["--verbose"] if args.verbose else []
    arguments += ["train", args.recipe, "--strategy", "multi_worker", "--output", output]
    for override in args.set or []:
        arguments += ["--set", override]
    if args.data:
        arguments += ["--data", args.data]
    if args.epochs is not None:
        arguments += ["--epochs", str(args.epochs)]
    arguments += [flag for flag, on in (("--mixed-precision", args.mixed_precision), ("--xla", args.xla)) if on]
    return arguments + (["--resume"] if args.resume else [])


def _default_output(args, config):
    return args.output or os.path.join("runs", f"{config['name'] or Path(args.recipe).stem}-{_timestamp()}")


def _launch_workers(args):
    """`train --workers N`: checks the recipe's sections and starts the workers, without importing TensorFlow
    (each worker imports it; here it would only delay them by seconds). The workers check the task options."""
    from keras_nn.config.recipe import load_recipe_sections
    from keras_nn.runs.launch import check_worker_count, launch_workers

    check_worker_count(args.workers, args.strategy)
    config = load_recipe_sections(args.recipe, _overrides(args))
    check_worker_count(args.workers, config["training"]["strategy"])
    return launch_workers(_worker_arguments(args, _default_output(args, config)), args.workers)


def cmd_train(args):
    if args.workers is not None:
        return _launch_workers(args)
    from keras_nn.runs import run_ablation, run_comparison, train_run

    config = _recipe_from_args(args)
    output = _default_output(args, config)
    if config["ablation"] != "none" or config["comparison"]:
        experiment = run_comparison if config["comparison"] else run_ablation
        summary = experiment(config, output, resume=args.resume)
        _print_table(summary["title"], summary["columns"], summary["rows"])
        return EXIT_OK
    result = train_run(config, output, resume=args.resume)
    _print_metrics(result.run_dir, result.metrics)
    if result.complete:
        return EXIT_OK  # `--resume` of a finished run: the metrics it has, and nothing written
    if result.export is not None:
        _print_export_rows(result.export)
    report = Path(result.run_dir) / "report.md"
    if report.is_file():
        print(f"report: {report}")
    return EXIT_OK


def cmd_evaluate(args):
    from keras_nn.runs import evaluate_run

    _print_metrics(args.run_dir, evaluate_run(args.run_dir))
    return EXIT_OK


def _print_export_rows(report):
    from keras_nn.runs.export import parity_summary

    latency = {row["path"]: row for row in report.latency}
    rows = []
    for row in report.parity:
        name = os.path.basename(os.path.normpath(row["path"]))
        timing = latency.get(row["path"], {})
        score, agreement, error = parity_summary(row)
        rows.append(
            (
                name,
                row["runtime"],
                "-" if score is None else f"{score:.4f}",
                "-" if agreement is None else f"{agreement:.4f}",
                "-" if error is None else f"{error:.2e}",
                f"{timing['median_ms']:.3f}" if timing else "-",
                f"{timing['size_bytes'] / 1024:.1f}" if timing else "-",
            )
        )
    samples = sorted({row["samples"] for row in report.parity if row.get("samples")})
    # The parity check scores a sample of the test split, so its accuracy may differ from the run's test_accuracy.
    scope = f" (scores on {', '.join(map(str, samples))} test examples)" if samples else ""
    _print_table(
        f"export {report.export_dir}{scope}",
        ["file", "runtime", "accuracy / mAP@0.5", "agreement", "max abs err", "median ms", "size KB"],
        rows,
    )
    from keras_nn.edge.operators import format_operators

    # The operators show whether a recurrent layer became the fused / native op or a loop, and any Flex op.
    for row in report.parity:
        if row.get("operators"):
            name = os.path.basename(os.path.normpath(row["path"]))
            form = f" [rnn_form={row['rnn_form']}]" if row.get("rnn_form") else ""
            print(f"{name}{form}: {format_operators(row['operators'])}")


def cmd_export(args):
    from keras_nn.errors import MissingPathError
    from keras_nn.export import export_model
    from keras_nn.runs import RunDirectory, export_run, load_array, load_model_file

    source = Path(args.source)
    formats = _split_list(args.format)
    quantize = _split_list(args.quantize)
    if not source.exists():
        raise MissingPathError(f"{str(source)!r} does not exist; give a run directory or a .keras file")
    options = {"rnn_form": args.rnn_form, "streaming": args.streaming}
    if source.is_dir() and not args.inputs:
        report = export_run(
            source,
            formats=formats or None,
            quantize=quantize if args.quantize is not None else None,
            **options,
        )
    else:
        model = load_model_file(source if source.is_file() else RunDirectory(source).model)
        inputs = load_array(args.inputs, what="--inputs") if args.inputs else None
        if "int8" in quantize and inputs is None:
            from keras_nn.errors import ConfigError

            raise ConfigError("--quantize int8 on a bare .keras file needs --inputs FILE.npy (calibration data)")
        if args.output:
            export_dir = Path(args.output)
        else:
            # A run's files go to its own export/; a bare .keras file's beside it.
            export_dir = RunDirectory(source).export if source.is_dir() else source.parent / "export"
        report = export_model(
            model,
            export_dir,
            formats=formats or EXPORT_FORMATS,
            quantize=quantize,
            representative_data=inputs,
            verify_inputs=inputs if args.verify or inputs is not None else None,
            rnn_form=args.rnn_form or "auto",
            streaming=args.streaming,
        )
    for path in report.files:
        print(f"wrote {path}")
    for path in report.kept:
        print(f"kept {path} from the earlier export (its format was not asked for)")
    if report.parity:
        _print_export_rows(report)
    return EXIT_OK


def cmd_bench(args):
    import numpy as np

    from keras_nn.edge.contract import SAVED_MODEL_DIR, is_cached_step_model, is_streaming_model
    from keras_nn.errors import MissingPathError
    from keras_nn.export import benchmark
    from keras_nn.export.runtimes import load_runner
    from keras_nn.runs import load_array

    export_dir = Path(args.export_dir)
    if not export_dir.is_dir():
        raise MissingPathError(f"export directory {str(export_dir)!r} does not exist")
    # A cached step takes three inputs: its parity row times it per token instead.
    paths = sorted(
        p for p in export_dir.iterdir() if p.suffix in (".tflite", ".onnx") and not is_cached_step_model(p)
    )
    if (export_dir / SAVED_MODEL_DIR).is_dir():
        paths.insert(0, export_dir / SAVED_MODEL_DIR)
    if not paths:
        raise MissingPathError(f"{str(export_dir)!r} holds no .tflite, .onnx or {SAVED_MODEL_DIR}/ to time")
    # A streaming file's input is one step; take the whole-input shape from another file when there is one.
    whole = [p for p in paths if not is_streaming_model(str(p))] or paths
    expected = [d if d > 0 else None for d in load_runner(whole[-1]).input_shape]
    if args.inputs:
        inputs = load_array(args.inputs, what="--inputs")
        if inputs.ndim == len(expected) - 1:
            inputs = inputs[None]
        if inputs.ndim != len(expected) or any(e not in (None, g) for e, g in zip(expected[1:], inputs.shape[1:], strict=False)):
            from keras_nn.errors import ShapeError

            example = ", ".join("?" if d is None else str(d) for d in expected[1:])
            raise ShapeError(
                f"--inputs {args.inputs!r} has shape {inputs.shape}, but {whole[-1].name} takes batches of shape "
                f"(N, {example}); give a .npy of that shape or leave --inputs out for random inputs"
            )
    else:
        inputs = np.random.default_rng(0).random([d or 1 for d in expected], dtype=np.float32)
    rows = benchmark(paths, inputs, runs=args.runs, num_threads=args.threads)
    baseline = rows[0]["median_ms"]
    _print_table(
        f"batch-1 latency, {args.runs} interleaved runs (ratio: median against {rows[0]['file']})",
        ["file", "size KB", "median ms", "p90 ms", "ratio"],
        [
            (r["file"], f"{r['size_bytes'] / 1024:.1f}", f"{r['median_ms']:.3f}", f"{r['p90_ms']:.3f}", f"{r['median_ms'] / baseline:.2f}")
            for r in rows
        ],
    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return EXIT_OK


def cmd_predict(args):
    from keras_nn.runs import load_array, predict_array, predict_texts

    source = Path(args.model)
    if source.is_dir() and not args.inputs.endswith(".npy"):
        # A text input for a run that reads text (seq2seq, text classification).
        for row in predict_texts(source, [args.inputs]):
            print(f"{row['input']}\t{row.get('output', row.get('class'))}\tscore {row['score']:.4f}")
        return EXIT_OK
    outputs = predict_array(source, load_array(args.inputs, what="input"))
    for index, row in enumerate(outputs):
        print(f"{index}\tclass {int(row.argmax())}\tscore {float(row.max()):.4f}")
    return EXIT_OK


def cmd_translate(args):
    from keras_nn.runs import predict_texts

    rows = predict_texts(args.run_dir, args.texts, beam_width=args.beam_width, attention_png=args.attention)
    for row in rows:
        print(f"{row['input']}\t{row['output']}\tlog-prob {row['score']:.4f}")
    if args.attention:
        print(f"wrote {args.attention}")
    return EXIT_OK


def cmd_detect(args):
    from keras_nn.edge.run_detector import format_summary
    from keras_nn.runs import detect_source

    summary = detect_source(
        args.model,
        args.source,
        args.output,
        fmt=args.format,
        score_threshold=args.score_threshold,
        iou_threshold=args.iou_threshold,
        max_frames=args.max_frames,
        num_threads=args.threads,
    )
    print(format_summary(summary))
    return EXIT_OK


def cmd_generate(args):
    from keras_nn.runs import generate_images, generate_text

    if args.prompts:
        rows = generate_text(
            args.run_dir, args.prompts, length=args.length, temperature=args.temperature, top_k=args.top_k,
            top_p=args.top_p, seed=args.seed,
        )
        for row in rows:
            print(f"{row['input']}{row['output']}\tmean log-prob {row['score']:.4f}")
        return EXIT_OK
    output = args.output or "generated.png"
    images, labels, path = generate_images(args.run_dir, output, count=args.count, labels=args.label, seed=args.seed)
    drawn = "" if labels is None else f" of classes {sorted(set(labels))}"
    print(f"wrote {path}: {len(images)} images{drawn}")
    return EXIT_OK


def cmd_quickstart(args):
    from keras_nn.runs import run_quickstart
    from keras_nn.runs.quickstart import SUMMARY_COLUMNS, summary_rows

    output = args.output or os.path.join("runs", f"quickstart-{_timestamp()}")
    summary = run_quickstart(output)
    _print_table(f"keras-nn quickstart ({summary['seconds']:.0f} s) -> {output}", SUMMARY_COLUMNS, summary_rows(summary))
    failed = [check for check in summary["checks"] if not check["ok"]]
    for check in summary["checks"]:
        print(f"{'ok  ' if check['ok'] else 'FAIL'} {check['what']}")
    return EXIT_FAILURE if failed else EXIT_OK


# -------------------------------------------------------------------------------------------------- parser


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-nn", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument(
        "--verbose", action="store_true", help="also show TensorFlow's own log lines (start-up, devices, tf.data)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    commands.add_parser("list", help="models, recipes, embedded data sets").set_defaults(run=cmd_list)

    quick = commands.add_parser("quickstart", help="train, export, verify and benchmark two models on digits")
    quick.add_argument("--output", help="output directory (default runs/quickstart-TIMESTAMP)")
    quick.set_defaults(run=cmd_quickstart)

    train = commands.add_parser("train", help="train a recipe")
    train.add_argument("recipe", help="a recipe name (keras-nn list) or a .yaml path")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe key, e.g. training.epochs=3")
    train.add_argument(
        "--data", help="embedded:NAME | generated:NAME | tfds:NAME | dir:PATH (the sources `keras-nn list` shows)"
    )
    train.add_argument("--strategy", choices=STRATEGIES, help="tf.distribute strategy (default: the recipe's, auto)")
    train.add_argument("--epochs", type=int, help="training epochs (default: the recipe's)")
    train.add_argument("--output", help="run directory (default runs/RECIPE-TIMESTAMP)")
    train.add_argument("--mixed-precision", action="store_true", help="train in mixed_float16")
    train.add_argument("--xla", action="store_true", help="compile the train step with XLA")
    train.add_argument("--resume", action="store_true", help="continue the interrupted run in --output")
    train.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="start N local worker processes of one multi-worker run (TF_CONFIG on localhost; worker 0 writes)",
    )
    train.set_defaults(run=cmd_train)

    evaluate = commands.add_parser("evaluate", help="evaluate a run's model on its validation and test data")
    evaluate.add_argument("run_dir")
    evaluate.set_defaults(run=cmd_evaluate)

    export = commands.add_parser("export", help="export a run or a .keras file")
    export.add_argument("source", help="a run directory or a .keras file")
    export.add_argument(
        "--format", default="", help=f"comma list of {','.join(EXPORT_FORMATS)} (default: the recipe's, or all)"
    )
    export.add_argument("--quantize", default=None, help=f"comma list of {','.join(QUANTIZE_MODES)} TFLite variants")
    export.add_argument("--inputs", help=".npy batch for calibration and parity (needed for a bare .keras with int8)")
    export.add_argument("--verify", action="store_true", help="check parity in each runtime (runs always verify)")
    export.add_argument("--output", help="export directory for a bare .keras file (default: beside it)")
    export.add_argument(
        "--rnn-form",
        choices=TFLITE_RNN_FORMS,
        default=None,
        help="TFLite form of recurrent layers (default: the recipe's, or auto)",
    )
    export.add_argument(
        "--streaming", action="store_true", help="also write single-step models (model.stream.tflite/.onnx)"
    )
    export.set_defaults(run=cmd_export)

    bench = commands.add_parser("bench", help="batch-1 latency table of every exported file")
    bench.add_argument("export_dir")
    bench.add_argument("--inputs", help=".npy batch; its first example is timed (default: random)")
    bench.add_argument("--runs", type=int, default=100, help="timed batch-1 runs per file, interleaved (default 100)")
    bench.add_argument("--threads", type=int, default=None, help="CPU threads for each runtime (default: its own)")
    bench.add_argument("--json", help="also write the table as JSON here")
    bench.set_defaults(run=cmd_bench)

    predict = commands.add_parser("predict", help="top-1 class of each example in a .npy batch")
    predict.add_argument("model", help="a run directory or a .keras file")
    predict.add_argument("inputs", help=".npy batch or single example")
    predict.set_defaults(run=cmd_predict)

    translate = commands.add_parser(
        "translate", help="decode texts with a seq2seq run (dates -> ISO dates) or a translation run (Korean -> English)"
    )
    translate.add_argument("run_dir", help="a seq2seq or translation run directory")
    translate.add_argument("texts", nargs="+", help="source texts, e.g. '2024년 3월 5일' or '나는 사과를 3개 먹었다.'")
    translate.add_argument("--beam-width", type=int, default=None, help="1 for greedy (default: the recipe's)")
    translate.add_argument("--attention", help="also write the attention heat maps to this PNG")
    translate.set_defaults(run=cmd_translate)

    generate = commands.add_parser(
        "generate",
        help="continue prompts with a language_model run, or draw images with a gan run into a PNG",
    )
    generate.add_argument("run_dir", help="a language_model or gan run directory")
    generate.add_argument("prompts", nargs="*", help="texts to continue (language models), e.g. 'the cats that'")
    generate.add_argument("--length", type=int, default=None, help="tokens to sample (default: the recipe's)")
    generate.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default 1.0)")
    generate.add_argument("--top-k", type=int, default=None, help="sample among the k likeliest tokens")
    generate.add_argument("--top-p", type=float, default=None, help="sample from the smallest set with this mass")
    generate.add_argument("--count", type=int, default=16, help="images to draw (gan; default 16)")
    generate.add_argument(
        "--label", type=int, nargs="+", default=None, help="class(es) to draw (conditional gan): one, or one per image"
    )
    generate.add_argument("--output", help="the PNG of the images (gan; default generated.png)")
    generate.add_argument("--seed", type=int, default=0, help="the sampler's or the noise's seed (default 0)")
    generate.set_defaults(run=cmd_generate)

    detect = commands.add_parser(
        "detect", help="draw a detector's boxes on a video, webcam, image or image folder and write it annotated"
    )
    detect.add_argument("model", help="a detection run directory, or a .tflite, .onnx or .keras file")
    detect.add_argument("--source", required=True, help="a video file, an image, a folder of images, or a webcam index")
    detect.add_argument("--output", required=True, help="an .mp4 file or a folder for the annotated frames (new)")
    detect.add_argument("--format", choices=("tflite", "onnx", "keras"), default=None, help="default: tflite")
    detect.add_argument("--score-threshold", type=float, default=None, help="hide detections below this score")
    detect.add_argument("--iou-threshold", type=float, default=None, help="NMS IoU threshold (--format keras only)")
    detect.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    detect.add_argument("--threads", type=int, default=None, help="CPU threads for the TFLite or ONNX runtime")
    detect.set_defaults(run=cmd_detect)
    return parser


# TensorFlow's C++ log below ERROR-and-fatal: its start-up notes (oneDNN, CUDA drivers, CPU features, cuInit on a
# machine without a GPU), tf.data and session notes. `--verbose` leaves them on.
QUIET_TENSORFLOW = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR"}
# What the native libraries print past those settings: absl's lines from before it reads them (`I0000 ... port.cc:153]
# oneDNN ...`), the CPU-feature note's second line, cuInit's failure on a machine without a GPU, and TFLite's
# XNNPACK note, which no setting of ai-edge-litert turns off.
NATIVE_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IW]\d{4} \S+ +\d+ [\w.]+:\d+\]"
    r"|E\d{4} \S+ +\d+ cuda_\w+\.cc:\d+\] failed call to cuInit"
    r"|To enable the following instructions: .* rebuild TensorFlow"
    r"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU"
)


@contextlib.contextmanager
def quiet_native_logs():
    """Drops the native libraries' log lines (`NATIVE_NOISE`) from the process's stderr; passes every other line.

    The libraries write to file descriptor 2 directly, so the descriptor is pointed at a pipe that a thread reads
    line by line; Python's own stderr, tracebacks and keras-nn's lines pass through unchanged.
    """
    for name, value in QUIET_TENSORFLOW.items():
        os.environ.setdefault(name, value)
    sys.stderr.flush()
    terminal = os.dup(2)
    reader, writer = os.pipe()
    os.dup2(writer, 2)
    os.close(writer)

    # The thread gets its own copy of the terminal's descriptor: a quick command may end before it starts.
    forwarded = os.dup(terminal)

    def forward():
        with os.fdopen(reader, "rb") as lines, os.fdopen(forwarded, "wb", buffering=0) as out:
            for line in lines:
                if not NATIVE_NOISE.match(line.decode(errors="replace")):
                    out.write(line)

    thread = threading.Thread(target=forward, name="keras-nn-stderr", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(terminal, 2)  # closes the pipe's last writer, so the thread reads to the end and stops
        os.close(terminal)
        thread.join(timeout=5)


@contextlib.contextmanager
def progress_lines():
    """Shows keras-nn's own log (what a data folder held, each export phase, the strategy) on stderr, one line
    each, while a command runs; stdout keeps the tables and results."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    package = logging.getLogger("keras_nn")
    level, propagate = package.level, package.propagate
    package.addHandler(handler)
    package.setLevel(logging.INFO)
    # A library below (absl, TFDS) may give the root logger a handler of its own; the lines are shown once.
    package.propagate = False
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(level)
        package.propagate = propagate


def resume_command(argv, run_root):
    """The command line that continues an interrupted `keras-nn train`: the same arguments, the run directory
    as `--output`, and `--resume`."""
    words = list(sys.argv[1:] if argv is None else argv)
    if not any(word == "--output" or word.startswith("--output=") for word in words):
        words += ["--output", str(run_root)]
    if "--resume" not in words:
        words.append("--resume")
    return shlex.join(["keras-nn", *words])


def main(argv=None):
    """Entry point of the `keras-nn` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from keras_nn.version import __version__

        print(__version__)
        return EXIT_OK
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    from keras_nn.errors import UsageError, WorkerLostError

    quiet = contextlib.nullcontext() if args.verbose else quiet_native_logs()
    try:
        with quiet, progress_lines():
            return args.run(args)
    except UsageError as error:
        print(f"keras-nn: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except WorkerLostError as error:
        print(f"keras-nn: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as error:
        # Only a command that trained has loaded the module that raises Preempted (SIGTERM during training).
        preemption = sys.modules.get("keras_nn.training.preemption")
        if preemption is None or not isinstance(error, preemption.Preempted):
            raise
        print(f"keras-nn: {error}; continue with: {resume_command(argv, error.run_root)}", file=sys.stderr)
        return preemption.PREEMPTED_EXIT_CODE
    except KeyboardInterrupt:
        print("keras-nn: interrupted; `keras-nn train ... --output DIR --resume` continues a run", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
