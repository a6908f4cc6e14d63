"""tf.data pipelines for every data source keras-nn trains on.

`load_dataset("embedded:digits" | "tfds:NAME" | "dir:PATH", ...)` returns a `DatasetBundle` of batched
train/validation/test pipelines; `list_datasets()` lists the embedded sets and the other schemes.

Example:
    >>> from keras_nn.data import load_dataset
    >>> bundle = load_dataset("embedded:digits", batch_size=64)
    >>> model.fit(bundle.train, validation_data=bundle.validation)
"""

from keras_nn.data.bundle import DatasetBundle
from keras_nn.data.dates import Seq2SeqBundle, load_date_fields, load_dates
from keras_nn.data.embedded import EMBEDDED, EmbeddedDataset, register_embedded
from keras_nn.data.language import (
    CharTokenizer,
    LanguageBundle,
    SubwordTextTokenizer,
    load_language,
    next_token_windows,
    tokenize_corpus,
)
from keras_nn.data.loader import SCHEMES, list_datasets, load_dataset
from keras_nn.data.pipeline import FORMS, split_indices
from keras_nn.data.subwords import SubwordTokenizer
from keras_nn.data.text import TextBundle, load_text_classification, vectorize_bundle
from keras_nn.data.timeseries import TimeSeriesBundle, load_timeseries, make_windows
from keras_nn.data.translation import load_translation, read_parallel_tsv

__all__ = [
    "CharTokenizer",
    "LanguageBundle",
    "SubwordTextTokenizer",
    "load_language",
    "next_token_windows",
    "tokenize_corpus",
    "DatasetBundle",
    "EMBEDDED",
    "EmbeddedDataset",
    "FORMS",
    "SCHEMES",
    "list_datasets",
    "load_dataset",
    "register_embedded",
    "split_indices",
    "Seq2SeqBundle",
    "SubwordTokenizer",
    "TextBundle",
    "TimeSeriesBundle",
    "load_date_fields",
    "load_dates",
    "load_text_classification",
    "load_timeseries",
    "load_translation",
    "make_windows",
    "read_parallel_tsv",
    "vectorize_bundle",
]
