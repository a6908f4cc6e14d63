"""Runs: what a user asks for as a whole, on top of training and export.

- `RunDirectory`: the one object that names every file of a run.
- `load_recipe`/`resolve_recipe`: a recipe with its task options, checked and filled in.
- `train_run`: train, then export what the recipe asks for; `export_run`: export a finished run again.
- `evaluate_run`, `predict_array`, `predict_texts`, `detect_source`, `generate_text`, `generate_images`: the
  evaluate, predict, translate, detect and generate front ends.
- `run_ablation` (`experiments`), `run_comparison` (`comparison`) and `run_quickstart`: runs of several
  recipes, variants or seeds, compared.

Arrows point down: `keras_nn.cli -> keras_nn.runs -> {keras_nn.training, keras_nn.export}`.

The public names load on first use (PEP 562): `keras-nn train --workers N` imports `keras_nn.runs.launch` to start
its workers without importing TensorFlow, which every worker imports again.
"""

import importlib

# Each public name and the module of this package that defines it.
_MODULES = {
    "RunDirectory": "run_directory",
    "RunResult": "train",
    "detect_source": "detect",
    "evaluate_run": "evaluate",
    "export_run": "export",
    "export_trained_run": "export",
    "generate_images": "generate",
    "generate_text": "generate",
    "load_array": "predict",
    "load_model_file": "load",
    "load_recipe": "recipes",
    "load_run": "load",
    "open_run": "load",
    "predict_array": "predict",
    "predict_texts": "predict",
    "resolve_recipe": "recipes",
    "run_ablation": "experiments",
    "run_comparison": "comparison",
    "run_quickstart": "quickstart",
    "train_run": "train",
}

__all__ = [
    "RunDirectory",
    "RunResult",
    "detect_source",
    "evaluate_run",
    "export_run",
    "export_trained_run",
    "generate_images",
    "generate_text",
    "load_array",
    "load_model_file",
    "load_recipe",
    "load_run",
    "open_run",
    "predict_array",
    "predict_texts",
    "resolve_recipe",
    "run_ablation",
    "run_comparison",
    "run_quickstart",
    "train_run",
]


def __getattr__(name):
    if name not in _MODULES:
        raise AttributeError(f"module 'keras_nn.runs' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"keras_nn.runs.{_MODULES[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *__all__})
