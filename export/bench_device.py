"""On-device latency benchmark for exported models (numpy, ai-edge-litert and onnxruntime only).

Usage on a device::

    python bench_device.py model.tflite model.int8.tflite model.onnx --input x.npy [--runs 100] [--warmup 10]
        [--threads N] [--json latency.json]
    python bench_device.py EXPORT_DIR            # every .tflite and .onnx file in the folder

Every file is timed on the same batch-1 example, interleaved round by round, and a table of median and p90
latency is printed with each median's ratio to the first file's. Exit codes: 0 ok, 2 for a missing file, an
unknown extension or an input that does not fit a model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

# The kit's own modules: from the package when this file runs inside one (installed as keras_nn.edge, or a
# copied folder run with `python -m kit.bench_device`), else from this folder, which Python puts first on
# sys.path for a plain script (`python bench_device.py`).
if __package__:
    from . import contract, edge_common, run_onnx, run_streaming, run_tflite
else:
    import contract
    import edge_common
    import run_onnx
    import run_streaming
    import run_tflite

RUNNERS = {".tflite": run_tflite.TFLiteRunner, ".onnx": run_onnx.ONNXRunner}


def load_runner(path: str, num_threads: int | None = None):
    """Build the runner for ``path`` by its extension: ``.tflite`` -> TFLiteRunner, ``.onnx`` -> ONNXRunner;
    a streaming export (``*.stream.tflite``, ``*.stream.onnx``) -> StreamingRunner, timed one step at a time.

    Raises:
        ValueError: for any other extension, naming it and the allowed ones.
    """
    ext = os.path.splitext(path)[1].lower()
    if ext not in RUNNERS:
        allowed = ", ".join(sorted(RUNNERS))
        raise edge_common.EdgeKitUsageError(
            f"unsupported model extension {ext or '(none)'!r} for {path}: use one of {allowed}"
        )
    if contract.is_streaming_model(path):
        return run_streaming.StreamingRunner(path, num_threads=num_threads)
    if contract.is_cached_step_model(path):
        raise edge_common.EdgeKitUsageError(
            f"{path} is a decoder's cached step (inputs token_ids, cache, cache_index); this kit times one-input "
            "and streaming models only: its parity row in parity.json has its milliseconds per token"
        )
    return RUNNERS[ext](path, num_threads=num_threads)


def time_runners(runners: dict, sample: np.ndarray, warmup: int = 10, runs: int = 100) -> list[dict]:
    """Time ``invoke_prepared`` of every runner on one batch-1 example, interleaved.

    Each round times one invoke of every runner, and the order rotates each round, so machine noise (frequency
    changes, other processes, thermal throttling) hits all runners alike instead of whichever ran last.

    Args:
        runners: name -> runner (anything with ``prepare`` and ``invoke_prepared``).
        sample: one example with batch dim 1, float32.
        warmup: untimed rounds first (allocations, caches, lazy delegate setup).
        runs: timed rounds.

    Returns:
        One dict per runner, in the order given: ``name``, ``median_ms``, ``p90_ms``, ``mean_ms``, ``min_ms``,
        ``runs``.
    """
    sample = np.asarray(sample)
    if sample.ndim == 0 or sample.shape[0] != 1:
        raise edge_common.EdgeKitUsageError(
            f"sample must be one example with batch dim 1, got shape {sample.shape}"
        )
    if runs < 1 or warmup < 0:
        raise edge_common.EdgeKitUsageError(
            f"runs must be >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}"
        )
    names = list(runners)
    if not names:
        return []
    # Quantization and casting happen here, outside the timed part.
    prepared = {}
    for name in names:
        try:
            prepared[name] = runners[name].prepare(sample)
        except edge_common.InputShapeError as err:
            # All files are timed on one sample; say which of them does not take it.
            raise edge_common.InputShapeError(f"{name}: {err}") from None
    for _ in range(warmup):
        for name in names:
            runners[name].invoke_prepared(prepared[name])

    times_ns = {name: [] for name in names}
    for r in range(runs):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            runner, feed = runners[name], prepared[name]
            start = time.perf_counter_ns()
            runner.invoke_prepared(feed)
            times_ns[name].append(time.perf_counter_ns() - start)

    results = []
    for name in names:
        ms = np.asarray(times_ns[name], dtype=np.float64) / 1e6
        results.append(
            {
                "name": name,
                "median_ms": float(np.median(ms)),
                "p90_ms": float(np.percentile(ms, 90)),
                "mean_ms": float(ms.mean()),
                "min_ms": float(ms.min()),
                "runs": int(ms.size),
            }
        )
    return results


def random_sample(input_shape, seed: int = 0) -> np.ndarray:
    """A float32 sample in [0, 1) of the model's input shape, dynamic dims set to 1."""
    shape = tuple(d if d > 0 else 1 for d in input_shape)
    shape = (1,) + shape[1:] if shape else shape
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def format_table(rows: list[dict]) -> str:
    """The benchmark table: file, size in KB, median and p90 ms, and each median over the first file's."""
    width = max([len("file")] + [len(r["name"]) for r in rows])
    lines = [f"{'file':<{width}}  {'size KB':>9}  {'median ms':>9}  {'p90 ms':>9}  {'vs first':>8}"]
    base = rows[0]["median_ms"] if rows else 0.0
    for r in rows:
        ratio = f"{r['median_ms'] / base:.2f}x" if base > 0 else "-"
        lines.append(
            f"{r['name']:<{width}}  {r['size_kb']:>9.1f}  {r['median_ms']:>9.3f}  {r['p90_ms']:>9.3f}  {ratio:>8}"
        )
    return "\n".join(lines)


def expand_paths(paths: list[str]) -> list[str]:
    """Files as given; a folder stands for its ``.tflite`` and ``.onnx`` files (sorted, not recursive)."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(
                os.path.join(path, f)
                for f in os.listdir(path)
                if os.path.splitext(f)[1].lower() in RUNNERS and os.path.isfile(os.path.join(path, f))
            )
            if not found:
                allowed = ", ".join(sorted(RUNNERS))
                raise edge_common.EdgeKitUsageError(f"no model files ({allowed}) in folder {path}")
            files.extend(found)
        else:
            files.append(path)
    return files


def _unique_names(paths: list[str]) -> list[str]:
    names = [os.path.basename(p) for p in paths]
    # Two files with the same name in different folders: show the paths so the rows stay apart.
    return names if len(set(names)) == len(names) else list(paths)


def main(argv=None) -> int:
    prog = "bench_device.py"
    parser = argparse.ArgumentParser(
        prog=prog, description="Latency of .tflite and .onnx models on this device, interleaved, batch 1."
    )
    parser.add_argument(
        "files", nargs="+", help="exported models (.tflite, .onnx), or folders to take every model file from"
    )
    parser.add_argument("--input", help="a .npy sample (one example, or a batch: the first example is used)")
    parser.add_argument("--runs", type=int, default=100, help="timed rounds (default 100)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed rounds first (default 10)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for every runtime")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        return edge_common.fail(prog, f"--threads must be >= 1, got {args.threads}")

    try:
        files = expand_paths(args.files)
        names = _unique_names(files)
        runners = {name: load_runner(path, args.threads) for name, path in zip(names, files, strict=True)}
        first = runners[names[0]]
        if args.input:
            sample = edge_common.checked_batch(
                edge_common.load_npy(args.input), first.input_shape, args.input
            )[:1]
        else:
            sample = random_sample(first.input_shape)
        results = time_runners(runners, sample.astype(np.float32, copy=False), args.warmup, args.runs)
    except (FileNotFoundError, edge_common.EdgeKitUsageError, ImportError) as err:
        return edge_common.fail(prog, str(err))

    for row, path in zip(results, files, strict=True):
        row["path"] = path
        row["size_kb"] = os.path.getsize(path) / 1024.0
    print(format_table(results))
    if args.json:
        report = {
            "sample_shape": list(sample.shape),
            "threads": args.threads,
            "warmup": args.warmup,
            "results": results,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
