"""Recurrent time-series forecasters: a window of past steps in, the next `horizon` steps out."""

import keras
from keras import ops

from keras_nn.models.base import (
    FunctionalModel,
    check_choice,
    check_input_shape,
    check_positive_int,
    check_rate,
)
from keras_nn.models.recurrent_stack import KERAS_NN_RECURRENT_LAYERS, recurrent_stack
from keras_nn.models.registry import register_model


@keras.saving.register_keras_serializable(package="keras_nn")
class Forecaster(FunctionalModel):
    """A recurrent encoder of the input window and a dense multi-step head (all horizon steps at once).

    Predicting every step of the horizon in one shot (the "multi-output" strategy) avoids feeding
    predictions back and the error build-up that comes with it. With `residual=True` the head predicts the
    change from the last observed value of each target feature, so the untrained model starts as the naive
    last-value forecast and learns what to add to it.

    Args:
        input_shape: `(window, features)`; window may be None.
        horizon: future steps predicted.
        targets: indices of the input features that are forecast (default `[0]`).
        cell: `"lstm"`, `"gru"` or `"simple_rnn"`.
        units: hidden units of each recurrent layer.
        num_layers: stacked recurrent layers.
        bidirectional: read the window both ways.
        dropout: dropout on the inputs of each recurrent layer and before the head.
        residual: predict the change from the last observed value of each target.
        name: model name.

    Call arguments:
        inputs: `(batch, window, features)` floats (normalized like the training data).
        Returns `(batch, horizon, len(targets))` forecasts (float32), in the same normalized units.

    Example:
    >>> model = keras_nn.create_model("lstm_forecaster", input_shape=(48, 1), horizon=12)
    >>> model(np.zeros((2, 48, 1), "float32")).shape
    (2, 12, 1)

    References:
        Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural Computation 1997.
        Taieb et al., "A review and comparison of strategies for multi-step ahead time series forecasting",
        Expert Systems with Applications 2012 (the multi-output strategy).
    """

    def __init__(
        self,
        input_shape=(48, 1),
        horizon=12,
        targets=None,
        cell="lstm",
        units=64,
        num_layers=1,
        bidirectional=False,
        dropout=0.0,
        residual=True,
        name="forecaster",
        **kwargs,
    ):
        arguments = dict(locals())
        input_shape = check_input_shape(name, input_shape, rank=2)
        check_positive_int("horizon", horizon)
        check_positive_int("units", units)
        check_positive_int("num_layers", num_layers)
        check_rate("dropout", dropout)
        check_choice("cell", cell, list(KERAS_NN_RECURRENT_LAYERS[0]))
        features = input_shape[-1]
        targets = [0] if targets is None else [int(t) for t in targets]
        for target in targets:
            check_choice("targets", target, list(range(features)) if features else [target])
        arguments["targets"] = targets

        inputs = keras.Input(shape=input_shape, name="window")
        x = recurrent_stack(
            inputs,
            KERAS_NN_RECURRENT_LAYERS,
            cell,
            units,
            num_layers,
            bidirectional,
            return_sequences=False,
            dropout=dropout,
        )
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
        x = keras.layers.Dense(horizon * len(targets), dtype="float32", name="head")(x)
        outputs = keras.layers.Reshape((horizon, len(targets)), name="forecast")(x)
        if residual:
            last = ops.take(inputs[:, -1, :], targets, axis=-1)
            outputs = outputs + ops.expand_dims(ops.cast(last, "float32"), 1)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self._init_arguments(arguments)
        self.horizon = horizon
        self.targets = targets


for _cell, _name in [("lstm", "lstm_forecaster"), ("gru", "gru_forecaster")]:
    register_model(
        _name,
        Forecaster,
        family="recurrent",
        description=f"{_cell.upper()} multi-step time-series forecaster (window -> horizon, residual to the last value)",
        paper="Hochreiter & Schmidhuber 1997",
        cell=_cell,
    )
