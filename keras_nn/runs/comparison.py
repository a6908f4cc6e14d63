"""Comparisons: several runs of one recipe's data and budget, each from several seeds, side by side
(`vit_vs_cnn`: a CNN, a ViT from scratch and the same ViT distilled from the CNN).

A recipe with a `comparison` section is a base recipe plus named runs, each a set of overrides of it:

```yaml
comparison:
  seeds: [0, 1, 2]
  explain: 6               # test images explained in explanations.png (0: none)
  metrics: [test_accuracy] # each run's metrics the table shows, mean and spread over the seeds (the first per seed)
  runs:
    cnn: {model: {name: simple_cnn}}
    vit: {model: {name: vit_tiny_patch16_224, patch_size: 4, depth: 4, hidden_dim: 64}}
    deit:
      task: distillation
      model: {name: deit_tiny_distilled_patch16_224, patch_size: 4, depth: 4, hidden_dim: 64}
      task_options: {teacher: "@cnn"}   # the cnn run of the same seed
```

Every run trains from every seed into `OUTPUT/NAME/seed_S/` (a full run directory with its own report; no
export). `OUTPUT` then gets `comparison.json` (every run's metrics), `comparison.md` (the table: parameters,
each of `comparison.metrics` as mean and standard deviation over the seeds, the first one's value per seed,
training time),
`comparison_curves.png` (validation accuracy and training loss per epoch, the seeds' mean with their range) and
`explanations.png` (the first test images, with each CNN's Grad-CAM and each Vision Transformer's attention
rollout, from the first seed).
"""

import copy
import json
import logging
import shutil
import statistics

import keras

from keras_nn.config.recipe import dump_recipe
from keras_nn.errors import ConfigError, OutputDirError, UsageError
from keras_nn.files import atomic_write_text
from keras_nn.runs.load import load_model_file
from keras_nn.runs.recipes import resolve_recipe
from keras_nn.runs.run_directory import RunDirectory
from keras_nn.runs.train import train_run
from keras_nn.training.tasks import create_task
from keras_nn.viz import markdown_table
from keras_nn.viz.attention_rollout import is_vision_transformer, model_attention_rollout
from keras_nn.viz.comparison import plot_comparison_curves
from keras_nn.viz.curves import read_history
from keras_nn.viz.grad_cam import grad_cam
from keras_nn.viz.overlays import save_explanation_grid

logger = logging.getLogger(__name__)

RUN_KEYS = ("task", "task_options", "model", "optimizer", "schedule", "training", "description")
RUN_REFERENCE = "@"


def _merge(base, overrides):
    """`base` with `overrides` merged in, section by section (nested mappings merged, anything else replaced)."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def check_comparison(section):
    """Checks a recipe's `comparison` section; returns `(seeds, runs, explain)`."""
    unknown = sorted(set(section) - {"seeds", "runs", "explain", "metrics"})
    if unknown:
        raise ConfigError(
            f"recipe key 'comparison.{unknown[0]}' is not allowed; comparison takes seeds, runs, explain, metrics"
        )
    comparison_metrics(section)
    seeds = section.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError(f"recipe key 'comparison.seeds' = {seeds!r} must be a non-empty list of integers, e.g. [0, 1, 2]")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"recipe key 'comparison.seeds' = {seeds!r} repeats a seed; list each once")
    explain = section.get("explain", 6)
    if not isinstance(explain, int) or isinstance(explain, bool) or explain < 0:
        raise ConfigError(f"recipe key 'comparison.explain' = {explain!r} must be an integer >= 0")
    runs = section.get("runs")
    if not isinstance(runs, dict) or not runs:
        raise ConfigError(
            "recipe key 'comparison.runs' must map run names to recipe overrides, e.g. {cnn: {model: {name: simple_cnn}}}"
        )
    for name, overrides in runs.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"comparison run name {name!r} must be a plain name (letters, digits, _)")
        if not isinstance(overrides, dict):
            raise ConfigError(f"recipe key 'comparison.runs.{name}' = {overrides!r} must be a mapping of recipe overrides")
        bad = sorted(set(overrides) - set(RUN_KEYS))
        if bad:
            raise ConfigError(
                f"recipe key 'comparison.runs.{name}.{bad[0]}' is not allowed; a run overrides {', '.join(RUN_KEYS)} "
                "(data and export are the comparison's own)"
            )
    return seeds, runs, explain


def _teacher_references(run_name, config, earlier):
    """Replaces a `task_options.teacher` of `@RUN` by nothing yet: returns the referenced run's name (or None)."""
    teacher = config.get("task_options", {}).get("teacher")
    if not (isinstance(teacher, str) and teacher.startswith(RUN_REFERENCE)):
        return None
    reference = teacher[len(RUN_REFERENCE):]
    if reference not in earlier:
        raise ConfigError(
            f"comparison run {run_name!r}: teacher {teacher!r} must name a run listed before it "
            f"({', '.join(earlier) or 'none'})"
        )
    return reference


def comparison_metrics(section):
    """The metrics the comparison's table shows (`comparison.metrics`, default `[test_accuracy]`)."""
    metrics = section.get("metrics", ["test_accuracy"])
    if not isinstance(metrics, list) or not metrics or not all(isinstance(m, str) and m for m in metrics):
        raise ConfigError(
            f"recipe key 'comparison.metrics' = {metrics!r} must be a non-empty list of metric names from each run's "
            "metrics.json, e.g. [test_accuracy]"
        )
    return metrics


def comparison_configs(config, run):
    """Every run's resolved recipe, `{name: {seed: config}}`, checked before anything is trained.

    A `task_options.teacher` of `@NAME` becomes the run directory of run `NAME` from the same seed.
    """
    seeds, runs, _ = check_comparison(config["comparison"])
    base = {key: value for key, value in config.items() if key != "comparison"}
    configs = {}
    for name, overrides in runs.items():
        merged = _merge(base, overrides)
        reference = _teacher_references(name, merged, list(configs))
        configs[name] = {}
        for seed in seeds:
            seeded = copy.deepcopy(merged)
            seeded["training"]["seed"] = seed
            seeded["name"] = f"{config['name'] or 'comparison'}/{name}"
            if reference is not None:
                seeded["task_options"]["teacher"] = str(run_directory_of(run, reference, seed).root)
            configs[name][seed] = resolve_recipe(seeded)
    return configs


def run_directory_of(run, name, seed):
    """The run directory of comparison run `name` from `seed`."""
    return run.variant(name).variant(f"seed_{seed}")


def _mean_and_spread(values):
    values = [v for v in values if isinstance(v, (int, float))]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def model_label(model_section):
    """A run's model as the table shows it: the registered name, then the arguments the recipe sets."""
    arguments = ", ".join(f"{key}={value}" for key, value in model_section.items() if key != "name")
    return f"{model_section['name']} ({arguments})" if arguments else model_section["name"]


def _summary_rows(configs, results, metrics):
    rows, table = [], []
    first_metric = metrics[0]
    for name, by_seed in results.items():
        seconds, _ = _mean_and_spread([values.get("train_seconds") for values in by_seed.values()])
        first = next(iter(by_seed.values()))
        config = next(iter(configs[name].values()))
        row = {
            "run": name,
            "model": model_label(config["model"]),
            "task": config["task"],
            "parameters": first.get("num_parameters"),
        }
        cells = []
        for metric in metrics:
            mean, spread = _mean_and_spread([values.get(metric) for values in by_seed.values()])
            row[f"{metric}_mean"] = None if mean is None else round(mean, 4)
            row[f"{metric}_std"] = None if spread is None else round(spread, 4)
            cells.append("-" if mean is None else f"{mean:.4f} ± {spread:.4f}")
        per_seed = [values.get(first_metric) for values in by_seed.values()]
        row[f"{first_metric}_per_seed"] = {str(seed): values.get(first_metric) for seed, values in by_seed.items()}
        row["train_seconds_mean"] = None if seconds is None else round(seconds, 1)
        table.append(row)
        rows.append(
            (
                name,
                row["model"],
                row["task"],
                f"{row['parameters']:,}" if row["parameters"] else "-",
                *cells,
                ", ".join("-" if a is None else f"{a:.4f}" for a in per_seed),
                "-" if seconds is None else f"{seconds:.1f}",
            )
        )
    columns = [
        "run", "model", "task", "parameters",
        *(f"{metric.replace('_', ' ')} (mean ± std)" for metric in metrics),
        f"{first_metric.replace('_', ' ')} per seed", "train s (mean)",
    ]
    return columns, rows, table


def _write_explanations(configs, run, seed, count):
    """`explanations.png`: the first `count` test images with each run's explanation (Grad-CAM for a CNN,
    attention rollout for a Vision Transformer), from `seed`'s runs."""
    first = next(iter(configs.values()))[seed]
    bundle = create_task(first["task"]).load_data(first)
    images, labels = bundle.as_numpy("test", limit=count)
    columns = {}
    for name in configs:
        model = load_model_file(run_directory_of(run, name, seed).model)
        if is_vision_transformer(model):
            columns[f"{name}: attention rollout"] = model_attention_rollout(model, images)
        else:
            columns[f"{name}: Grad-CAM"] = grad_cam(model, images)
        keras.backend.clear_session()
    save_explanation_grid(
        images, columns, run.explanations_png,
        titles=[f"label {int(label)}" for label in labels],
        title=f"What each model looks at: first test images, seed {seed} runs",
    )


def run_comparison(config, output_dir, resume=False, verbose="auto"):
    """Trains every run of a comparison recipe from every seed and compares them (see the module doc).

    Args:
        config: a recipe mapping with a `comparison` section.
        output_dir: the comparison's directory (must be empty unless `resume`).
        resume: continue an interrupted comparison: finished runs are kept, an interrupted one resumes.
        verbose: Keras verbosity of each run.

    Returns:
        `{"title", "columns", "rows", "results", "run_dir"}`: the comparison table and every run's metrics by seed.
    """
    config = resolve_recipe(config)
    if not config.get("comparison"):
        raise ConfigError("run_comparison needs a recipe with a 'comparison' section (seeds, runs)")
    run = RunDirectory(output_dir)
    if not run.is_empty() and not resume:
        raise OutputDirError(
            f"output directory {str(run.root)!r} is not empty; pass --resume to continue that comparison or choose "
            "another --output"
        )
    configs = comparison_configs(config, run)
    seeds, _, explain = check_comparison(config["comparison"])
    created = not run.root.exists()
    run.root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run.config, dump_recipe(config))

    results = {name: {} for name in configs}
    finished = 0
    for seed in seeds:
        for name, by_seed in configs.items():
            sub_run = run_directory_of(run, name, seed)
            if resume and sub_run.metrics.is_file():
                results[name][seed] = json.loads(sub_run.metrics.read_text())
                continue
            again = resume and sub_run.config.is_file()
            logger.info("comparison: training %s from seed %d in %s", name, seed, sub_run.root)
            try:
                results[name][seed] = train_run(by_seed[seed], sub_run, resume=again, verbose=verbose, export=False).metrics
            except UsageError:
                # Bad input found by the first run (a data or pretraining check): a new comparison leaves nothing.
                if not resume and not finished:
                    for path in [run.root] if created else list(run.root.iterdir()):
                        shutil.rmtree(path) if path.is_dir() else path.unlink()
                raise
            finished += 1
            keras.backend.clear_session()

    metrics = comparison_metrics(config["comparison"])
    columns, rows, table = _summary_rows(configs, results, metrics)
    histories = {
        name: [read_history(run_directory_of(run, name, seed).history) for seed in seeds] for name in configs
    }
    title = f"{config['name'] or 'comparison'} on {config['data']['source']}, {len(seeds)} seed(s)"
    # The first table metric's validation curve (test_accuracy -> val_accuracy) beside the training loss.
    quantity = metrics[0].removeprefix("test_")
    panels = ((f"val_{quantity}", f"validation {quantity.replace('_', ' ')}"), ("loss", "training loss"))
    plot_comparison_curves(histories, run.comparison_curves_png, title=title, panels=panels)
    if explain:
        _write_explanations(configs, run, seeds[0], explain)
    summary = {"seeds": seeds, "results": {n: {str(s): m for s, m in r.items()} for n, r in results.items()}, "table": table}
    atomic_write_text(run.comparison_json, json.dumps(summary, indent=2))
    lines = [
        f"# {config['name'] or 'Comparison'}",
        "",
        config["description"].strip(),
        "",
        f"Data: {config['data']['source']}; every run with the same data split, augmentation and epochs "
        f"({config['training']['epochs']}), from seeds {', '.join(map(str, seeds))}.",
        "",
        markdown_table(columns, rows),
        "",
        f"![curves]({run.comparison_curves_png.name})",
        "",
    ]
    if explain:
        lines += [f"![explanations]({run.explanations_png.name})", ""]
    lines.append(
        "Each run's own report: "
        + ", ".join(
            f"[{name} seed {seed}]({run_directory_of(run, name, seed).report.relative_to(run.root).as_posix()})"
            for name in configs
            for seed in seeds
        )
        + f"; every metric in [{run.comparison_json.name}]({run.comparison_json.name})."
    )
    atomic_write_text(run.comparison_md, "\n".join(lines) + "\n")
    return {"title": f"{title} -> {run.root}", "columns": columns, "rows": rows, "results": results, "run_dir": run.root}
