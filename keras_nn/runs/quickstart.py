"""`keras-nn quickstart`: the embedded default, end to end.

Trains `simple_cnn` on the digits images and `lstm_classifier` on the digits as row-by-row sequences
(recipes `digits_cnn` and `digits_lstm`), exports both to SavedModel, TFLite float32/float16/dynamic/int8 and
ONNX, checks each file in its runtime against Keras, times each at batch 1, and writes one summary table.
"""

import json
import time

from keras_nn.errors import OutputDirError
from keras_nn.files import atomic_write_text
from keras_nn.runs.recipes import load_recipe
from keras_nn.runs.run_directory import RunDirectory
from keras_nn.runs.train import train_run
from keras_nn.viz import markdown_table

RECIPES = ("digits_cnn", "digits_lstm")
# float32 files reach about 1e-6 against Keras (README table); 1e-5 leaves room for other CPUs.
FLOAT32_TOLERANCE = 1e-5
INT8_MIN_AGREEMENT = 0.98


def _checks(model_name, metrics, parity, expected_min):
    checks = [
        {
            "what": f"{model_name}: test accuracy {metrics['test_accuracy']:.4f} >= {expected_min}",
            "ok": metrics["test_accuracy"] >= expected_min,
        }
    ]
    for row in parity:
        if row["format"] in ("savedmodel", "tflite-float32", "onnx"):
            checks.append(
                {
                    "what": f"{model_name} {row['format']}: max abs error {row['max_abs_error']:.1e} < {FLOAT32_TOLERANCE}",
                    "ok": row["max_abs_error"] < FLOAT32_TOLERANCE,
                }
            )
        if row["format"] == "tflite-int8":
            checks.append(
                {
                    "what": f"{model_name} tflite-int8: top-1 agreement {row['top1_agreement']:.4f} >= {INT8_MIN_AGREEMENT}",
                    "ok": row["top1_agreement"] >= INT8_MIN_AGREEMENT,
                }
            )
        checks.append(
            {
                "what": f"{model_name} {row['format']}: a second run repeats the first",
                "ok": row["repeat_max_abs_diff"] == 0.0,
            }
        )
    return checks


def run_quickstart(output_dir, recipes=RECIPES, overrides=()):
    """Runs the quickstart into `output_dir` (which must be new or empty).

    Args:
        output_dir: where the runs (one sub-folder per recipe) and `summary.json`/`summary.md` go.
        recipes: the recipes to run.
        overrides: `--set` strings applied to every recipe (the tests shorten training with them).

    Returns:
        The summary: `rows` (model, format, accuracy, max_abs_error, median_ms, size_kb), `checks`
        (each acceptance check and whether it held) and `seconds`.
    """
    output = RunDirectory(output_dir)
    if not output.is_empty():
        raise OutputDirError(f"output directory {str(output.root)!r} is not empty; choose another --output")
    configs = {name: load_recipe(name, overrides) for name in recipes}
    started = time.perf_counter()
    rows, checks = [], []
    for name, config in configs.items():
        result = train_run(config, output.variant(name))
        model_name = config["model"]["name"]
        rows.append(
            {
                "model": model_name,
                "format": "keras",
                "accuracy": result.metrics["test_accuracy"],
                "max_abs_error": None,
                "median_ms": None,
                "size_kb": output.variant(name).model.stat().st_size / 1024,
            }
        )
        parity = result.export.parity
        latency = {row["format"]: row for row in result.export.latency}
        for row in parity:
            rows.append(
                {
                    "model": model_name,
                    "format": row["format"],
                    "accuracy": row["accuracy"],
                    "max_abs_error": row["max_abs_error"],
                    "median_ms": latency[row["format"]]["median_ms"],
                    "size_kb": latency[row["format"]]["size_bytes"] / 1024,
                }
            )
        checks += _checks(model_name, result.metrics, parity, config["expected"]["min"])
    summary = {"rows": rows, "checks": checks, "seconds": time.perf_counter() - started}
    atomic_write_text(output.summary_json, json.dumps(summary, indent=2))
    atomic_write_text(output.summary_md, summary_markdown(summary))
    return summary


SUMMARY_COLUMNS = ("model", "format", "accuracy", "max abs error", "median ms", "size KB")


def summary_rows(summary):
    """The summary's rows as text cells under `SUMMARY_COLUMNS` (the terminal table and summary.md)."""
    return [
        (
            r["model"],
            r["format"],
            f"{r['accuracy']:.4f}",
            "-" if r["max_abs_error"] is None else f"{r['max_abs_error']:.1e}",
            "-" if r["median_ms"] is None else f"{r['median_ms']:.3f}",
            f"{r['size_kb']:.1f}",
        )
        for r in summary["rows"]
    ]


def summary_markdown(summary):
    """The summary table as Markdown (what the closing note and README quote)."""
    align = ["left", "left", "right", "right", "right", "right"]
    lines = [markdown_table(SUMMARY_COLUMNS, summary_rows(summary), align=align), ""]
    lines += [f"- {'ok' if c['ok'] else 'FAIL'}: {c['what']}" for c in summary["checks"]]
    lines.append(f"\nTotal {summary['seconds']:.0f} s.")
    return "\n".join(lines) + "\n"
