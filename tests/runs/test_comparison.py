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
    assert f"| vit | vit_tiny_patch16_224 | image_classification | {table['vit']['parameters']:,} |" in markdown
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
