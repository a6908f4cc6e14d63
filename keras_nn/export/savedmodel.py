"""SavedModel export with a `serving_default` signature, through `keras.export.ExportArchive`."""

import os
import shutil
import tempfile
from pathlib import Path

import keras

from keras_nn.export.signature import input_spec


def to_saved_model(model, path, batch_size=None):
    """Writes `model` as a TensorFlow SavedModel whose `serve` endpoint is the inference graph.

    Works for Sequential, functional and subclassed Keras 3 models: the endpoint calls the model with
    `training=False`, so dropout and augmentation layers are identities in the exported graph.

    Args:
        model: a built Keras model with one input.
        path: the SavedModel directory to write (replaced if it exists).
        batch_size: None for a dynamic batch, or a fixed batch size.

    Returns:
        The path written. `tf.saved_model.load(path).signatures["serving_default"]` runs it.

    Example:
    >>> keras_nn.export.to_saved_model(model, "export/saved_model")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "serve", lambda inputs: model(inputs, training=False), input_signature=[input_spec(model, batch_size)]
    )
    return write_archive(archive, path)


def write_archive(archive, path):
    """Writes a `keras.export.ExportArchive` to `path` (replaced if it exists); returns the path.

    It is written beside the destination and renamed, so a failed export leaves no half-written SavedModel.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as staging:
        archive.write_out(os.path.join(staging, "saved_model"), verbose=False)
        if path.exists():
            shutil.rmtree(path)
        os.replace(os.path.join(staging, "saved_model"), path)
    return path
