"""The forecasting task: a short run that beats the naive forecast, its errors recomputed."""

import numpy as np
import pytest

from keras_nn.runs import load_recipe
from keras_nn.runs import train_run as train


def test_forecasting_beats_the_naive_forecast(tmp_path):
    overrides = [
        "task_options.series_length=2000", "task_options.window=48", "task_options.horizon=12", "model.units=24",
        "training.epochs=4", "export.formats=[]",
    ]
    result = train(load_recipe("time_series_forecasting", overrides), tmp_path / "run", verbose=0)
    metrics = result.metrics
    assert metrics["test_mae"] < metrics["test_naive_mae"], metrics
    # The MAEs in the series' units, recomputed from the model and the bundle's windows.
    x, y = result.data.windows("test")
    predicted = result.data.denormalize(result.model.predict(x, verbose=0))
    actual = result.data.denormalize(y)
    naive = result.data.denormalize(np.repeat(x[:, -1:, result.data.targets], result.data.horizon, axis=1))
    assert metrics["test_mae"] == pytest.approx(np.abs(predicted - actual).mean(), rel=1e-4)
    assert metrics["test_naive_mae"] == pytest.approx(np.abs(naive - actual).mean(), rel=1e-6)
    assert metrics["test_mae_ratio"] == pytest.approx(metrics["test_mae"] / metrics["test_naive_mae"], rel=1e-3)
    assert metrics["test_skill"] == pytest.approx(1 - metrics["test_mae_ratio"], abs=1e-5)
    assert (tmp_path / "run" / "forecast.png").is_file()


def test_forecasting_options_are_checked():
    from keras_nn.errors import ConfigError

    with pytest.raises(ConfigError, match="task_options.loss' = 'l3' is not allowed; choose one of: mse, mae, huber"):
        load_recipe("time_series_forecasting", ["task_options.loss=l3"])
