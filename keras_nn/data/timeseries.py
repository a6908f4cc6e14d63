"""Time series as forecasting examples: a window of past steps -> the next `horizon` steps.

A series comes from a column (or columns) of a CSV file (`dir:PATH.csv`) or is generated
(`generated:sine`, a synthetic noisy seasonal sine with a trend). It is split *chronologically* into
train | validation | test segments, and windows are cut inside each segment, so no window reads or predicts
across a boundary (no leakage of the future into training). Every feature is normalized with the mean and
standard deviation of the training segment only. The training windows are shuffled as whole examples; the
steps inside a window keep their order.

Example:
    >>> data = load_timeseries("generated:sine", window=72, horizon=24)
    >>> x, y = next(iter(data.train))
    >>> x.shape, y.shape          # (batch, window, features), (batch, horizon, targets)
    (TensorShape([64, 72, 1]), TensorShape([64, 24, 1]))
    >>> data.denormalize(y)       # back to the series' own units
"""

from __future__ import annotations

import csv
import dataclasses
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_nn.data.bundle import DatasetBundle
from keras_nn.data.pipeline import batch_examples
from keras_nn.errors import ConfigError, DataError, MissingPathError

GENERATED = {"sine": "noisy daily + weekly sine with a linear trend (synthetic, hourly steps)"}


def generate_series(length=5000, period=24, long_period=168, trend=0.0005, noise=0.2, seed=0):
    """A synthetic series: `trend * t + sin(2 pi t / period) + 0.5 sin(2 pi t / long_period) + N(0, noise)`.

    With hourly steps the defaults are a daily and a weekly season on a slow upward trend. It is synthetic,
    made to check that a forecaster learns seasonality beyond the naive last-value forecast.

    Args:
        length: number of steps.
        period, long_period: the two seasonal periods in steps.
        trend: slope per step.
        noise: standard deviation of the Gaussian noise.
        seed: seed of the noise.

    Returns:
        A float32 array `[length, 1]`.
    """
    if not isinstance(length, int) or length < 2:
        raise ConfigError(f"series length={length!r} must be an integer >= 2")
    t = np.arange(length, dtype=np.float64)
    series = trend * t + np.sin(2 * np.pi * t / period) + 0.5 * np.sin(2 * np.pi * t / long_period)
    series += np.random.default_rng(seed).normal(0.0, noise, size=length)
    return series.astype(np.float32)[:, None]


def read_csv_columns(path, columns=None):
    """Reads numeric columns of a CSV/TSV file with a header, in file (time) order.

    Args:
        path: the file.
        columns: column names; None for the single numeric column (the file must have exactly one).

    Returns:
        `(values [rows, len(columns)] float32, column names)`.

    Raises:
        MissingPathError: no such file. DataError: missing column, non-numeric or empty cells.
    """
    path = Path(os.path.expanduser(str(path)))
    if not path.is_file():
        raise MissingPathError(f"time-series file {str(path)!r} does not exist")
    delimiter = "\t" if path.suffix in (".tsv", ".txt") else ","
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle, delimiter=delimiter))
    if len(rows) < 3:
        raise DataError(f"{str(path)!r} needs a header row and at least two rows of values")
    header, rows = [name.strip() for name in rows[0]], [row for row in rows[1:] if any(cell.strip() for cell in row)]
    if columns is None:
        numeric = [name for index, name in enumerate(header) if all(_is_number(row[index]) for row in rows[:50] if index < len(row))]
        if len(numeric) != 1:
            raise ConfigError(
                f"{str(path)!r} has {len(numeric)} numeric columns ({', '.join(numeric) or 'none'}); name the "
                "series with task_options.columns=[NAME]"
            )
        columns = numeric
    missing = [name for name in columns if name not in header]
    if missing:
        raise DataError(f"{str(path)!r} has no column(s) {', '.join(missing)}; its columns: {', '.join(header)}")
    indices = [header.index(name) for name in columns]
    values = np.empty((len(rows), len(indices)), np.float32)
    for line, row in enumerate(rows, start=2):
        for j, index in enumerate(indices):
            cell = row[index].strip() if index < len(row) else ""
            if not _is_number(cell):
                raise DataError(f"{str(path)!r} line {line}: column {columns[j]!r} holds {cell!r}, not a number")
            values[line - 2, j] = float(cell)
    return values, list(columns)


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower() not in ("nan", "inf", "-inf", "")


def make_windows(series, window, horizon, targets=(0,), stride=1):
    """Cuts a series into `(past window, next horizon)` examples.

    Example `i` reads steps `[i * stride, i * stride + window)` and predicts steps
    `[i * stride + window, i * stride + window + horizon)` of the target features.

    Args:
        series: `[steps, features]` array.
        window: past steps per example.
        horizon: future steps per example.
        targets: feature indices to predict.
        stride: steps between the starts of consecutive windows.

    Returns:
        `(x [N, window, features], y [N, horizon, len(targets)])`; N is 0 when the series is too short.
    """
    series = np.asarray(series, np.float32)
    if series.ndim == 1:
        series = series[:, None]
    count = (len(series) - window - horizon) // stride + 1 if len(series) >= window + horizon else 0
    starts = np.arange(max(count, 0)) * stride
    x = np.stack([series[s : s + window] for s in starts]) if count else np.zeros((0, window, series.shape[1]), np.float32)
    future = [series[s + window : s + window + horizon][:, list(targets)] for s in starts]
    y = np.stack(future) if count else np.zeros((0, horizon, len(targets)), np.float32)
    return x, y


def chronological_bounds(length, validation_fraction, test_fraction):
    """`{split: (first, end)}` step ranges of the train | validation | test segments, in time order."""
    test_start = length - int(round(length * test_fraction))
    validation_start = test_start - int(round(length * validation_fraction))
    return {"train": (0, validation_start), "validation": (validation_start, test_start), "test": (test_start, length)}


@dataclasses.dataclass
class TimeSeriesBundle(DatasetBundle):
    """A `DatasetBundle` of forecasting windows, with what is needed to undo the normalization.

    Args (besides `DatasetBundle`'s):
        series: the raw series `[steps, features]` (original units).
        columns: feature names.
        targets: indices of the forecast features.
        window, horizon, stride: the windowing.
        mean, std: per-feature training statistics (`x_normalized = (x - mean) / std`).
        bounds: `{split: (first, end)}` step ranges of the chronological segments.
    """

    series: np.ndarray | None = None
    columns: list = dataclasses.field(default_factory=list)
    targets: list = dataclasses.field(default_factory=list)
    window: int = 0
    horizon: int = 0
    stride: int = 1
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    bounds: dict = dataclasses.field(default_factory=dict)

    def denormalize(self, y):
        """Forecasts or targets `[..., horizon, len(targets)]` back in the series' units."""
        return np.asarray(y) * self.std[self.targets] + self.mean[self.targets]

    def windows(self, split="test", normalized=True):
        """`(x, y)` arrays of a split's windows, in time order."""
        first, end = self.bounds[split]
        series = self.series[first:end]
        if normalized:
            series = (series - self.mean) / self.std
        return make_windows(series, self.window, self.horizon, self.targets, self.stride)


def load_timeseries(
    source="generated:sine",
    window=72,
    horizon=24,
    columns=None,
    target_columns=None,
    stride=1,
    batch_size=64,
    validation_fraction=0.1,
    test_fraction=0.2,
    seed=0,
    shuffle_buffer=10000,
    series_length=5000,
    noise=0.2,
    cache=True,
):
    """Loads a series and windows it into batched tf.data pipelines.

    Args:
        source: `"generated:sine"` or `"dir:PATH.csv"` (or `.tsv`).
        window: past steps per example.
        horizon: future steps to predict.
        columns: CSV feature columns (default: the file's single numeric column).
        target_columns: the columns to forecast (default: the first of `columns`).
        stride: steps between consecutive windows.
        batch_size: windows per batch.
        validation_fraction, test_fraction: shares of the series (by time) for the later segments.
        seed: seed of the generated noise and of the training shuffle.
        shuffle_buffer: training shuffle buffer (whole windows are shuffled, never the steps in them).
        series_length, noise: the generated series' length and noise level.
        cache: cache the windows in memory.

    Returns:
        A `TimeSeriesBundle` of `(x [B, window, F], y [B, horizon, T])` batches, normalized with training
        statistics.

    Raises:
        ConfigError: unknown source, bad sizes. DataError: a segment too short for one window.
    """
    for name, value in (("window", window), ("horizon", horizon), ("stride", stride)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"task_options.{name}={value!r} must be an integer >= 1")
    scheme, _, rest = source.partition(":")
    if scheme == "generated":
        if rest not in GENERATED:
            raise ConfigError(f"unknown generated series {source!r}; use one of: {', '.join(f'generated:{n}' for n in GENERATED)}")
        series, names = generate_series(series_length, noise=noise, seed=seed), ["value"]
    elif scheme == "dir":
        series, names = read_csv_columns(rest, columns)
    else:
        raise ConfigError(
            f"data source {source!r} is not a time series; use generated:sine or dir:PATH.csv "
            "(with task_options.columns=[NAME])"
        )
    target_columns = target_columns or names[:1]
    unknown = [name for name in target_columns if name not in names]
    if unknown:
        raise ConfigError(f"task_options.target_columns {unknown} are not among the columns {names}")
    targets = [names.index(name) for name in target_columns]

    bounds = chronological_bounds(len(series), validation_fraction, test_fraction)
    first, end = bounds["train"]
    mean = series[first:end].mean(axis=0)
    std = series[first:end].std(axis=0)
    std = np.where(std > 0, std, 1.0).astype(np.float32)
    normalized = (series - mean) / std

    examples, counts = {}, {}
    for split, (first, end) in bounds.items():
        if end - first == 0 and split != "train":
            examples[split] = None
            continue
        x, y = make_windows(normalized[first:end], window, horizon, targets, stride)
        if len(x) == 0:
            raise DataError(
                f"the {split} segment of {source} has {end - first} steps, too few for one window of "
                f"{window} + {horizon}; use a longer series, a smaller window/horizon, or a larger {split}_fraction"
            )
        examples[split] = tf.data.Dataset.from_tensor_slices((x, y))
        counts[split] = len(x)

    return TimeSeriesBundle(
        train=batch_examples(examples, "train", batch_size, True, seed, shuffle_buffer, cache),
        validation=batch_examples(examples, "validation", batch_size, False, seed, shuffle_buffer, cache),
        test=batch_examples(examples, "test", batch_size, False, seed, shuffle_buffer, cache),
        num_classes=0,
        input_shape=(window, series.shape[1]),
        class_names=[],
        form="sequence",
        source=source,
        num_examples=counts,
        _examples={split: examples.get(split) for split in ("train", "validation", "test")},
        series=series,
        columns=names,
        targets=targets,
        window=window,
        horizon=horizon,
        stride=stride,
        mean=mean.astype(np.float32),
        std=std,
        bounds=bounds,
    )
