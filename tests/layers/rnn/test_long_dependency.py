"""The adding problem (Hochreiter & Schmidhuber 1997): gated cells carry a value across ~45 steps, Elman's don't.

Each of the 50 steps holds a random value in [0, 1) and a marker; two steps are marked, one in the first 5 steps
and one in the second half, and the target is the sum of their values. Predicting the mean (1.0) gives an MSE of
1/6 and about 8 % of predictions within 0.04 of the target (the "accuracy" below, the paper's criterion).
LSTM and GRU learn the task in a few epochs; a SimpleRNN stays at the mean, as vanishing gradients predict.
"""

import keras
import numpy as np
import pytest

from keras_nn import layers

STEPS = 50
TOLERANCE = 0.04  # a prediction counts as right within this of the target (Hochreiter & Schmidhuber 1997)


def adding_problem(count, seed):
    rng = np.random.default_rng(seed)
    values = rng.random((count, STEPS)).astype("float32")
    first = rng.integers(0, STEPS // 10, count)
    second = rng.integers(STEPS // 2, STEPS, count)
    markers = np.zeros((count, STEPS), "float32")
    rows = np.arange(count)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    return np.stack([values, markers], axis=-1), targets[:, None]


class _TestAccuracy(keras.callbacks.Callback):
    """Scores the held-out set after each epoch; stops once `stop_at` of it is within the tolerance."""

    def __init__(self, inputs, targets, stop_at):
        super().__init__()
        self.inputs, self.targets, self.stop_at = inputs, targets, stop_at
        self.accuracy, self.mse = [], []

    def on_epoch_end(self, epoch, logs=None):
        predictions = self.model.predict(self.inputs, verbose=0, batch_size=500)
        self.accuracy.append(float(np.mean(np.abs(predictions - self.targets) < TOLERANCE)))
        self.mse.append(float(np.mean((predictions - self.targets) ** 2)))
        if self.stop_at is not None and self.accuracy[-1] >= self.stop_at:
            self.model.stop_training = True


@pytest.mark.slow
@pytest.mark.parametrize(
    "layer_class, max_epochs, solves",
    [(layers.LSTM, 20, True), (layers.GRU, 20, True), (layers.SimpleRNN, 10, False)],
    ids=["lstm", "gru", "simple_rnn"],
)
def test_adding_problem(layer_class, max_epochs, solves, record_property):
    train_inputs, train_targets = adding_problem(4096, seed=0)
    test_inputs, test_targets = adding_problem(1000, seed=1)
    inputs = keras.Input((STEPS, 2))
    model = keras.Model(inputs, keras.layers.Dense(1)(layer_class(32)(inputs)))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse", jit_compile=True)
    score = _TestAccuracy(test_inputs, test_targets, stop_at=0.9 if solves else None)
    model.fit(train_inputs, train_targets, batch_size=32, epochs=max_epochs, callbacks=[score], verbose=0)

    accuracy, mse = score.accuracy[-1], score.mse[-1]
    summary = f"{layer_class.__name__}: accuracy {accuracy:.3f}, MSE {mse:.4f} after {len(score.accuracy)} epochs"
    print(f"\nadding problem, T={STEPS}: {summary}")
    record_property("accuracy", accuracy)
    record_property("mse", mse)
    record_property("epochs", len(score.accuracy))
    if solves:
        assert accuracy >= 0.8 and mse < 0.01, summary
    else:
        assert accuracy < 0.2 and mse > 0.1, summary
