"""Learning-rate schedules a recipe names (constant, cosine, step, exponential, transformer), with warmup."""

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


@keras.saving.register_keras_serializable(package="keras_nn")
class TransformerSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate of "Attention Is All You Need" (section 5.3):

        lrate = scale * d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)

    a linear rise for `warmup_steps` steps, then a decay with the inverse square root of the step; the peak,
    at `step = warmup_steps`, is `scale * (d_model * warmup_steps)^-0.5` (7e-4 for the base model). `step`
    counts from 1: the optimizer's iteration 0 takes the rate of step 1 (never 0).

    Args:
        d_model: the model width (512 in the base model).
        warmup_steps: steps of the linear rise (4000 in the paper).
        scale: a factor on the whole curve (1 in the paper; tensor2tensor exposes it as `learning_rate`).

    Example:
    >>> optimizer = keras.optimizers.Adam(TransformerSchedule(512), beta_1=0.9, beta_2=0.98, epsilon=1e-9)

    References:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017, https://arxiv.org/abs/1706.03762.
    """

    def __init__(self, d_model, warmup_steps=4000, scale=1.0):
        if not isinstance(d_model, int) or isinstance(d_model, bool) or d_model < 1:
            raise ConfigError(f"TransformerSchedule: d_model={d_model!r} must be a positive integer")
        if not isinstance(warmup_steps, int) or isinstance(warmup_steps, bool) or warmup_steps < 1:
            raise ConfigError(
                f"TransformerSchedule: warmup_steps={warmup_steps!r} must be a positive integer"
            )
        self.d_model = d_model
        self.warmup_steps = warmup_steps
        self.scale = float(scale)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32") + 1.0
        rise = step * float(self.warmup_steps) ** -1.5
        return self.scale * float(self.d_model) ** -0.5 * keras.ops.minimum(keras.ops.rsqrt(step), rise)

    def get_config(self):
        return {"d_model": self.d_model, "warmup_steps": self.warmup_steps, "scale": self.scale}


def _transformer_schedule(config, steps_per_epoch, model_config):
    """The `transformer` schedule of a recipe: d_model from the schedule section, else the model's."""
    d_model = config.get("d_model") or (model_config or {}).get("d_model")
    if d_model is None:
        raise ConfigError(
            "schedule.name='transformer' needs the model width: set schedule.d_model or model.d_model"
        )
    warmup_steps = config.get("warmup_steps") or config["warmup_epochs"] * steps_per_epoch or 4000
    return TransformerSchedule(int(d_model), int(warmup_steps), config.get("scale", 1.0))


def build_schedule(config, learning_rate, steps_per_epoch, epochs, model_config=None):
    """Turns a recipe's `schedule` section into a learning rate or `LearningRateSchedule`.

    Args:
        config: the resolved `schedule` section (name, warmup_epochs, decay_rate, step_epochs,
            min_learning_rate; for `transformer` also d_model, warmup_steps, scale).
        learning_rate: the peak learning rate (the optimizer section's; `transformer` has its own curve and
            does not use it).
        steps_per_epoch: optimizer steps in one epoch.
        epochs: epochs of the whole run; cosine decays over what is left after warmup.
        model_config: the recipe's `model` section, where `transformer` finds `d_model` unless the schedule
            section sets it.

    Returns:
        A float for `constant` without warmup, else a `LearningRateSchedule`.
    """
    if config["name"] == "transformer":
        # Its own warmup (schedule.warmup_steps, else warmup_epochs, else the paper's 4000 steps).
        return _transformer_schedule(config, steps_per_epoch, model_config)
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
        schedule = (
            keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
            if boundaries
            else learning_rate
        )
    elif name == "exponential":
        schedule = keras.optimizers.schedules.ExponentialDecay(
            learning_rate, decay_steps, config["decay_rate"]
        )
    else:
        raise ConfigError(
            f"schedule.name={name!r} is not allowed; choose one of: constant, cosine, step, exponential, "
            "transformer"
        )
    return WarmupSchedule(schedule, warmup_steps) if warmup_steps else schedule
