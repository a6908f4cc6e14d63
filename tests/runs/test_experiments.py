"""Experiments over several runs: the augmentation ablation."""

import json

import pytest
import yaml

from keras_nn.cli import main
from keras_nn.errors import ConfigError, OutputDirError
from keras_nn.runs import load_recipe, run_ablation

# The image_classification recipe made small and quick: a tiny CNN on the native 8x8 digits, one epoch.
TINY = ["model.filters=[8, 16]", "model.dense_units=16", "data.image_size=null"]


def _sets(overrides):
    return [arg for item in overrides for arg in ("--set", item)]


# No report images: the test reads each variant's report.md, metrics and config, not its pictures.
ABLATION = [*TINY, "training.epochs=1", "training.early_stopping_patience=null", "task_options.report.grad_cam=0",
            "task_options.report.misclassified=0"]


@pytest.mark.slow
def test_augmentation_ablation_trains_both_and_compares(tmp_path, capsys):
    run = tmp_path / "ablation"
    assert main(["train", "image_classification", "--output", str(run), "--set", "ablation=augmentation", *_sets(ABLATION)]) == 0
    out = capsys.readouterr().out
    assert "with augmentation" in out and "without augmentation" in out and "test_accuracy" in out
    summary = json.loads((run / "ablation.json").read_text())
    with_, without = summary["results"]["with_augmentation"], summary["results"]["without_augmentation"]
    for variant, metrics in summary["results"].items():
        assert (run / variant / "report.md").is_file()
        assert json.loads((run / variant / "metrics.json").read_text()) == metrics
        assert not (run / variant / "export").exists()
    assert yaml_augment(run / "with_augmentation")["rotation"] > 0
    assert yaml_augment(run / "without_augmentation")["rotation"] == 0
    table = (run / "ablation.md").read_text()
    assert f"| test_accuracy | {with_['test_accuracy']:.4f} | {without['test_accuracy']:.4f} |" in table
    with pytest.raises(OutputDirError, match="not empty"):
        run_ablation(load_recipe("image_classification", [*ABLATION, "ablation=augmentation"]), run)
    # A finished ablation resumes as done: nothing is trained again.
    again = run_ablation(load_recipe("image_classification", [*ABLATION, "ablation=augmentation"]), run, resume=True)
    assert again["results"]["with_augmentation"] == with_


def yaml_augment(run):
    return yaml.safe_load((run / "config.yaml").read_text())["task_options"]["augment"]


def test_ablation_needs_augmentation_to_compare(tmp_path):
    with pytest.raises(ConfigError, match="switches no augmentation on"):
        run_ablation(load_recipe("image_classification", ["ablation=augmentation", "task_options.augment=false"]), tmp_path / "a")
    with pytest.raises(ConfigError, match="needs task 'image_classification'"):
        run_ablation(load_recipe("digits_cnn", ["ablation=augmentation"]), tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
