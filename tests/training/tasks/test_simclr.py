"""The simclr task: a short run whose accuracies are recomputed with scikit-learn, the report and feature map
written, the encoder exported with parity; a batch of 1 and a crop larger than the image refused before anything
is written."""

import json

import keras
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from keras_nn.data.binary import labelled_share
from keras_nn.errors import ConfigError, ShapeError
from keras_nn.runs import load_recipe
from keras_nn.runs import train_run as train
from keras_nn.training.tasks import create_task

QUICK = [
    "model.backbone_arguments={blocks: [1, 1, 1], filters: [4, 4, 8], stem_filters: 4}", "model.projection_dim=8",
    "data.image_size=[8,8]", "data.batch_size=64", "training.epochs=1", "task_options.supervised_epochs=1",
    "task_options.map_method=pca", "task_options.map_examples=60", "export.formats=[tflite,onnx]",
    "export.verify_samples=20",
]


def recipe(*overrides):
    return load_recipe("simclr_digits", [*QUICK, *overrides])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    # One end-to-end run (training, the baselines, TFLite and ONNX conversion) that the slow tests share.
    root = tmp_path_factory.mktemp("simclr") / "run"
    return train(recipe(), root, verbose=0), root


@pytest.mark.slow
def test_accuracies_are_recomputed(run):
    result, root = run
    metrics = result.metrics
    train_x, train_y = result.data.as_numpy("train")
    test_x, test_y = result.data.as_numpy("test")
    features = result.model.predict(train_x, verbose=0)
    test_features = result.model.predict(test_x, verbose=0)
    keep = labelled_share(train_x, train_y, 0.1, 0)
    assert metrics["labelled_examples_10pct"] == len(keep) and metrics["labelled_examples_100pct"] == len(train_y)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(features[keep], train_y[keep])
    assert metrics["linear_probe_accuracy_10pct"] == pytest.approx(probe.score(test_features, test_y), abs=1e-4)
    knn = KNeighborsClassifier(5, metric="cosine").fit(features[keep], train_y[keep])
    assert metrics["knn_accuracy_10pct"] == pytest.approx(knn.score(test_features, test_y), abs=1e-4)
    flat = train_x.reshape(len(train_x), -1)
    pixels = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(flat, train_y)
    assert metrics["pixels_linear_accuracy_100pct"] == pytest.approx(
        pixels.score(test_x.reshape(len(test_x), -1), test_y), abs=1e-4
    )
    assert 0.0 <= metrics["supervised_accuracy_10pct"] <= 1.0
    # Baseline (c): the same encoder before training, rebuilt from the run's seed.
    keras.utils.set_random_seed(0)
    untrained = create_task("simclr").build_model(recipe(), result.data)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(
        untrained.predict(train_x, verbose=0)[keep], train_y[keep]
    )
    assert metrics["random_encoder_linear_accuracy_10pct"] == pytest.approx(
        probe.score(untrained.predict(test_x, verbose=0), test_y), abs=1e-4
    )
    history = (root / "history.csv").read_text().splitlines()[0]
    assert {"loss", "contrastive_accuracy", "val_loss", "val_contrastive_accuracy"} <= set(history.split(","))


@pytest.mark.slow
def test_report_and_feature_map_are_written(run):
    _, root = run
    report = (root / "report.md").read_text()
    assert "linear probe" in report and "10% labels" in report and "(a) raw pixels" in report and "(c)" in report
    assert (root / "feature_map.png").stat().st_size > 0 and (root / "curves.png").exists()


@pytest.mark.slow
def test_encoder_is_exported_with_parity(run):
    result, root = run
    parity = json.loads((root / "export" / "parity.json").read_text())
    assert sorted(entry["format"] for entry in parity) == ["onnx", "tflite-float32"]
    for entry in parity:
        assert entry["max_abs_error"] < 1e-4 and not entry["flex_operators"], entry
    import onnxruntime

    session = onnxruntime.InferenceSession(str(root / "export" / "model.onnx"))
    x, _ = result.data.as_numpy("test", limit=5)
    (features,) = session.run(None, {session.get_inputs()[0].name: x})
    assert features.shape == (5, 8)
    np.testing.assert_allclose(features, result.model.encoder_model().predict(x, verbose=0), atol=1e-4)


@pytest.mark.parametrize(
    "override, error, words",
    [
        ("data.batch_size=1", ShapeError, "at least 2 examples per batch for negatives; set data.batch_size >= 2"),
        ("task_options.crop_scale=[0.5, 1.5]", ConfigError, "crop larger than the image"),
        ("model.backbone=simple_cnn", ConfigError, "no feature-extractor form"),
    ],
)
def test_bad_input_leaves_nothing_written(tmp_path, override, error, words):
    root = tmp_path / "run"
    with pytest.raises(error, match=words):
        train(recipe(override), root, verbose=0)
    assert not root.exists()
