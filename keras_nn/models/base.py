"""What every keras-nn model class shares: functional construction with a config of its own arguments, argument
checks, the classifier head, the replica count a hand-written update divides by, and the recompile on load of a
model whose compile is its own."""

import keras

from keras_nn.errors import ConfigError, ShapeError


class FunctionalModel(keras.Model):
    """Base of keras-nn models built as a functional graph inside `__init__` (the keras-hub way).

    A subclass builds `inputs` and `outputs`, calls `super().__init__(inputs=..., outputs=..., name=...)` and
    records its constructor arguments with `self._init_arguments(locals())`. `get_config` then returns exactly
    those arguments and `from_config` calls the constructor again, so `.keras` files reload into the same class.
    The functional graph is what export needs: a static inference graph with named inputs.
    """

    def __setattr__(self, name, value):
        # On PyTorch a Keras layer is a torch.nn.Module, which refuses a sublayer set as an attribute before
        # Module.__init__ (inside super().__init__ here); models that keep layers as attributes for their own
        # methods (GPT's cached decoding) set them before, while building the graph. The functional graph tracks
        # every such layer, so the early attribute can skip the tracking (keras-hub's Backbone does the same);
        # TensorFlow and JAX keep Keras' tracking, as before.
        if keras.backend.backend() == "torch" and "_modules" not in self.__dict__:
            return object.__setattr__(self, name, value)
        return super().__setattr__(name, value)

    def _init_arguments(self, arguments):
        self._config = {
            key: (list(value) if isinstance(value, tuple) else value)
            for key, value in arguments.items()
            if key not in ("self", "kwargs", "__class__", "name", "inputs", "outputs")
        }

    def get_config(self):
        # Plain lists: Keras tracks the stored dict's lists (TrackedList), and copying one copies the model with it.
        return {"name": self.name, "trainable": self.trainable,
                **{key: list(value) if isinstance(value, list) else value for key, value in self._config.items()}}

    @classmethod
    def from_config(cls, config):
        return model_from_arguments(cls, config)


def model_from_arguments(cls, config):
    """`cls` built from a config of its constructor's arguments plus `trainable` (what `get_config` gives)."""
    config = dict(config)
    trainable = config.pop("trainable", True)
    model = cls(**config)
    model.trainable = trainable
    return model


def replicas_in_sync():
    """How many replicas share one update under a `tf.distribute` strategy (1 elsewhere).

    The optimizer sums the replicas' gradients (as Keras' own losses expect, each scaled by 1 / replicas); a
    model whose train_step computes its update without Keras' loss scaling (contrastive divergence, the GAN's
    two losses) divides by this itself.
    """
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def recompile_from_config(model, config):
    """`compile_from_config` for a model whose `compile` is overridden (Keras recompiles such a model on load
    only when this is overridden too): its `compile` with the saved arguments, then the optimizer built so that
    the saved optimizer state loads into it."""
    model.compile(**keras.saving.deserialize_keras_object(config))
    if model.built:
        model.optimizer.build(model.trainable_variables)


def classifier_head(x, num_classes, classifier_activation, dropout):
    """Dropout then the output layer. The output layer runs in float32, so mixed-precision training keeps a
    stable softmax and loss (the Keras mixed-precision guide's advice)."""
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    return keras.layers.Dense(num_classes, activation=classifier_activation, dtype="float32", name="predictions")(x)


def check_choice(name, value, choices):
    """Raises `ConfigError` naming `name` when `value` is not one of `choices`."""
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not allowed; choose one of: {', '.join(map(str, choices))}")


def check_positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name}={value!r} must be a positive integer")


def check_rate(name, value):
    if not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"{name}={value!r} must be in [0, 1)")


def check_input_shape(name, input_shape, rank, min_size=None):
    """Validates a per-example `input_shape` of the given rank (channels last) and returns it as a tuple.

    `min_size` is the smallest spatial size the model's downsampling accepts; a smaller input raises
    `ShapeError` saying how small is too small.
    """
    if input_shape is None or len(tuple(input_shape)) != rank:
        raise ShapeError(
            f"{name} needs input_shape of rank {rank} (per example, no batch dim); got {input_shape!r}"
        )
    input_shape = tuple(None if d is None else int(d) for d in input_shape)
    if min_size is not None:
        spatial = [d for d in input_shape[:-1] if d is not None]
        if any(d < min_size for d in spatial):
            raise ShapeError(
                f"{name}: input_shape {input_shape} is too small for its downsampling; each spatial size must "
                f"be at least {min_size} (resize the data or use fewer stages)"
            )
    return input_shape
