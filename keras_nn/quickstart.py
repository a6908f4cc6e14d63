"""`keras-nn quickstart`: the embedded default, end to end.

Trains `simple_cnn` on the digits images and `lstm_classifier` on the digits as row-by-row sequences
(recipes `digits_cnn` and `digits_lstm`), exports both to SavedModel, TFLite float32/float16/dynamic/int8 and
ONNX, checks each file in its runtime against Keras, times each at batch 1, and writes one summary table.
"""

import json
import time
from pathlib import Path

from keras_nn.errors import OutputDirError
from keras_nn.training import load_recipe, train

RECIPES = ("digits_cnn", "digits_lstm")
FLOAT32_TOLERANCE = 1e-4
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
    output_dir = Path(output_dir)
    if output_dir.exists() and any(output_dir.iterdir()):
        raise OutputDirError(f"output directory {str(output_dir)!r} is not empty; choose another --output")
    configs = {name: load_recipe(name, overrides) for name in recipes}
    started = time.perf_counter()
    rows, checks = [], []
    for name, config in configs.items():
        result = train(config, output_dir / name)
        model_name = config["model"]["name"]
        rows.append(
            {
                "model": model_name,
                "format": "keras",
                "accuracy": result.metrics["test_accuracy"],
                "max_abs_error": None,
                "median_ms": None,
                "size_kb": (result.run_dir / "model.keras").stat().st_size / 1024,
            }
        )
        parity = json.loads((result.run_dir / "export" / "parity.json").read_text())
        latency = {row["format"]: row for row in json.loads((result.run_dir / "export" / "latency.json").read_text())}
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
    (output_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    (output_dir / "summary.md").write_text(summary_markdown(summary))
    return summary


def summary_markdown(summary):
    """The summary table as Markdown (what the closing note and README quote)."""
    lines = [
        "| model | format | accuracy | max abs error | median ms | size KB |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in summary["rows"]:
        error = "-" if r["max_abs_error"] is None else f"{r['max_abs_error']:.1e}"
        latency = "-" if r["median_ms"] is None else f"{r['median_ms']:.3f}"
        lines.append(f"| {r['model']} | {r['format']} | {r['accuracy']:.4f} | {error} | {latency} | {r['size_kb']:.1f} |")
    lines.append("")
    lines += [f"- {'ok' if c['ok'] else 'FAIL'}: {c['what']}" for c in summary["checks"]]
    lines.append(f"\nTotal {summary['seconds']:.0f} s.")
    return "\n".join(lines) + "\n"
