"""The tagging task: a short run on the generated date fields, its metrics recomputed."""

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from keras_nn.runs import train_run as train


def test_tagging_learns_the_date_fields(tmp_path):
    config = {
        "name": "date_fields",
        "task": "tagging",
        "task_options": {"train_size": 800, "validation_size": 100, "test_size": 200},
        "model": {"name": "lstm_tagger", "units": 16, "embedding_dim": 16},
        "data": {"source": "generated:date_fields", "batch_size": 32},
        "optimizer": {"learning_rate": 0.01},
        "training": {"epochs": 2},
    }
    result = train(config, tmp_path / "run", verbose=0)
    assert result.metrics["test_accuracy"] > 0.9, result.metrics
    report = json.loads((tmp_path / "run" / "tagging_report.json").read_text())
    assert {"YEAR", "MONTH", "DAY", "WEEKDAY", "O"} <= set(report)
    # Token accuracy over real steps, sequence accuracy and macro-F1, recomputed with scikit-learn.
    x, y = result.data.as_numpy("test")
    predicted = np.asarray(result.model.predict(x, verbose=0)).argmax(-1)
    real = y != 0
    assert result.metrics["test_accuracy"] == pytest.approx(accuracy_score(y[real], predicted[real]), abs=1e-5)
    every_step = np.all((predicted == y) | ~real, axis=1)
    assert result.metrics["test_sequence_accuracy"] == pytest.approx(every_step.mean(), abs=1e-6)
    macro = f1_score(y[real], predicted[real], labels=list(range(1, result.data.num_classes)), average="macro")
    assert result.metrics["test_macro_f1"] == pytest.approx(macro, abs=1e-6)
