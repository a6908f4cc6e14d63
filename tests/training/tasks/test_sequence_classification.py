"""The sequence classification task: raw text through a saved vocabulary, and numeric sequences."""

import numpy as np
import pytest
import tensorflow_datasets as tfds
from sklearn.metrics import accuracy_score

from keras_nn.cli import main
from keras_nn.runs import load_recipe, predict_texts
from keras_nn.runs import train_run as train


def test_sequence_classification_reads_text_with_a_saved_vocabulary(tmp_path, capsys):
    overrides = [
        "data.source=tfds:imdb_reviews", "task_options.max_tokens=50", "task_options.sequence_length=12",
        "model.units=4", "model.embedding_dim=4", "training.epochs=1", "export.formats=[]",
    ]
    with tfds.testing.mock_data(num_examples=16):
        result = train(load_recipe("sequence_classification", overrides), tmp_path / "run", verbose=0)
    run = tmp_path / "run"
    vocabulary = (run / "vocabulary.txt").read_text().split("\n")
    assert vocabulary[:2] == ["", "[UNK]"] and len(vocabulary) - 1 == result.model.get_config()["vocab_size"]
    rows = predict_texts(run, ["a wonderful film", "dull"])
    assert [row["class"] in ("neg", "pos") for row in rows] == [True, True]
    # The front end's scores are the model's own on the texts vectorized with the saved vocabulary.
    ids = np.asarray(result.data.vectorizer()(np.asarray(["a wonderful film", "dull"], dtype=object)))
    expected = np.asarray(result.model.predict(ids, verbose=0))
    np.testing.assert_allclose([row["score"] for row in rows], expected.max(-1), rtol=1e-6)
    assert main(["predict", str(run), "not bad at all"]) == 0
    assert "not bad at all\t" in capsys.readouterr().out


def test_sequence_classification_of_digit_rows(tmp_path):
    result = train(
        load_recipe("sequence_classification", ["model.units=8", "training.epochs=1", "export.formats=[]"]),
        tmp_path / "run", verbose=0,
    )
    assert result.model.input_shape == (None, 8, 8)
    x, y = result.data.as_numpy("test")
    predicted = np.asarray(result.model.predict(x, verbose=0)).argmax(-1)
    assert result.metrics["test_accuracy"] == pytest.approx(accuracy_score(y, predicted), abs=1e-6)
