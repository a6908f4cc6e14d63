import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_nn.data import load_dataset
from keras_nn.data.text import (
    TextBundle,
    load_text_classification,
    load_vectorizer,
    save_vocabulary,
    vectorize_bundle,
)
from keras_nn.errors import DataError


def test_imdb_reviews_with_mock_data(tmp_path):
    with tfds.testing.mock_data(num_examples=24):
        data = load_text_classification("tfds:imdb_reviews", max_tokens=60, sequence_length=16, batch_size=8)
    assert isinstance(data, TextBundle)
    assert data.class_names == ["neg", "pos"] and data.num_classes == 2
    assert data.input_shape == (16,) and data.form == "sequence"
    assert data.vocabulary[:2] == ["", "[UNK]"] and 2 < data.vocab_size <= 60
    x, y = next(iter(data.train))
    assert tuple(x.shape) == (8, 16) and x.dtype.name == "int32" and y.dtype.name == "int32"
    assert x.numpy().max() < data.vocab_size
    test_x, _ = data.as_numpy("test")
    assert test_x.shape == (24, 16)
    # The saved vocabulary turns raw text into the same ids again.
    save_vocabulary(data.vocabulary, tmp_path / "vocabulary.txt")
    vectorizer = load_vectorizer(tmp_path / "vocabulary.txt", 16)
    np.testing.assert_array_equal(np.asarray(vectorizer(["a b"])), np.asarray(data.vectorizer()(["a b"])))


def test_vocabulary_comes_from_the_training_split_only(tmp_path):
    # Every file has words of its own, so a word of a held-out file must not reach the vocabulary.
    for label in ("good", "bad"):
        (tmp_path / label).mkdir()
        for i in range(10):
            (tmp_path / label / f"{i}.txt").write_text(f"{label}{i}word common {label}")
    bundle = load_dataset(f"dir:{tmp_path}", form="text", validation_fraction=0.2, test_fraction=0.2)
    data = vectorize_bundle(bundle, max_tokens=100, sequence_length=5, batch_size=4)
    train_words = {w for text, _ in zip(*bundle.as_numpy("train"), strict=True) for w in text.decode().split()}
    held_out = {w for split in ("validation", "test") for text in bundle.as_numpy(split)[0] for w in text.decode().split()}
    vocabulary = set(data.vocabulary[2:])
    assert vocabulary == train_words
    assert not vocabulary & (held_out - train_words)
    x, _ = data.as_numpy("test")
    assert (x[:, 0] == 1).all(), "a held-out file's own first word is out of vocabulary"
    assert (x[:, 1] == data.vocabulary.index("common")).all()


def test_numeric_data_is_not_text():
    with pytest.raises(DataError, match="not text"):
        vectorize_bundle(load_dataset("embedded:digits", form="sequence"))
