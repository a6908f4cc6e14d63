"""Recipes: YAML files that say what to train (model, data, optimizer and schedule, epochs, export, expected
result), checked against a schema so that a typo or a bad value stops the run before it starts.

Every key has a type, a default and, where it matters, the allowed values or range. An unknown key or a bad
value raises `ConfigError` naming the key, the value and what is allowed. `--set a.b=value` overrides are
parsed as YAML scalars/lists (`--set data.image_size=[32,32]`, `--set training.epochs=3`).

This module checks the recipe's own sections. The open `task_options` section belongs to the recipe's task,
which checks it with the same machinery (`keras_nn.training.tasks.resolve_task_options`); `keras_nn.runs`
puts the two together (`keras_nn.runs.load_recipe`).
"""

import copy
import difflib
import importlib.resources
from pathlib import Path

import yaml

from keras_nn.config.schema import ANY, OPEN, Field, unknown_key_error, validate_section
from keras_nn.config.vocabulary import (
    ABLATIONS,
    DATA_FORMS,
    EXPORT_FORMATS,
    OPTIMIZERS,
    QUANTIZE_MODES,
    SCHEDULES,
    STRATEGIES,
    TFLITE_RNN_FORMS,
)
from keras_nn.errors import ConfigError, MissingPathError


def _check_image_size(key, size):
    if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        raise ConfigError(f"recipe key {key!r} = {size!r} must be [height, width] of positive integers")
    return size


SCHEMA = {
    "name": Field((str,), "", help="recipe name"),
    "description": Field((str,), "", help="what the recipe trains"),
    "task": Field((str,), "classification", help="what the model predicts: a name in keras_nn.training.tasks"),
    "task_options": {OPEN: Field(ANY, help="the task's own keys; the task's schema checks them")},
    "ablation": Field(
        (str,), "none", choices=ABLATIONS,
        help="`augmentation`: `keras-nn train` runs the recipe with and without its augmentation and compares them",
    ),
    "comparison": Field(
        (dict,), None,
        help="`seeds` and `runs` (name -> recipe overrides): `keras-nn train` trains every run from every seed and "
        "compares them (keras_nn.runs.comparison)",
    ),
    "model": {
        "name": Field((str,), "simple_cnn", help="a name from `keras-nn list`"),
        OPEN: Field(ANY, help="create_model arguments (num_classes and input_shape come from the data)"),
    },
    "data": {
        "source": Field((str,), "embedded:digits", help="embedded:NAME, tfds:NAME, dir:PATH, coco:FILE.json (detection) or generated:NAME"),
        "form": Field((str,), "auto", choices=DATA_FORMS),
        "batch_size": Field((int,), 32, minimum=1),
        "image_size": Field((list,), None, check=_check_image_size, help="[height, width]: resize keeping the aspect ratio"),
        "data_dir": Field((str,), None, help="TFDS data_dir"),
        "validation_fraction": Field((float,), 0.1, minimum=0.0, maximum=0.9),
        "test_fraction": Field((float,), 0.2, minimum=0.0, maximum=0.9),
        "cache": Field((bool,), True),
        "shuffle_buffer": Field((int,), 10000, minimum=1),
        "timesteps": Field((int,), None, minimum=1),
        "label_column": Field((str,), "label"),
        "skip_unreadable": Field(
            (bool,), False, help="dir: images that cannot be decoded are left out with a warning, instead of stopping"
        ),
    },
    "optimizer": {
        "name": Field((str,), "adam", choices=OPTIMIZERS),
        "learning_rate": Field((float,), 1e-3, minimum=0.0),
        "weight_decay": Field((float,), None, minimum=0.0),
        "momentum": Field((float,), 0.9, minimum=0.0, maximum=1.0, help="sgd only"),
        "clipnorm": Field((float,), None, minimum=0.0),
        "beta_1": Field((float,), 0.9, minimum=0.0, maximum=1.0, help="adam/adamw (0.5 in DCGAN)"),
        "beta_2": Field((float,), 0.999, minimum=0.0, maximum=1.0, help="adam/adamw (0.98 in the Transformer paper)"),
        "epsilon": Field((float,), 1e-7, minimum=0.0, help="adam/adamw (1e-9 in the Transformer paper)"),
    },
    "schedule": {
        "name": Field((str,), "constant", choices=SCHEDULES),
        "warmup_epochs": Field((int,), 0, minimum=0),
        "warmup_steps": Field((int,), None, minimum=1, help="transformer: steps of warmup (default 4000)"),
        "d_model": Field((int,), None, minimum=1, help="transformer: the model width (default model.d_model)"),
        "scale": Field((float,), 1.0, minimum=0.0, help="transformer: factor on the paper's curve"),
        "decay_rate": Field((float,), 0.1, minimum=0.0, maximum=1.0, help="step/exponential"),
        "step_epochs": Field((int,), 10, minimum=1, help="step: epochs between decays"),
        "min_learning_rate": Field((float,), 0.0, minimum=0.0, help="cosine floor"),
    },
    "training": {
        "epochs": Field((int,), 10, minimum=1),
        "label_smoothing": Field((float,), 0.0, minimum=0.0, maximum=0.5),
        "early_stopping_patience": Field((int,), None, minimum=1, help="epochs without val_loss gain"),
        "seed": Field((int,), 0),
        "strategy": Field((str,), "auto", choices=STRATEGIES),
        "mixed_precision": Field((bool,), False),
        "xla": Field((bool,), False),
        "steps_per_execution": Field((int,), 1, minimum=1),
        "backup_every_steps": Field(
            (int,), None, minimum=1,
            help="steps between backups for --resume inside an epoch (null: at each epoch's end only)",
        ),
    },
    "export": {
        "formats": Field((list,), [], items=EXPORT_FORMATS, help=f"any of {', '.join(EXPORT_FORMATS)}"),
        "quantize": Field(
            (list,), [], items=QUANTIZE_MODES, help=f"TFLite variants besides float32: {', '.join(QUANTIZE_MODES)}"
        ),
        "rnn_form": Field((str,), "auto", choices=TFLITE_RNN_FORMS),
        "verify_samples": Field((int,), 256, minimum=1),
        "representative_samples": Field((int,), 200, minimum=1),
        "benchmark_runs": Field((int,), 100, minimum=1),
    },
    "expected": {
        "metric": Field((str,), "test_accuracy"),
        "min": Field((float,), None, help="the result the recipe should reach (the metric must be at least this)"),
        "reference": Field((str,), "", help="where the expected figure comes from"),
    },
}


def defaults():
    """The full recipe with every default filled in."""
    return validate({})


def validate(raw):
    """Checks a raw recipe mapping against `SCHEMA`; returns it with every default filled in.

    `task_options` is returned as given: the task checks it (`keras_nn.training.tasks.resolve_task_options`).
    """
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"a recipe must be a mapping of sections; got {raw!r}")
    return validate_section(raw or {}, SCHEMA)


def parse_override(text):
    """`"a.b=value"` -> (["a", "b"], value), the value read as YAML (numbers, booleans, lists, null)."""
    key, separator, value = text.partition("=")
    if not separator or not key.strip():
        raise ConfigError(f"--set {text!r} must look like key.subkey=value (e.g. training.epochs=3)")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {text!r}: the value is not valid YAML ({error.problem})") from None
    return key.strip().split("."), parsed


def apply_overrides(raw, overrides):
    """Applies `--set` strings to a raw recipe mapping (before validation, so bad keys are caught)."""
    raw = copy.deepcopy(raw or {})
    for text in overrides or ():
        keys, value = parse_override(text)
        node, schema = raw, SCHEMA
        for depth, key in enumerate(keys):
            if isinstance(schema, dict) and key not in schema and OPEN not in schema:
                raise unknown_key_error(".".join(keys[:depth]), key, schema)
            schema = schema.get(key) if isinstance(schema, dict) else None
            if depth == len(keys) - 1:
                node[key] = value
            else:
                node = node.setdefault(key, {})
                if not isinstance(node, dict):
                    raise ConfigError(f"--set {text!r}: {'.'.join(keys[: depth + 1])!r} is not a section")
    return raw


def load_recipe_sections(name_or_path, overrides=()):
    """Reads a recipe by shipped name or YAML path, applies `--set` overrides and checks its sections
    (`validate`); `task_options` is left to the task (`keras_nn.runs.load_recipe` resolves it too).

    Needs no TensorFlow: `keras-nn train --workers N` checks a recipe with it before starting the workers.
    """
    return validate(apply_overrides(read_recipe_file(name_or_path), overrides))


def recipe_names():
    """Names of the recipes that ship with keras-nn (the YAML files in recipes/)."""
    folder = importlib.resources.files("keras_nn.recipes")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def recipe_summaries(width=85):
    """`(name, description)` of every shipped recipe for `keras-nn list`, each description cut to `width` characters
    at a word boundary (the YAML file holds the whole of it)."""
    rows = []
    for name in recipe_names():
        description = " ".join(str(read_recipe_file(name).get("description", "")).split())
        if len(description) > width:
            description = description[: width - 3].rsplit(" ", 1)[0].rstrip(",;:(") + "..."
        rows.append((name, description))
    return rows


def read_recipe_file(name_or_path):
    """Reads a recipe by shipped name (`digits_cnn`) or YAML path, without validating it."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise MissingPathError(f"recipe file {str(path)!r} does not exist")
        text = path.read_text()
    elif name_or_path in recipe_names():
        text = (importlib.resources.files("keras_nn.recipes") / f"{name_or_path}.yaml").read_text()
    else:
        close = difflib.get_close_matches(str(name_or_path), recipe_names(), n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ConfigError(
            f"unknown recipe {name_or_path!r}; {hint}give a .yaml path or one of: {', '.join(recipe_names())}"
        )
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"recipe {name_or_path!r} is not valid YAML: {error}") from None


def dump_recipe(recipe):
    """The resolved recipe as YAML text (written to the run directory as config.yaml)."""
    return yaml.safe_dump(recipe, sort_keys=False)
