"""Comparisons over seeds (`keras_nn.runs.comparison`): the recipe section's checks, teacher references, and a
tiny comparison whose table is recomputed from each run's own metrics."""

import json
import statistics

import numpy as np
import pytest
from PIL import Image

from keras_nn.cli import main
from keras_nn.config.recipe import read_recipe_file
from keras_nn.errors import ConfigError, OutputDirError
from keras_nn.runs import RunDirectory, run_comparison
from keras_nn.runs.comparison import check_comparison, comparison_configs

TINY_DEIT = {"name": "deit_tiny_distilled_patch16_224", "patch_size": 4, "hidden_dim": 16, "depth": 1, "num_heads": 2,
             "mlp_dim": 32}


def tiny_comparison(runs, seeds=(0, 1), explain=0):
    """vit_vs_cnn made small: native 8x8 digits, one epoch, tiny models."""
    raw = read_recipe_file("vit_vs_cnn")
    raw["data"]["image_size"] = None
    raw["training"]["epochs"] = 1
    raw["comparison"] = {"seeds": list(seeds), "explain": explain, "runs": runs}
    return raw


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"runs": {"a": {}}, "seed": [0]}, "comparison.seed' is not allowed"),
        ({"runs": {"a": {}}, "seeds": []}, "non-empty list of integers"),
        ({"runs": {"a": {}}, "seeds": [0, 0]}, "repeats a seed"),
        ({"runs": {}}, "must map run names"),
        ({"runs": {"a": {"data": {}}}}, "comparison.runs.a.data' is not allowed"),
        ({"runs": {"a b": {}}}, "plain name"),
        ({"runs": {"a": {}}, "explain": -1}, "integer >= 0"),
        ({"runs": {"a": {}}, "metrics": []}, "non-empty list of metric names"),
        ({"runs": {"a": {}}, "metrics": "test_accuracy"}, "non-empty list of metric names"),
    ],
)
def test_bad_comparison_sections_are_named(section, message):
    with pytest.raises(ConfigError, match=message):
        check_comparison(section)


def test_a_teacher_reference_becomes_the_same_seeds_run_directory(tmp_path):
    raw = tiny_comparison(
        {"cnn": {"model": {"name": "simple_cnn"}},
         "deit": {"task": "distillation", "model": TINY_DEIT, "task_options": {"teacher": "@cnn"}}},
        seeds=[3, 7],
    )
    run = RunDirectory(tmp_path / "comparison")
    configs = comparison_configs(raw, run)
    for seed in (3, 7):
        assert configs["deit"][seed]["training"]["seed"] == seed
        assert configs["deit"][seed]["task_options"]["teacher"] == str(tmp_path / "comparison" / "cnn" / f"seed_{seed}")
        # The base recipe's augmentation reaches every run; the run's own model replaces the base's.
        assert configs["deit"][seed]["task_options"]["augment"] == configs["cnn"][seed]["task_options"]["augment"]
        assert configs["deit"][seed]["model"]["name"] == "deit_tiny_distilled_patch16_224"
    late = tiny_comparison(
        {"deit": {"task": "distillation", "model": TINY_DEIT, "task_options": {"teacher": "@cnn"}},
         "cnn": {"model": {"name": "simple_cnn"}}}
    )
    with pytest.raises(ConfigError, match="must name a run listed before it"):
        comparison_configs(late, run)
    assert not (tmp_path / "comparison").exists()


@pytest.mark.slow  # four trainings through the CLI: about 23 s
def test_a_comparison_trains_every_run_from_every_seed_and_summarizes_them(tmp_path, capsys):
    """vit_vs_cnn through the CLI at a tiny size: cnn, then deit taught by the cnn of the same seed, two seeds,
    one epoch; the table is recomputed from each run's own metrics.json."""
    root = tmp_path / "comparison"
    runs = (
        "{cnn: {model: {name: simple_cnn, filters: [8], dense_units: 0}}, "
        "deit: {task: distillation, task_options: {teacher: '@cnn'}, model: {name: deit_tiny_distilled_patch16_224, "
        "patch_size: 4, hidden_dim: 16, depth: 1, num_heads: 2, mlp_dim: 32}}}"
    )
    sets = ["data.image_size=null", "training.epochs=1", "comparison.seeds=[0, 1]", "comparison.explain=3",
            f"comparison.runs={runs}"]
    assert main(["train", "vit_vs_cnn", "--output", str(root), *[a for s in sets for a in ("--set", s)]]) == 0
    out = capsys.readouterr().out
    assert "deit" in out and "distillation" in out  # the table printed at the end
    saved = json.loads((root / "comparison.json").read_text())
    table = {row["run"]: row for row in saved["table"]}
    metrics = {
        (name, seed): json.loads((root / name / f"seed_{seed}" / "metrics.json").read_text())
        for name in ("cnn", "deit")
        for seed in (0, 1)
    }
    for name in ("cnn", "deit"):
        accuracies = [metrics[name, seed]["test_accuracy"] for seed in (0, 1)]
        assert table[name]["test_accuracy_mean"] == pytest.approx(statistics.fmean(accuracies), abs=1e-4)
        assert table[name]["test_accuracy_std"] == pytest.approx(np.std(accuracies, ddof=1), abs=1e-4)
        assert table[name]["test_accuracy_per_seed"] == {"0": accuracies[0], "1": accuracies[1]}
        assert not (root / name / "seed_0" / "export").exists()
    for seed in (0, 1):
        # Each deit run was taught by the cnn run of its own seed: the teacher's test accuracy is that run's.
        assert metrics["deit", seed]["teacher_test_accuracy"] == pytest.approx(metrics["cnn", seed]["test_accuracy"], abs=1e-6)
        assert metrics["deit", seed]["distillation"]["teacher"].startswith(str(root / "cnn" / f"seed_{seed}"))
    # The seeds are different runs: the students' losses differ.
    assert metrics["deit", 0]["test_loss"] != metrics["deit", 1]["test_loss"]
    # 8x8x1 images in 4x4 patches of width 16: patch projection, class and distillation tokens, 2 + 4 positions,
    # one block (two LayerNorms, query/key/value/output projections, a 32-wide MLP), the final LayerNorm, two
    # 10-class heads.
    block = 2 * (2 * 16) + 4 * (16 * 16 + 16) + (16 * 32 + 32) + (32 * 16 + 16)
    assert table["deit"]["parameters"] == (4 * 4 * 1 * 16 + 16) + 2 * 16 + 6 * 16 + block + 2 * 16 + 2 * (16 * 10 + 10)
    markdown = (root / "comparison.md").read_text()
    deit_label = "deit_tiny_distilled_patch16_224 (patch_size=4, hidden_dim=16, depth=1, num_heads=2, mlp_dim=32)"
    assert f"| deit | {deit_label} | distillation | {table['deit']['parameters']:,} |" in markdown
    with Image.open(root / "comparison_curves.png") as image:
        assert image.size[0] > 800
    with Image.open(root / "explanations.png") as image:
        assert image.size[1] > 3 * 150  # three rows of: image, cnn Grad-CAM, deit attention rollout
    with pytest.raises(OutputDirError, match="not empty"):
        run_comparison(json.loads(json.dumps(read_recipe_file("vit_vs_cnn"))), root, verbose=0)


def test_the_cli_rejects_a_bad_comparison_without_writing(tmp_path, capsys):
    output = tmp_path / "never"
    code = main(["train", "vit_vs_cnn", "--output", str(output), "--set", "comparison.seeds=[]"])
    assert code == 2
    assert "comparison.seeds" in capsys.readouterr().err
    assert not output.exists()


@pytest.mark.slow
def test_the_cifar10_comparison_runs_on_tfds_mock_data(tmp_path):
    """vit_vs_cnn_cifar10 as shipped (ResNet-20, DeiT-Ti's width at patch 4, distilled), one seed, one epoch on
    TFDS mock CIFAR-10 (random images; no download), the ViTs cut to one block to keep it short."""
    import tensorflow_datasets as tfds

    from keras_nn.runs import load_recipe

    config = load_recipe(
        "vit_vs_cnn_cifar10",
        ["training.epochs=1", "comparison.seeds=[0]", "comparison.explain=2", "data.shuffle_buffer=64",
         "comparison.runs.vit.model.depth=1", "comparison.runs.deit.model.depth=1"],
    )
    with tfds.testing.mock_data(num_examples=40):
        summary = run_comparison(config, tmp_path / "cifar", verbose=0)
    table = {row["run"]: row for row in json.loads((tmp_path / "cifar" / "comparison.json").read_text())["table"]}
    # He et al. 2016's 0.27M (Table 6): 269,722 trainable, plus the batch norms' moving means and variances
    # (2 x (7 x 16 + 6 x 32 + 6 x 64) = 1,376) that metrics.json's count includes.
    assert table["resnet20"]["parameters"] == 269_722 + 1_376
    # DeiT-Ti's width at one block on 32x32 inputs in 4x4 patches; the distilled one adds a token, a position, a head.
    assert table["deit"]["parameters"] - table["vit"]["parameters"] == 192 + 192 + (192 * 10 + 10)
    assert [row[0] for row in summary["rows"]] == ["resnet20", "vit", "deit"]
    assert (tmp_path / "cifar" / "explanations.png").is_file()
