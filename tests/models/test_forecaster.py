import keras
import numpy as np
import pytest
from testing_utils import run_model_test

import keras_nn
from keras_nn.errors import ConfigError, ShapeError
from keras_nn.models import Forecaster


def test_shared_model_checks():
    windows = np.random.default_rng(0).normal(size=(4, 12, 2)).astype("float32")
    run_model_test(
        lambda: keras_nn.create_model("lstm_forecaster", input_shape=(12, 2), horizon=5, targets=[0, 1], units=6),
        windows,
        expected_output_shape=(4, 5, 2),
    )


def test_gru_stacked_without_residual():
    windows = np.random.default_rng(1).normal(size=(3, 10, 1)).astype("float32")
    run_model_test(
        lambda: keras_nn.create_model("gru_forecaster", input_shape=(10, 1), horizon=3, units=4, num_layers=2, residual=False),
        windows,
        expected_output_shape=(3, 3, 1),
        run_mixed_precision_check=False,
        run_jit_compile_check=False,
    )


def test_residual_head_starts_from_the_last_value():
    # With a zero head the forecast is the naive one: the target's last observed value at every step.
    model = Forecaster(input_shape=(6, 3), horizon=4, targets=[2, 0], units=3)
    head = model.get_layer("head")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    windows = np.random.default_rng(2).normal(size=(2, 6, 3)).astype("float32")
    forecast = keras.ops.convert_to_numpy(model(windows))
    expected = np.repeat(windows[:, -1:, [2, 0]], 4, axis=1)
    np.testing.assert_allclose(forecast, expected, atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="targets"):
        Forecaster(input_shape=(6, 2), targets=[2])
    with pytest.raises(ConfigError, match="horizon"):
        Forecaster(input_shape=(6, 2), horizon=0)
    with pytest.raises(ShapeError, match="rank 2"):
        Forecaster(input_shape=(6,))
