"""Argument checks the layers share; each raises a `keras_nn.errors` type whose message names the bad value."""

from keras_nn.errors import ConfigError, ShapeError


def check_positive_int(owner, name, value):
    """Raises `ConfigError` unless `value` is an int (not a bool) of at least 1."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{owner}: {name}={value!r} must be a positive integer")


def check_rate(owner, name, value):
    """Raises `ConfigError` unless `value` is a rate in [0, 1) (a dropout rate)."""
    if not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"{owner}: {name}={value!r} must be in [0, 1)")


def known_width(owner, inputs_shape):
    """The last (feature) size of `[..., length, width]` inputs; `ShapeError` if it is unknown."""
    width = inputs_shape[-1]
    if width is None or len(inputs_shape) < 2:
        raise ShapeError(
            f"{owner}: inputs must be [..., length, width] with a known width; got {inputs_shape}"
        )
    return int(width)


def check_choice(owner, name, value, choices):
    """Raises `ConfigError` unless `value` is one of `choices`."""
    if value not in choices:
        raise ConfigError(f"{owner}: {name}={value!r} is not allowed; choose one of: {', '.join(map(str, choices))}")
