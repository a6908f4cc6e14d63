"""What the models pretrained as a stack of RBMs share: checking the layer sizes, making the RBMs that match
them, and copying a trained RBM's weights into a dense layer (Hinton, Osindero & Teh 2006; Hinton &
Salakhutdinov 2006)."""

import math

from keras import ops

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.models.rbm import RestrictedBoltzmannMachine


def check_layer_sizes(owner, sizes):
    """The sizes as a tuple of positive ints; `ConfigError` naming `owner` otherwise."""
    if isinstance(sizes, int) or not sizes:
        raise ConfigError(f"{owner}: hidden_units={sizes!r} must be a non-empty list of layer sizes, e.g. [500, 500]")
    for size in sizes:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ConfigError(f"{owner}: hidden_units={list(sizes)!r} must hold positive integers; {size!r} is not one")
    return tuple(sizes)


def stack_machines(input_shape, sizes, visible_type, top_hidden_type="bernoulli", seed=None, **options):
    """The RBMs of a stack: the first sees the data (`input_shape`, `visible_type`), each next one the hidden
    units of the one below (Bernoulli). `options` go to every `RestrictedBoltzmannMachine` (cd_steps, persistent,
    weight_decay, ...). Each RBM gets its own seed so the stack is reproducible."""
    machines = []
    below = (math.prod(input_shape),)
    for index, units in enumerate(sizes):
        top = index == len(sizes) - 1
        machines.append(
            RestrictedBoltzmannMachine(
                input_shape=tuple(input_shape) if index == 0 else below,
                hidden_units=units,
                visible_type=visible_type if index == 0 else "bernoulli",
                hidden_type=top_hidden_type if top else "bernoulli",
                seed=None if seed is None else seed + index,
                name=f"rbm_{index + 1}",
                **options,
            )
        )
        below = (units,)
    return machines


def check_machines(owner, machines, sizes, visible_units):
    """Raises `ShapeError` unless `machines` are RBMs of exactly `sizes` over `visible_units` inputs."""
    shapes = [tuple(machine.rbm.kernel.shape) for machine in machines]
    expected = []
    below = visible_units
    for units in sizes:
        expected.append((below, units))
        below = units
    if shapes != expected:
        raise ShapeError(
            f"{owner}: the pretrained RBMs have weights {shapes}, this model needs {expected}; pretrain with the "
            "model's own layer sizes (a pretraining run of other sizes cannot be fine-tuned here)"
        )


def copy_into_dense(dense, kernel, bias):
    """Sets a `Dense` layer's kernel and bias (numpy or tensors of its shapes)."""
    dense.kernel.assign(ops.convert_to_tensor(kernel, dtype=dense.kernel.dtype))
    dense.bias.assign(ops.convert_to_tensor(bias, dtype=dense.bias.dtype))
