"""keras-nn: classic and modern architectures for Keras 3 that train well, scale out and ship to the edge.

>>> import keras_nn
>>> keras_nn.list_models()
>>> model = keras_nn.create_model("simple_cnn", num_classes=10, input_shape=(8, 8, 1))

Importing the package loads every subpackage, so that `keras.saving.load_model` finds keras-nn's layers,
models, losses and schedules. The `keras-nn` command is the exception: there the public names load on first use
(PEP 562), so that `keras-nn --help` and `keras-nn list` answer without importing TensorFlow and the command can
quiet TensorFlow's start-up log before it loads.
"""

import importlib
import sys
from pathlib import Path

from keras_nn.version import __version__

_SUBPACKAGES = ("errors", "layers", "losses", "models", "samplers", "schedules")
_FROM_MODELS = ("create_model", "list_models")

__all__ = ["__version__", *_FROM_MODELS, *_SUBPACKAGES]


def __getattr__(name):
    if name not in _SUBPACKAGES and name not in _FROM_MODELS:
        raise AttributeError(f"module 'keras_nn' has no attribute {name!r}")
    loaded = {package: importlib.import_module(f"keras_nn.{package}") for package in _SUBPACKAGES}
    globals().update(loaded)
    models = loaded["models"]
    globals().update({function: getattr(models, function) for function in _FROM_MODELS})
    return globals()[name]


def __dir__():
    return sorted({*globals(), *__all__})


def _started_as_the_command():
    argv = getattr(sys, "argv", None) or [""]
    return Path(argv[0]).name in ("keras-nn", "keras-nn.exe", "keras-nn-script.py")


if not _started_as_the_command():
    __getattr__("models")
