"""The rbm task: a short run on binarized digits, its scores recomputed; non-binary data refused."""

import numpy as np
import pytest

from keras_nn.cli import main
from keras_nn.errors import DataError
from keras_nn.runs import load_recipe
from keras_nn.runs import train_run as train

QUICK = [
    "model.hidden_units=16", "training.epochs=2", "task_options.gibbs_steps=[1,5]", "task_options.gibbs_chains=3",
    "task_options.filters=16", "export.formats=[]",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("rbm") / "run"
    return train(load_recipe("rbm_digits", QUICK), root, verbose=0), root


def test_scores_are_recomputed_from_the_model(run):
    result, root = run
    metrics = result.metrics
    x, _ = result.data.as_numpy("test")
    visible = x.reshape(len(x), -1)
    assert set(np.unique(visible)) <= {0.0, 1.0}  # binarized at 0.5
    kernel, visible_bias, hidden_bias = (w.numpy() for w in result.model.rbm.weights)
    hidden = 1 / (1 + np.exp(-(visible @ kernel + hidden_bias)))
    reconstruction = 1 / (1 + np.exp(-(hidden @ kernel.T + visible_bias)))
    assert metrics["test_reconstruction_error"] == pytest.approx(np.mean(np.sum((visible - reconstruction) ** 2, 1)), rel=1e-4)

    def free_energy(v):
        return -v @ visible_bias - np.logaddexp(0, v @ kernel + hidden_bias).sum(-1)

    pseudo = np.zeros(len(visible))
    for i in range(visible.shape[1]):
        flipped = visible.copy()
        flipped[:, i] = 1 - flipped[:, i]
        pseudo += -np.logaddexp(0, free_energy(visible) - free_energy(flipped))
    assert metrics["test_pseudo_log_likelihood_exact"] == pytest.approx(pseudo.mean(), rel=1e-4)
    # Two epochs already beat the untrained RBM; scikit-learn's reference ran alike.
    assert metrics["test_pseudo_log_likelihood_exact"] > metrics["untrained_test_pseudo_log_likelihood_exact"]
    assert metrics["test_reconstruction_error"] < metrics["untrained_test_reconstruction_error"]
    assert metrics["sklearn_test_pseudo_log_likelihood_exact"] < 0


def test_report_files(run):
    _, root = run
    for name in ("curves.png", "filters.png", "gibbs_samples.png", "report.md"):
        assert (root / name).is_file(), name
    report = (root / "report.md").read_text()
    assert "scikit-learn BernoulliRBM" in report and "untrained" in report
    history = (root / "history.csv").read_text().splitlines()[0]
    assert "pseudo_log_likelihood" in history and "val_reconstruction_error" in history


def test_non_binary_data_is_refused_with_the_fixes(tmp_path, capsys):
    with pytest.raises(DataError, match=r"not binary \(17 distinct values in \[0, 1\].*task_options.binarize: 0.5"):
        train(load_recipe("rbm_digits", [*QUICK, "task_options.binarize=null"]), tmp_path / "a", verbose=0)
    assert not (tmp_path / "a").exists()
    output = tmp_path / "b"
    assert main(["train", "rbm_digits", "--set", "task_options.binarize=null", "--output", str(output)]) == 2
    assert "task_options.probabilities: true" in capsys.readouterr().err
    assert not output.exists()
