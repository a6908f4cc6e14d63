"""Experiments over several runs of one recipe: the augmentation ablation (`--set ablation=augmentation`)."""

import copy
import json
import logging

import keras

from keras_nn.config.recipe import dump_recipe
from keras_nn.data.augment import augmentation_enabled, check_augment_options
from keras_nn.errors import ConfigError, OutputDirError
from keras_nn.files import atomic_write_text
from keras_nn.runs.recipes import resolve_recipe
from keras_nn.runs.run_directory import RunDirectory
from keras_nn.runs.train import train_run
from keras_nn.viz import markdown_table

logger = logging.getLogger(__name__)


def _fmt(value, digits=4):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.{digits}f}"
    return "-" if value is None else str(value)


def _relative(run, path):
    return path.relative_to(run.root).as_posix()


_ABLATION_METRICS = ("test_accuracy", "test_loss", "macro_f1", "val_accuracy", "val_loss", "epochs_trained", "train_seconds")
_VARIANTS = ("with_augmentation", "without_augmentation")


def run_ablation(config, output_dir, resume=False, verbose="auto"):
    """Trains a recipe twice, with and without its augmentation, and compares the two runs.

    Each variant is a full run in a sub-directory of `output_dir` (`with_augmentation/`,
    `without_augmentation/`, each with its own report; no export) from the same seed and data split.
    `output_dir` then gets `config.yaml`, `ablation.json` (both runs' metrics) and `ablation.md` (the
    comparison table). With `resume`, finished variants are kept and an interrupted one resumes.

    Args:
        config: a recipe mapping with `ablation: augmentation` and task `image_classification`.
        output_dir: the ablation's directory (must be empty unless `resume`).
        resume: continue an interrupted ablation in `output_dir`.
        verbose: Keras verbosity of each run.

    Returns:
        `{"title", "columns", "rows", "results", "run_dir"}`: the comparison as a table and each variant's
        metrics.
    """
    config = resolve_recipe(config)
    kind = config.get("ablation", "none")
    if kind != "augmentation":
        raise ConfigError(f"recipe key 'ablation' = {kind!r}: run_ablation compares 'augmentation' only")
    if config["task"] != "image_classification":
        raise ConfigError(
            f"ablation=augmentation needs task 'image_classification' (the recipe's task is {config['task']!r})"
        )
    augment = config["task_options"]["augment"]
    if not augmentation_enabled(augment):
        raise ConfigError(
            "ablation=augmentation: the recipe switches no augmentation on; set e.g. "
            "task_options.augment.rotation=0.05 first"
        )
    run = RunDirectory(output_dir)
    if not run.is_empty() and not resume:
        raise OutputDirError(
            f"output directory {str(run.root)!r} is not empty; pass --resume to continue that ablation or choose another --output"
        )
    run.root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run.config, dump_recipe(config))

    results = {}
    for variant in _VARIANTS:
        sub = copy.deepcopy(config)
        sub["ablation"] = "none"
        sub["task_options"]["augment"] = check_augment_options(augment if variant == "with_augmentation" else None)
        sub_run = run.variant(variant)
        if resume and sub_run.metrics.is_file():
            results[variant] = json.loads(sub_run.metrics.read_text())
            continue
        again = resume and sub_run.config.is_file()
        logger.info("ablation: training %s in %s", variant, sub_run.root)
        results[variant] = train_run(sub, sub_run, resume=again, verbose=verbose, export=False).metrics
        keras.backend.clear_session()

    with_, without = (results[v] for v in _VARIANTS)
    rows = []
    for metric in _ABLATION_METRICS:
        a, b = with_.get(metric), without.get(metric)
        if a is None and b is None:
            continue
        digits = {"train_seconds": 1, "epochs_trained": 0}.get(metric, 4)
        difference = a - b if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
        rows.append((metric, _fmt(a, digits), _fmt(b, digits), "-" if difference is None else f"{difference:+.{digits}f}"))
    columns = ["metric", "with augmentation", "without augmentation", "difference"]
    switched = ", ".join(f"{k}={v}" for k, v in augment.items() if v and k != "fill_mode")
    summary = {
        "ablation": "augmentation",
        "augment": augment,
        "seed": config["training"]["seed"],
        "results": results,
        "table": [dict(zip(columns, row, strict=True)) for row in rows],
    }
    atomic_write_text(run.ablation_json, json.dumps(summary, indent=2))
    lines = [
        f"# Augmentation ablation: {config['name'] or config['model']['name']}",
        "",
        f"{config['model']['name']} on {config['data']['source']}, trained twice from seed {config['training']['seed']} "
        f"on the same split: with the recipe's augmentation ({switched}) and without any.",
        "",
        markdown_table(columns, rows),
        "",
        "Each run's report: "
        + ", ".join(f"[{variant.replace('_', ' ')}]({_relative(run, run.variant(variant).report)})" for variant in _VARIANTS)
        + f"; both metrics in [{run.ablation_json.name}]({run.ablation_json.name}).",
        "",
    ]
    atomic_write_text(run.ablation_md, "\n".join(lines))
    return {
        "title": f"augmentation ablation -> {run.root}",
        "columns": columns,
        "rows": rows,
        "results": results,
        "run_dir": run.root,
    }
