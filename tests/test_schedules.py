import keras
import numpy as np
import pytest

from keras_nn.errors import ConfigError
from keras_nn.schedules import TransformerSchedule, WarmupSchedule, build_schedule

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


def test_transformer_schedule_is_the_papers_formula():
    schedule = TransformerSchedule(d_model=512, warmup_steps=4000)
    steps = np.array([0, 1, 999, 3999, 4000, 9999, 99999])
    paper_step = steps + 1.0  # the optimizer's iteration 0 is the paper's step 1
    expected = 512**-0.5 * np.minimum(paper_step**-0.5, paper_step * 4000**-1.5)
    np.testing.assert_allclose(_values(schedule, steps), expected, rtol=1e-5)
    assert _values(schedule, [3999]).item() == pytest.approx((512 * 4000) ** -0.5, rel=1e-5)  # the peak
    rebuilt = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(TransformerSchedule(64, warmup_steps=10, scale=2.0))
    )
    expected = 2.0 * 64**-0.5 * np.minimum(paper_step**-0.5, paper_step * 10**-1.5)
    np.testing.assert_allclose(_values(rebuilt, steps), expected, rtol=1e-5)


def test_transformer_schedule_from_a_recipe():
    from keras_nn.config.recipe import validate
    from keras_nn.training import build_optimizer

    config = validate(
        {
            "model": {"name": "transformer_translator", "d_model": 64},
            "schedule": {"name": "transformer", "warmup_steps": 100},
            "optimizer": {"beta_1": 0.5, "beta_2": 0.98, "epsilon": 1e-9},
        }
    )
    optimizer = build_optimizer(config, steps_per_epoch=10)
    schedule = optimizer._learning_rate
    assert isinstance(schedule, TransformerSchedule)
    assert (schedule.d_model, schedule.warmup_steps) == (64, 100)
    assert optimizer.beta_1 == 0.5 and optimizer.beta_2 == 0.98 and optimizer.epsilon == 1e-9
    # Without schedule.warmup_steps, warmup_epochs gives the warmup; schedule.d_model wins over the model's.
    config["schedule"].update(warmup_steps=None, warmup_epochs=2, d_model=32)
    schedule = build_schedule(config["schedule"], 1e-3, 10, epochs=5, model_config=config["model"])
    assert (schedule.d_model, schedule.warmup_steps) == (32, 20)
    config["schedule"]["d_model"] = None
    with pytest.raises(ConfigError, match="schedule.d_model or model.d_model"):
        build_schedule(config["schedule"], 1e-3, 10, 5, model_config={"name": "simple_cnn"})
