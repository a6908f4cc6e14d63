"""Learning-rate schedules a recipe names (constant, cosine, step, exponential), with linear warmup."""

import keras

from keras_nn.errors import ConfigError


@keras.saving.register_keras_serializable(package="keras_nn")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to the wrapped schedule's value over `warmup_steps`, then the wrapped schedule.

    Warmup keeps the first, noisy updates small, which large batches and adaptive optimizers need
    (Goyal et al. 2017, "Accurate, Large Minibatch SGD", https://arxiv.org/abs/1706.02677).

    Args:
        schedule: a `LearningRateSchedule` or a float learning rate, followed after warmup
            (its step count starts at the end of warmup).
        warmup_steps: optimizer steps of linear warmup.
    """

    def __init__(self, schedule, warmup_steps):
        self.schedule = schedule
        self.warmup_steps = int(warmup_steps)

    def _after_warmup(self, step):
        if isinstance(self.schedule, keras.optimizers.schedules.LearningRateSchedule):
            return self.schedule(step - self.warmup_steps)
        return keras.ops.convert_to_tensor(self.schedule, "float32")

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warmup = float(max(self.warmup_steps, 1))
        after = self._after_warmup(keras.ops.maximum(step, float(self.warmup_steps)))
        ramp = after * keras.ops.minimum((step + 1.0) / warmup, 1.0)
        return keras.ops.where(step < self.warmup_steps, ramp, after)

    def get_config(self):
        schedule = self.schedule
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            schedule = keras.saving.serialize_keras_object(schedule)
        return {"schedule": schedule, "warmup_steps": self.warmup_steps}

    @classmethod
    def from_config(cls, config):
        schedule = config["schedule"]
        if isinstance(schedule, dict):
            schedule = keras.saving.deserialize_keras_object(schedule)
        return cls(schedule, config["warmup_steps"])


def build_schedule(config, learning_rate, steps_per_epoch, epochs):
    """Turns a recipe's `schedule` section into a learning rate or `LearningRateSchedule`.

    Args:
        config: the resolved `schedule` section (name, warmup_epochs, decay_rate, step_epochs,
            min_learning_rate).
        learning_rate: the peak learning rate (the optimizer section's).
        steps_per_epoch: optimizer steps in one epoch.
        epochs: epochs of the whole run; cosine decays over what is left after warmup.

    Returns:
        A float for `constant` without warmup, else a `LearningRateSchedule`.
    """
    warmup_steps = config["warmup_epochs"] * steps_per_epoch
    decay_steps = max(epochs * steps_per_epoch - warmup_steps, 1)
    name = config["name"]
    if name == "constant":
        schedule = learning_rate
    elif name == "cosine":
        alpha = config["min_learning_rate"] / learning_rate if learning_rate else 0.0
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps, alpha=alpha)
    elif name == "step":
        step = config["step_epochs"] * steps_per_epoch
        # PiecewiseConstantDecay keeps values[k] while step <= boundaries[k]; step is 0-based, so the decay
        # lands on the first step of each new period.
        boundaries = [b - 1 for b in range(step, decay_steps, step)]
        values = [learning_rate * config["decay_rate"] ** k for k in range(len(boundaries) + 1)]
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values) if boundaries else learning_rate
    elif name == "exponential":
        schedule = keras.optimizers.schedules.ExponentialDecay(learning_rate, decay_steps, config["decay_rate"])
    else:
        raise ConfigError(f"schedule.name={name!r} is not allowed; choose one of: constant, cosine, step, exponential")
    return WarmupSchedule(schedule, warmup_steps) if warmup_steps else schedule
