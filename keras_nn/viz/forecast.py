"""Forecasts drawn against what happened: the window read, the horizon that followed, the model's forecast and
the naive last-value forecast."""

from pathlib import Path

import numpy as np


def plot_forecasts(model, bundle, path, origins=4, errors=None):
    """Draws forecasts from `origins` evenly spaced test windows, one panel each, in the series' units.

    Args:
        model: a forecaster (`window -> horizon` of the bundle's target columns).
        bundle: a `keras_nn.data.TimeSeriesBundle` (its test windows are drawn).
        path: the PNG to write.
        origins: how many forecasts to draw.
        errors: the test errors to quote in the title (`mae`, `naive_mae`, `mae_ratio`), if known.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = bundle.windows("test")
    first, _ = bundle.bounds["test"]
    picks = sorted({int(i) for i in np.linspace(0, len(x) - 1, max(int(origins), 1))})
    predicted = bundle.denormalize(model.predict(x[picks], verbose=0))[..., 0]
    actual = bundle.denormalize(y[picks])[..., 0]
    target = bundle.targets[0]
    columns = min(len(picks), 2)
    rows = (len(picks) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(6.4 * columns, 3.2 * rows), squeeze=False)
    for n, axis in enumerate(axes.flat):
        if n >= len(picks):
            axis.axis("off")
            continue
        start = first + picks[n] * bundle.stride + bundle.window  # the first forecast step
        past = np.arange(start - bundle.window, start)
        future = np.arange(start, start + bundle.horizon)
        axis.plot(past, bundle.series[past, target], color="0.55", linewidth=1.0, label="window")
        axis.plot(future, actual[n], color="black", linewidth=1.2, label="actual")
        axis.plot(future, predicted[n], color="tab:blue", linewidth=1.8, label="forecast")
        axis.plot(future, np.full(bundle.horizon, bundle.series[start - 1, target]), color="tab:red", linestyle="--", linewidth=1.2, label="naive (last value)")
        axis.axvline(start - 0.5, color="0.8")
        axis.set_title(f"forecast from step {start}", fontsize=10)
        axis.set_xlabel("time step")
        axis.set_ylabel(bundle.columns[target])
        axis.grid(alpha=0.3)
        if n == 0:
            axis.legend(loc="best", fontsize=8)
    title = f"{bundle.source}: window {bundle.window} -> horizon {bundle.horizon}"
    if errors:
        title += (
            f"; test MAE {errors['mae']:.3f} vs naive {errors['naive_mae']:.3f} (ratio {errors['mae_ratio']:.2f})"
        )
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)
