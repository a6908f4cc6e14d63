import keras
import numpy as np
import pytest

from keras_nn.schedules import WarmupSchedule, build_schedule

BASE = {"name": "constant", "warmup_epochs": 0, "decay_rate": 0.1, "step_epochs": 2, "min_learning_rate": 0.0}


def _values(schedule, steps):
    return np.array([float(schedule(step)) for step in steps])


def test_constant_without_warmup_is_a_float():
    assert build_schedule(BASE, 0.01, steps_per_epoch=10, epochs=5) == 0.01


def test_linear_warmup_then_cosine_to_the_floor():
    config = {**BASE, "name": "cosine", "warmup_epochs": 1, "min_learning_rate": 0.001}
    schedule = build_schedule(config, 0.01, steps_per_epoch=10, epochs=3)
    values = _values(schedule, [0, 4, 9, 10, 20, 30])
    # Warmup: (step + 1) / 10 of the peak; then cosine over the 20 remaining steps down to the floor.
    np.testing.assert_allclose(values[:3], [0.001, 0.005, 0.01], rtol=1e-5)
    np.testing.assert_allclose(values[3], 0.01, rtol=1e-5)
    np.testing.assert_allclose(values[4], 0.001 + 0.5 * (0.01 - 0.001) * (1 + np.cos(np.pi * 0.5)), rtol=1e-5)
    np.testing.assert_allclose(values[5], 0.001, rtol=1e-5)


def test_step_decay_every_step_epochs():
    schedule = build_schedule({**BASE, "name": "step"}, 0.1, steps_per_epoch=5, epochs=6)
    np.testing.assert_allclose(_values(schedule, [0, 9, 10, 19, 20, 29]), [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-5)


def test_warmup_schedule_serializes():
    schedule = WarmupSchedule(keras.optimizers.schedules.CosineDecay(0.1, 100), warmup_steps=10)
    rebuilt = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    np.testing.assert_allclose(_values(schedule, [0, 5, 50]), _values(rebuilt, [0, 5, 50]))


@pytest.mark.parametrize("name", ["exponential", "cosine", "step"])
def test_schedules_never_exceed_the_peak(name):
    schedule = build_schedule({**BASE, "name": name, "warmup_epochs": 1}, 0.05, steps_per_epoch=4, epochs=8)
    values = _values(schedule, range(32))
    assert values.max() <= 0.05 + 1e-7 and values.min() >= 0.0
