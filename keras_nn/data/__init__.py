"""tf.data pipelines for every data source keras-nn trains on.

`load_dataset("embedded:digits" | "tfds:NAME" | "dir:PATH", ...)` returns a `DatasetBundle` of batched
train/validation/test pipelines; `list_datasets()` lists the embedded sets and the other schemes.

Example:
    >>> from keras_nn.data import load_dataset
    >>> bundle = load_dataset("embedded:digits", batch_size=64)
    >>> model.fit(bundle.train, validation_data=bundle.validation)
"""

from keras_nn.data.bundle import DatasetBundle
from keras_nn.data.embedded import EMBEDDED, EmbeddedDataset, register_embedded
from keras_nn.data.loader import SCHEMES, list_datasets, load_dataset
from keras_nn.data.pipeline import FORMS, split_indices

__all__ = [
    "DatasetBundle",
    "EMBEDDED",
    "EmbeddedDataset",
    "FORMS",
    "SCHEMES",
    "list_datasets",
    "load_dataset",
    "register_embedded",
    "split_indices",
]
