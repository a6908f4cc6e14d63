"""Loading what a finished run left: its model file and its resolved recipe."""

import zipfile
from pathlib import Path

import keras

from keras_nn.errors import MissingPathError, ModelFileError
from keras_nn.runs.recipes import read_run_recipe
from keras_nn.runs.run_directory import RunDirectory


def load_model_file(path):
    """Loads a `.keras` file, turning a missing or unreadable file into a one-line keras-nn error."""
    path = Path(path)
    if not path.is_file():
        raise MissingPathError(f"model file {str(path)!r} does not exist")
    if path.suffix != ".keras":
        raise ModelFileError(f"{str(path)!r} is not a .keras file; give the model.keras of a run")
    try:
        return keras.saving.load_model(path)
    except (ValueError, OSError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise ModelFileError(
            f"cannot read model file {str(path)!r}: it is corrupted or not a Keras 3 .keras file "
            f"({type(error).__name__}); re-export it from its run or retrain"
        ) from None


def open_run(run_dir):
    """The `RunDirectory` of a finished run and its resolved recipe (a one-line error if it is not a run)."""
    run = run_dir if isinstance(run_dir, RunDirectory) else RunDirectory(run_dir)
    if not run.root.is_dir():
        raise MissingPathError(f"run directory {str(run.root)!r} does not exist")
    if not run.config.is_file():
        raise MissingPathError(f"{str(run.root)!r} is not a run directory: it has no {run.config.name}")
    return run, read_run_recipe(run)


def load_run(run_dir):
    """The trained model and resolved recipe of a finished run directory."""
    run, config = open_run(run_dir)
    return load_model_file(run.model), config
