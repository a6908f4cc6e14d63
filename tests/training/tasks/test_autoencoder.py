"""The autoencoder task: a short pretrained run, its squared errors (ours and PCA's) recomputed, the encoder
exported with parity, the 2-D map written; a Bernoulli model on out-of-range data refused."""

import json

import numpy as np
import pytest
from sklearn.decomposition import PCA

from keras_nn.errors import ConfigError, DataError
from keras_nn.runs import RunDirectory, export_trained_run, load_recipe, open_run
from keras_nn.runs import train_run as train
from keras_nn.training import create_task

QUICK = [
    "model.hidden_units=[16,8]", "training.epochs=2", "task_options.pretrain.epochs=1", "task_options.map_examples=50",
    "task_options.reconstruction_examples=4", "export.formats=[]",
]


def recipe(*overrides):
    config = load_recipe("autoencoder_map", [*QUICK, *overrides])
    return {key: value for key, value in config.items() if key != "comparison"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("autoencoder") / "run"
    return train(recipe(), root, verbose=0), root


def test_squared_errors_are_recomputed(run):
    result, _ = run
    metrics = result.metrics
    x, _ = result.data.as_numpy("test")
    flat = x.reshape(len(x), -1)
    ours = np.sum((flat - result.model.predict(x, verbose=0).reshape(len(x), -1)) ** 2, axis=1).mean()
    assert metrics["test_squared_error"] == pytest.approx(ours, rel=1e-4)
    train_x, _ = result.data.as_numpy("train")
    pca = PCA(2).fit(train_x.reshape(len(train_x), -1))
    theirs = np.sum((flat - pca.inverse_transform(pca.transform(flat))) ** 2, axis=1).mean()
    assert metrics["test_pca_squared_error"] == pytest.approx(theirs, rel=1e-4)
    assert metrics["test_gain_over_pca"] == pytest.approx(theirs / ours, rel=1e-3)
    assert metrics["pretrained"] is True and [layer["hidden"] for layer in metrics["pretraining"]] == [16, 8, 2]


@pytest.mark.slow  # TFLite and ONNX conversion of the module's run (the training-time export path is the same call)
def test_encoder_is_exported_with_parity(run):
    result, root = run
    config = open_run(root)[1]
    config["export"]["verify_samples"] = 50
    export_trained_run(RunDirectory(root), create_task("autoencoder"), result.model, result.data, config, formats=["tflite", "onnx"])
    parity = json.loads((root / "export" / "parity.json").read_text())
    assert sorted(entry["format"] for entry in parity) == ["onnx", "tflite-float32"]
    for entry in parity:
        assert entry["max_abs_error"] < 1e-4 and not entry["flex_operators"], entry
    # The exported graph is the encoder: 64 inputs in, a 2-unit code out.
    import onnxruntime

    session = onnxruntime.InferenceSession(str(root / "export" / "model.onnx"))
    x, _ = result.data.as_numpy("test", limit=5)
    (codes,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(codes, result.model.encoder_model().predict(x, verbose=0), atol=1e-4)


def test_report_files(run):
    _, root = run
    for name in ("code_map.png", "reconstructions.png", "curves.png", "pretrained/rbm_3.keras"):
        assert (root / name).is_file(), name


def gaussian_table(tmp_path):
    table = tmp_path / "table.csv"
    rows = np.random.default_rng(0).normal(size=(40, 4))  # standardized real values: Gaussian units' data
    table.write_text("a,b,c,d,label\n" + "\n".join(",".join(f"{v:.3f}" for v in row) + f",{i % 2}" for i, row in enumerate(rows)))
    return [f"data.source=dir:{table}", "data.form=tabular", "data.label_column=label", "model.hidden_units=[3]"]


def test_bernoulli_units_refuse_data_outside_0_1(tmp_path):
    overrides = gaussian_table(tmp_path)
    with pytest.raises(DataError, match=r"values in \[-.*\]; Bernoulli visible units take values in \[0, 1\].*visible_type: gaussian"):
        train(recipe(*overrides), tmp_path / "a", verbose=0)
    assert not (tmp_path / "a").exists()
    with pytest.raises(ConfigError, match=r"model.code_units=5 is more than PCA can have here \(4"):
        train(recipe(*overrides, "model.visible_type=gaussian", "model.code_units=5"), tmp_path / "c", verbose=0)
    assert not (tmp_path / "c").exists()


@pytest.mark.slow
def test_gaussian_visible_units_take_real_values(tmp_path):
    overrides = gaussian_table(tmp_path)
    result = train(recipe(*overrides, "model.visible_type=gaussian", "export.formats=[]", "model.code_units=2"), tmp_path / "b", verbose=0)
    assert result.metrics["pretraining"][0]["learning_rate"] == 0.0005  # a Gaussian side takes the small step
    assert np.isfinite(result.metrics["test_squared_error"])


@pytest.mark.slow
def test_the_autoencoder_map_comparison_tabulates_its_metrics(tmp_path):
    """autoencoder_map at a tiny size: pretrained against random start, one seed; the table shows each run's
    squared error and PCA's, read from the runs' own metrics."""
    from keras_nn.runs import run_comparison

    config = load_recipe(
        "autoencoder_map",
        [*QUICK, "comparison.seeds=[0]", "training.epochs=1", "model.hidden_units=[8]", "task_options.reconstruction_examples=0"],
    )
    config["comparison"]["runs"] = {"pretrained": {}, "random": {"task_options": {"pretrain": {"enabled": False}}}}
    summary = run_comparison(config, tmp_path / "comparison", verbose=0)
    table = {row["run"]: row for row in json.loads((tmp_path / "comparison" / "comparison.json").read_text())["table"]}
    for name in ("pretrained", "random"):
        metrics = json.loads((tmp_path / "comparison" / name / "seed_0" / "metrics.json").read_text())
        assert table[name]["test_squared_error_mean"] == pytest.approx(metrics["test_squared_error"], abs=1e-4)
        assert table[name]["test_pca_squared_error_mean"] == pytest.approx(metrics["test_pca_squared_error"], abs=1e-4)
    assert "test squared error (mean ± std)" in summary["columns"]
    assert (tmp_path / "comparison" / "comparison_curves.png").is_file()
