"""Text classification data as token ids: a `keras.layers.TextVectorization` vocabulary built on the training
split only, applied to every split inside the tf.data pipeline.

Any text source `load_dataset` reads works: TFDS text sets (`tfds:imdb_reviews`, `tfds:ag_news_subset`), a
folder of class sub-folders of `.txt` files, or a `.csv`/`.tsv` file with a text column. Token id 0 is
padding (models mask it) and 1 the out-of-vocabulary token. The vocabulary is kept with the bundle and
written next to a run (`vocabulary.txt`), so a trained model can read raw text again (`load_vectorizer`).

Example:
    >>> data = load_text_classification("tfds:imdb_reviews", max_tokens=20000, sequence_length=256)
    >>> x, y = next(iter(data.train))          # x: [batch, 256] int32 ids, y: [batch] class ids
    >>> model = keras_nn.create_model("lstm_classifier", vocab_size=data.vocab_size,
    ...                               sequence_length=data.sequence_length, num_classes=data.num_classes)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import tensorflow as tf

from keras_nn.data.bundle import DatasetBundle
from keras_nn.data.loader import load_dataset
from keras_nn.data.pipeline import assemble, check_options
from keras_nn.errors import ConfigError, DataError, MissingPathError

STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation", None)


@dataclasses.dataclass
class TextBundle(DatasetBundle):
    """A `DatasetBundle` of token ids, with the vocabulary that made them.

    Args (besides `DatasetBundle`'s):
        vocabulary: the tokens in id order (`""` padding at 0, `"[UNK]"` at 1).
        sequence_length: padded/truncated length of every example.
        standardize: the TextVectorization standardization used.
    """

    vocabulary: list = dataclasses.field(default_factory=list, repr=False)
    sequence_length: int = 0
    standardize: str | None = "lower_and_strip_punctuation"

    @property
    def vocab_size(self):
        return len(self.vocabulary)

    def vectorizer(self):
        """A `TextVectorization` layer with this vocabulary (strings -> `[N, sequence_length]` ids)."""
        return make_vectorizer(self.vocabulary, self.sequence_length, self.standardize)


def make_vectorizer(vocabulary, sequence_length, standardize="lower_and_strip_punctuation"):
    """`TextVectorization` with a fixed vocabulary (as `TextBundle.vocabulary` lists it)."""
    # The layer adds padding and OOV itself; hand it the real tokens only.
    tokens = list(vocabulary[2:]) if list(vocabulary[:2]) == ["", "[UNK]"] else list(vocabulary)
    return keras.layers.TextVectorization(
        standardize=standardize, output_sequence_length=sequence_length, vocabulary=tokens
    )


def adapt_vectorizer(texts, max_tokens, sequence_length, standardize="lower_and_strip_punctuation", batch_size=1024):
    """Builds a `TextVectorization` vocabulary (the `max_tokens` most frequent words) from a dataset of strings."""
    if standardize not in STANDARDIZE:
        raise ConfigError(f"standardize={standardize!r} is not allowed; choose one of: {', '.join(map(str, STANDARDIZE))}")
    if not isinstance(max_tokens, int) or max_tokens < 3:
        raise ConfigError(f"max_tokens={max_tokens!r} must be an integer >= 3 (padding, OOV and one word)")
    if not isinstance(sequence_length, int) or sequence_length < 1:
        raise ConfigError(f"sequence_length={sequence_length!r} must be a positive integer")
    layer = keras.layers.TextVectorization(
        max_tokens=max_tokens, standardize=standardize, output_sequence_length=sequence_length
    )
    layer.adapt(texts.batch(batch_size))
    return layer


def vectorize_bundle(bundle, max_tokens=20000, sequence_length=200, standardize="lower_and_strip_punctuation", batch_size=32, seed=0, cache=True, shuffle_buffer=10000):
    """Turns a text `DatasetBundle` (scalar strings) into a `TextBundle` of token ids.

    The vocabulary is adapted on the training split alone, so nothing of the validation or test text leaks
    into it.

    Args:
        bundle: a bundle of form `"text"` from `load_dataset`.
        max_tokens: vocabulary size, padding and OOV included.
        sequence_length: ids per example (longer texts are cut, shorter ones padded with 0).
        standardize: TextVectorization standardization.
        batch_size, seed, cache, shuffle_buffer: the pipelines' batching (as `load_dataset`).

    Returns:
        The `TextBundle`.
    """
    if bundle.form != "text":
        raise DataError(f"{bundle.source} is {bundle.form} data, not text; a vocabulary only applies to text")
    texts = bundle._examples["train"].map(lambda x, y: x)
    layer = adapt_vectorizer(texts, max_tokens, sequence_length, standardize)

    def vectorize(ds):
        if ds is None:
            return None
        return (
            ds.batch(1024)
            .map(lambda x, y: (tf.cast(layer(x), tf.int32), y), num_parallel_calls=tf.data.AUTOTUNE)
            .unbatch()
        )

    examples = {split: vectorize(ds) for split, ds in bundle._examples.items()}
    opts = check_options(
        batch_size=batch_size, image_size=None, validation_fraction=0.0, test_fraction=0.0, seed=seed,
        cache=cache, shuffle_buffer=shuffle_buffer, normalize=False,
    )
    plain = assemble(
        examples, opts, num_classes=bundle.num_classes, input_shape=(sequence_length,),
        class_names=bundle.class_names, form="sequence", source=bundle.source, num_examples=bundle.num_examples,
    )
    fields = {f.name: getattr(plain, f.name) for f in dataclasses.fields(DatasetBundle)}
    return TextBundle(**fields, vocabulary=[str(token) for token in layer.get_vocabulary()], sequence_length=sequence_length, standardize=standardize)


def load_text_classification(source, max_tokens=20000, sequence_length=200, standardize="lower_and_strip_punctuation", **load_options):
    """`load_dataset(source, form="text", ...)` then `vectorize_bundle`: token-id pipelines of a text data set.

    Args:
        source: a text source (`tfds:imdb_reviews`, `dir:PATH`).
        max_tokens, sequence_length, standardize: the vocabulary (see `vectorize_bundle`).
        **load_options: `load_dataset` options (batch_size, validation_fraction, data_dir, seed, ...).

    Returns:
        A `TextBundle`.
    """
    bundle = load_dataset(source, form="text", **load_options)
    return vectorize_bundle(
        bundle, max_tokens, sequence_length, standardize,
        batch_size=load_options.get("batch_size", 32), seed=load_options.get("seed", 0),
        cache=load_options.get("cache", True), shuffle_buffer=load_options.get("shuffle_buffer", 10000),
    )


def save_vocabulary(vocabulary, path):
    """Writes the vocabulary, one token a line in id order, to the file `path`; returns the path."""
    path = Path(path)
    # Tokens never hold newlines (TextVectorization splits on whitespace); padding is the empty first line.
    path.write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    return path


def read_vocabulary(path):
    """The vocabulary `save_vocabulary` wrote to the file `path`."""
    path = Path(path)
    if not path.is_file():
        raise MissingPathError(f"{str(path)!r} does not exist; the run was not trained on text")
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def load_vectorizer(path, sequence_length, standardize="lower_and_strip_punctuation"):
    """A `TextVectorization` layer with the vocabulary saved in the file `path` (raw strings -> token ids)."""
    return make_vectorizer(read_vocabulary(path), sequence_length, standardize)
