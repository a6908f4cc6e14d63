"""Runs: what a user asks for as a whole, on top of training and export.

- `RunDirectory`: the one object that names every file of a run.
- `load_recipe`/`resolve_recipe`: a recipe with its task options, checked and filled in.
- `train_run`: train, then export what the recipe asks for; `export_run`: export a finished run again.
- `evaluate_run`, `predict_array`, `predict_texts`, `detect_source`, `generate_text`, `generate_images`: the
  evaluate, predict, translate, detect and generate front ends.
- `run_ablation` (`experiments`), `run_comparison` (`comparison`) and `run_quickstart`: runs of several
  recipes, variants or seeds, compared.

Arrows point down: `keras_nn.cli -> keras_nn.runs -> {keras_nn.training, keras_nn.export}`.
"""

from keras_nn.runs.comparison import run_comparison
from keras_nn.runs.detect import detect_source
from keras_nn.runs.evaluate import evaluate_run
from keras_nn.runs.experiments import run_ablation
from keras_nn.runs.export import export_run, export_trained_run
from keras_nn.runs.generate import generate_images, generate_text
from keras_nn.runs.load import load_model_file, load_run, open_run
from keras_nn.runs.predict import load_array, predict_array, predict_texts
from keras_nn.runs.quickstart import run_quickstart
from keras_nn.runs.recipes import load_recipe, resolve_recipe
from keras_nn.runs.run_directory import RunDirectory
from keras_nn.runs.train import RunResult, train_run

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
