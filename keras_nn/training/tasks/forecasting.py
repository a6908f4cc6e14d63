"""`forecasting`: window -> horizon regression on a generated series or a CSV column."""

import keras
import numpy as np

from keras_nn.config.export_plan import ModelExport
from keras_nn.config.schema import Field
from keras_nn.data.timeseries import load_timeseries
from keras_nn.models import create_model
from keras_nn.training.tasks.base import Task, model_arguments, pipeline_arguments, split_arguments
from keras_nn.viz import plot_forecasts

LOSSES = ("mse", "mae", "huber")


class ForecastingTask(Task):
    """Multi-step forecasting of a series: windows of `window` steps -> the next `horizon` steps.

    Data: `generated:sine` (synthetic) or `dir:PATH.csv` with `task_options.columns` (the features) and
    `target_columns` (what is forecast; default the first column). The series is split chronologically and
    normalized with training statistics. Metrics in the series' own units: `test_mae`, `test_naive_mae` (the
    last observed value repeated over the horizon), `test_mae_ratio` (`mae / naive_mae`, below 1 beats the
    baseline) and `test_skill` (`1 - ratio`, higher is better), and the same for validation. The report draws
    the forecasts (`forecast.png`).
    """

    name = "forecasting"
    options = {
        "window": Field((int,), 72, minimum=1, help="steps the model reads"),
        "horizon": Field((int,), 24, minimum=1, help="steps it forecasts"),
        "stride": Field((int,), 1, minimum=1, help="steps between window starts"),
        "columns": Field((list,), None, item_types=(str,), help="the CSV columns read, e.g. [temp, pressure]"),
        "target_columns": Field((list,), None, item_types=(str,), help="the columns forecast (default the first)"),
        "series_length": Field((int,), 5000, minimum=1, help="generated:sine: steps generated"),
        "noise": Field((float,), 0.2, minimum=0.0, help="generated:sine: noise level"),
        "loss": Field((str,), "mse", choices=LOSSES),
        "plot_origins": Field((int,), 4, minimum=1, help="forecasts drawn in forecast.png"),
    }

    def load_data(self, config):
        options = config["task_options"]
        return load_timeseries(
            config["data"]["source"], window=options["window"], horizon=options["horizon"],
            columns=options["columns"], target_columns=options["target_columns"], stride=options["stride"],
            series_length=options["series_length"], noise=options["noise"],
            **pipeline_arguments(config), **split_arguments(config),
        )

    def build_model(self, config, bundle):
        arguments = model_arguments(config)
        arguments.setdefault("input_shape", tuple(bundle.input_shape))
        arguments.setdefault("horizon", bundle.horizon)
        arguments.setdefault("targets", list(bundle.targets))
        return create_model(config["model"]["name"], **arguments)

    def compile(self, model, config, steps_per_epoch):
        self.reject_label_smoothing(config)
        loss = {"mse": "mse", "mae": "mae", "huber": keras.losses.Huber()}[config["task_options"]["loss"]]
        self.compile_model(
            model, config, steps_per_epoch, loss=loss, metrics=[keras.metrics.MeanAbsoluteError(name="normalized_mae")]
        )

    def evaluate(self, model, bundle, config):
        metrics = super().evaluate(model, bundle, config)
        for split, prefix in (("validation", "val"), ("test", "test")):
            if bundle.bounds[split][1] - bundle.bounds[split][0] == 0:
                continue
            metrics.update({f"{prefix}_{k}": v for k, v in forecast_errors(model, bundle, split).items()})
        return metrics

    def report(self, model, bundle, config, run, metrics):
        plot_forecasts(
            model, bundle, run.forecast_png, origins=config["task_options"]["plot_origins"],
            errors=forecast_errors(model, bundle, "test"),
        )
        return {}

    def export_plan(self, model, bundle, config):
        section = config["export"]
        train_x, _ = bundle.windows("train")
        test_x, _ = bundle.windows("test")
        return ModelExport(
            model,
            representative_data=train_x[: section["representative_samples"]],
            verify_inputs=test_x[: section["verify_samples"]],
        )


def forecast_errors(model, bundle, split="test"):
    """MAE of the model and of the naive last-value forecast on a split's windows, in the series' units."""
    x, y = bundle.windows(split)
    predicted = bundle.denormalize(model.predict(x, verbose=0, batch_size=512))
    actual = bundle.denormalize(y)
    naive = bundle.denormalize(np.repeat(x[:, -1:, bundle.targets], bundle.horizon, axis=1))
    mae = float(np.abs(predicted - actual).mean())
    naive_mae = float(np.abs(naive - actual).mean())
    ratio = mae / naive_mae if naive_mae > 0 else float("inf")
    return {
        "mae": round(mae, 6), "naive_mae": round(naive_mae, 6), "mae_ratio": round(ratio, 6),
        "skill": round(1.0 - ratio, 6),
    }
