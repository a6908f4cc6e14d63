"""One registry of named model configurations, timm style.

A configuration is a name (`resnet50`, `lstm_classifier`) bound to a builder and its default arguments.
`create_model(name, **kwargs)` overrides any default; `list_models()` lists the names.
"""

import dataclasses
import difflib
import fnmatch
import inspect
from collections.abc import Callable

from keras_nn.errors import ConfigError, UnknownModelError


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A registered configuration: `builder(**defaults, **overrides)` gives the model."""

    name: str
    builder: Callable
    family: str
    description: str
    defaults: dict
    paper: str = ""

    def allowed_arguments(self):
        """Names the builder accepts, or None when it takes **kwargs of its own."""
        params = inspect.signature(self.builder).parameters.values()
        if any(p.kind is p.VAR_KEYWORD for p in params):
            # A model class forwards **kwargs to keras.Model; list its own arguments plus Keras' common ones.
            own = [p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
            return sorted({*own, "name", "dtype", "trainable"} - {"self"})
        return sorted(p.name for p in params)


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(name, builder, *, family, description, paper="", **defaults):
    """Registers `builder` under `name` with default arguments.

    Args:
        name: lower-case configuration name (`resnet50`).
        builder: a model class or a function returning a `keras.Model`.
        family: the architecture family (`cnn`, `recurrent`, ...), used by `list_models(family=...)`.
        description: one line shown by `keras-nn list`.
        paper: the reference, for `keras-nn list --verbose`.
        **defaults: arguments passed to `builder` unless the caller overrides them.
    """
    if name in _REGISTRY:
        raise ValueError(f"model name {name!r} is registered twice; pick another name")
    if name != name.lower():
        raise ValueError(f"model names are lower case; got {name!r}")
    _REGISTRY[name] = ModelEntry(name, builder, family, description, dict(defaults), paper)
    return builder


def get_model_entry(name):
    """Returns the `ModelEntry` for `name`, or raises `UnknownModelError` with the closest names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), _REGISTRY, n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}; {hint}run `keras-nn list` or keras_nn.list_models() for the "
            f"{len(_REGISTRY)} registered names"
        ) from None


def create_model(name, **kwargs):
    """Builds the registered configuration `name`, with `kwargs` overriding its defaults.

    Args:
        name: a name from `list_models()`, e.g. `"simple_cnn"` or `"lstm_classifier"`.
        **kwargs: builder arguments, e.g. `num_classes=10, input_shape=(28, 28, 1)`.

    Returns:
        A `keras.Model`.

    Example:
    >>> model = keras_nn.create_model("simple_cnn", num_classes=10, input_shape=(8, 8, 1))
    """
    entry = get_model_entry(name)
    allowed = entry.allowed_arguments()
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ConfigError(
            f"model {name!r} does not take argument(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )
    arguments = {**entry.defaults, **kwargs}
    if "name" in allowed:
        arguments.setdefault("name", name)
    return entry.builder(**arguments)


def list_models(pattern=None, family=None):
    """Sorted registered names, optionally filtered by a glob `pattern` (`"resnet*"`) or a `family`."""
    names = sorted(_REGISTRY)
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)]
    if family:
        names = [n for n in names if _REGISTRY[n].family == family]
    return names
