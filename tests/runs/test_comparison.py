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

TINY_VIT = {"name": "vit_tiny_patch16_224", "patch_size": 4, "hidden_dim": 16, "depth": 1, "num_heads": 2, "mlp_dim": 32}
TINY_DEIT = {**TINY_VIT, "name": "deit_tiny_distilled_patch16_224", "distilled": True}


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


def test_a_comparison_trains_every_run_from_every_seed_and_summarizes_them(tmp_path):
    raw = tiny_comparison(
        {"cnn": {"model": {"name": "simple_cnn", "filters": [8], "dense_units": 0}}, "vit": {"model": TINY_VIT}},
        explain=0,
    )
    summary = run_comparison(raw, tmp_path / "comparison", verbose=0)
    root = tmp_path / "comparison"
    saved = json.loads((root / "comparison.json").read_text())
    table = {row["run"]: row for row in saved["table"]}
    for name in ("cnn", "vit"):
        accuracies = [json.loads((root / name / f"seed_{s}" / "metrics.json").read_text())["test_accuracy"] for s in (0, 1)]
        assert table[name]["test_accuracy_mean"] == pytest.approx(statistics.fmean(accuracies), abs=1e-4)
        assert table[name]["test_accuracy_std"] == pytest.approx(np.std(accuracies, ddof=1), abs=1e-4)
        assert table[name]["test_accuracy_per_seed"] == {"0": accuracies[0], "1": accuracies[1]}
        assert not (root / name / "seed_0" / "export").exists()
    # The two seeds are different runs: a ViT's initial weights differ, so its accuracies do not both repeat.
    configs = [json.loads((root / "vit" / f"seed_{s}" / "metrics.json").read_text()) for s in (0, 1)]
    assert configs[0] != configs[1]
    # 8x8x1 images in 4x4 patches of width 16: patch projection, class token, 1 + 4 positions, one block (two
    # LayerNorms, query/key/value/output projections, a 32-wide MLP), the final LayerNorm, a 10-class head.
    block = 2 * (2 * 16) + 4 * (16 * 16 + 16) + (16 * 32 + 32) + (32 * 16 + 16)
    assert table["vit"]["parameters"] == (4 * 4 * 1 * 16 + 16) + 16 + 5 * 16 + block + 2 * 16 + (16 * 10 + 10)
    markdown = (root / "comparison.md").read_text()
    vit_label = "vit_tiny_patch16_224 (patch_size=4, hidden_dim=16, depth=1, num_heads=2, mlp_dim=32)"
    assert f"| vit | {vit_label} | image_classification | {table['vit']['parameters']:,} |" in markdown
    with Image.open(root / "comparison_curves.png") as image:
        assert image.size[0] > 800
    assert [row[0] for row in summary["rows"]] == ["cnn", "vit"]
    with pytest.raises(OutputDirError, match="not empty"):
        run_comparison(raw, root, verbose=0)


def test_the_cli_rejects_a_bad_comparison_without_writing(tmp_path, capsys):
    output = tmp_path / "never"
    code = main(["train", "vit_vs_cnn", "--output", str(output), "--set", "comparison.seeds=[]"])
    assert code == 2
    assert "comparison.seeds" in capsys.readouterr().err
    assert not output.exists()


def test_vit_vs_cnn_through_the_cli_distills_from_the_same_seeds_cnn_and_explains(tmp_path, capsys):
    """The shipped recipe end to end at a tiny size: cnn, then deit taught by that cnn, one seed, one epoch."""
    output = tmp_path / "vit_vs_cnn"
    runs = (
        "{cnn: {model: {name: simple_cnn, filters: [8], dense_units: 0}}, "
        "deit: {task: distillation, task_options: {teacher: '@cnn'}, model: {name: deit_tiny_distilled_patch16_224, "
        "patch_size: 4, hidden_dim: 16, depth: 1, num_heads: 2, mlp_dim: 32}}}"
    )
    sets = ["data.image_size=null", "training.epochs=1", "comparison.seeds=[5]", "comparison.explain=3",
            f"comparison.runs={runs}"]
    assert main(["train", "vit_vs_cnn", "--output", str(output), *[a for s in sets for a in ("--set", s)]]) == 0
    out = capsys.readouterr().out
    assert "deit" in out and "distillation" in out  # the table printed at the end
    deit = json.loads((output / "deit" / "seed_5" / "metrics.json").read_text())
    cnn = json.loads((output / "cnn" / "seed_5" / "metrics.json").read_text())
    # The teacher was the cnn run of the same seed: its test accuracy is the cnn run's own.
    assert deit["teacher_test_accuracy"] == pytest.approx(cnn["test_accuracy"], abs=1e-6)
    assert deit["distillation"]["teacher"].startswith(str(output / "cnn" / "seed_5"))
    with Image.open(output / "explanations.png") as image:
        width, height = image.size
    assert width > 600 and height > 3 * 150  # three rows: image, cnn Grad-CAM, deit rollout side by side


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
