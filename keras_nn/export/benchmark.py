"""Batch-1 latency of exported files, timed side by side in one run."""

import os
from pathlib import Path

import numpy as np

from keras_nn.edge.bench_device import time_runners
from keras_nn.edge.contract import format_of
from keras_nn.export.runtimes import load_runner


def file_size(path):
    """Bytes on disk of a file, or of every file under a SavedModel directory."""
    path = Path(path)
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def benchmark(paths, inputs, runs=100, warmup=10, num_threads=None):
    """Median and p90 batch-1 latency of each exported file, interleaved so noise hits all alike.

    Args:
        paths: exported files (`.tflite`, `.onnx`) and SavedModel directories.
        inputs: a batch of inputs; its first example is the timed sample.
        runs: timed invokes per file.
        warmup: untimed invokes per file first.
        num_threads: threads for the TFLite and ONNX runtimes (None: their defaults).

    Returns:
        A list of dicts, one per path: `path`, `format`, `size_bytes`, `median_ms`, `p90_ms`, `mean_ms`,
        `min_ms`, `runs`.
    """
    sample = np.asarray(inputs)[:1]
    runners = {str(path): load_runner(path, num_threads=num_threads) for path in paths}
    rows = {row["name"]: row for row in time_runners(runners, sample, warmup=warmup, runs=runs)}
    return [
        {
            "path": str(path),
            "file": os.path.basename(os.path.normpath(path)),
            "format": format_of(path),
            "size_bytes": file_size(path),
            **{k: v for k, v in rows[str(path)].items() if k != "name"},
        }
        for path in paths
    ]
