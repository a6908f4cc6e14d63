"""Recipes: YAML files that say what to train (model, data, optimizer and schedule, epochs, export, expected
result), loaded against a schema so that a typo or a bad value stops the run before it starts.

Every key has a type, a default and, where it matters, the allowed values or range. An unknown key or a bad
value raises `ConfigError` naming the key, the value and what is allowed. `--set a.b=value` overrides are
parsed as YAML scalars/lists (`--set data.image_size=[32,32]`, `--set training.epochs=3`).
"""

import contextlib
import copy
import dataclasses
import difflib
import importlib.resources
from pathlib import Path
from typing import Any

import yaml

from keras_nn.errors import ConfigError, MissingPathError

_ANY = object()


@dataclasses.dataclass(frozen=True)
class Field:
    """One recipe key: its type(s), default, allowed values, numeric range, and help text."""

    types: tuple
    default: Any = None
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    help: str = ""

    def check(self, key, value):
        if value is None:
            if self.default is None:
                return None
            raise ConfigError(f"recipe key {key!r} must not be empty (default {self.default!r})")
        if self.types is not _ANY:
            if float in self.types and isinstance(value, str):
                # YAML 1.1 reads 1e-3 (no dot) as a string; take it as the number it plainly is.
                with contextlib.suppress(ValueError):
                    value = float(value)
            if float in self.types and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if int in self.types and isinstance(value, float) and value.is_integer() and float not in self.types:
                value = int(value)
            if not isinstance(value, self.types) or (isinstance(value, bool) and bool not in self.types):
                names = " or ".join(t.__name__ for t in self.types)
                raise ConfigError(f"recipe key {key!r} = {value!r} must be {names}")
        if self.choices is not None and value not in self.choices:
            raise ConfigError(
                f"recipe key {key!r} = {value!r} is not allowed; choose one of: "
                f"{', '.join(str(c) for c in self.choices)}"
            )
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"recipe key {key!r} = {value!r} must be >= {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(f"recipe key {key!r} = {value!r} must be <= {self.maximum}")
        return value


EXPORT_FORMATS = ("savedmodel", "tflite", "onnx")
QUANTIZE_MODES = ("float16", "dynamic", "int8")
RNN_FORMS = ("auto", "fused", "loop")
STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")

# An open section ("*") takes keys of its own: those of `model` other than `name` are `create_model`
# arguments, which the model checks itself (naming its allowed arguments).
OPEN = "*"

SCHEMA = {
    "name": Field((str,), "", help="recipe name"),
    "description": Field((str,), "", help="what the recipe trains"),
    "task": Field((str,), "classification", help="what the model predicts: a name in keras_nn.training.tasks.TASKS"),
    "task_options": {OPEN: Field(_ANY, help="the task's own keys; the task checks them")},
    "ablation": Field(
        (str,), "none", choices=("none", "augmentation"),
        help="`augmentation`: `keras-nn train` runs the recipe with and without its augmentation and compares them",
    ),
    "model": {
        "name": Field((str,), "simple_cnn", help="a name from `keras-nn list`"),
        OPEN: Field(_ANY, help="create_model arguments (num_classes and input_shape come from the data)"),
    },
    "data": {
        "source": Field((str,), "embedded:digits", help="embedded:NAME, tfds:NAME or dir:PATH"),
        "form": Field((str,), "auto", choices=("auto", "image", "sequence", "text", "tabular")),
        "batch_size": Field((int,), 32, minimum=1),
        "image_size": Field((list,), None, help="[height, width]: resize keeping the aspect ratio"),
        "data_dir": Field((str,), None, help="TFDS data_dir"),
        "validation_fraction": Field((float,), 0.1, minimum=0.0, maximum=0.9),
        "test_fraction": Field((float,), 0.2, minimum=0.0, maximum=0.9),
        "cache": Field((bool,), True),
        "shuffle_buffer": Field((int,), 10000, minimum=1),
        "timesteps": Field((int,), None, minimum=1),
        "label_column": Field((str,), "label"),
    },
    "optimizer": {
        "name": Field((str,), "adam", choices=("adam", "adamw", "sgd", "rmsprop")),
        "learning_rate": Field((float,), 1e-3, minimum=0.0),
        "weight_decay": Field((float,), None, minimum=0.0),
        "momentum": Field((float,), 0.9, minimum=0.0, maximum=1.0, help="sgd only"),
        "clipnorm": Field((float,), None, minimum=0.0),
        "beta_2": Field((float,), 0.999, minimum=0.0, maximum=1.0, help="adam/adamw (0.98 in the Transformer paper)"),
        "epsilon": Field((float,), 1e-7, minimum=0.0, help="adam/adamw (1e-9 in the Transformer paper)"),
    },
    "schedule": {
        "name": Field((str,), "constant", choices=("constant", "cosine", "step", "exponential", "transformer")),
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
    },
    "export": {
        "formats": Field((list,), [], help=f"any of {', '.join(EXPORT_FORMATS)}"),
        "quantize": Field((list,), [], help=f"TFLite variants besides float32: {', '.join(QUANTIZE_MODES)}"),
        "rnn_form": Field((str,), "auto", choices=RNN_FORMS),
        "verify_samples": Field((int,), 256, minimum=1),
        "representative_samples": Field((int,), 200, minimum=1),
        "benchmark_runs": Field((int,), 100, minimum=1),
    },
    "expected": {
        "metric": Field((str,), "test_accuracy"),
        "min": Field((float,), None, minimum=0.0, help="the result the recipe should reach"),
        "reference": Field((str,), "", help="where the expected figure comes from"),
    },
}

_LIST_CHOICES = {"export.formats": EXPORT_FORMATS, "export.quantize": QUANTIZE_MODES}


def defaults(schema=SCHEMA):
    """The full recipe with every default filled in."""
    return {
        key: defaults(value) if isinstance(value, dict) else copy.deepcopy(value.default)
        for key, value in schema.items()
        if key != OPEN
    }


def _unknown_key_error(path, key, schema):
    where = f"under {path!r}" if path else "at the top level"
    schema = [name for name in schema if name != OPEN]
    close = difflib.get_close_matches(key, schema, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(
        f"unknown recipe key {'.'.join(filter(None, [path, key]))!r}{hint}; allowed keys {where}: "
        f"{', '.join(schema)}"
    )


def _validate(raw, schema, path=""):
    if not isinstance(raw, dict):
        raise ConfigError(f"recipe section {path or 'root'!r} must be a mapping of keys; got {raw!r}")
    resolved = {}
    for key in raw:
        if key not in schema and OPEN not in schema:
            raise _unknown_key_error(path, key, schema)
    resolved.update({key: copy.deepcopy(value) for key, value in raw.items() if key not in schema})
    for key, field in schema.items():
        if key == OPEN:
            continue
        full = f"{path}.{key}" if path else key
        if isinstance(field, dict):
            resolved[key] = _validate(raw.get(key, {}) or {}, field, full)
        else:
            value = field.check(full, copy.deepcopy(raw.get(key, field.default)))
            if full in _LIST_CHOICES:
                for item in value:
                    if item not in _LIST_CHOICES[full]:
                        raise ConfigError(
                            f"recipe key {full!r} has {item!r}; allowed values: {', '.join(_LIST_CHOICES[full])}"
                        )
            resolved[key] = value
    return resolved


def validate(raw):
    """Checks a raw recipe mapping against `SCHEMA` and returns it with every default filled in."""
    resolved = _validate(raw or {}, SCHEMA)
    from keras_nn.training.tasks import get_task  # the task registry imports TensorFlow; load it late

    resolved["task_options"] = get_task(resolved["task"]).check_options(resolved["task_options"])
    size = resolved["data"]["image_size"]
    if size is not None and (len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size)):
        raise ConfigError(f"recipe key 'data.image_size' = {size!r} must be [height, width] of positive integers")
    return resolved


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
            last = depth == len(keys) - 1
            if isinstance(schema, dict) and key not in schema and OPEN not in schema:
                raise _unknown_key_error(".".join(keys[:depth]), key, schema)
            schema = schema.get(key) if isinstance(schema, dict) else None
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
                if not isinstance(node, dict):
                    raise ConfigError(f"--set {text!r}: {'.'.join(keys[: depth + 1])!r} is not a section")
    return raw


def recipe_names():
    """Names of the recipes that ship with keras-nn (the YAML files in recipes/)."""
    folder = importlib.resources.files("keras_nn.recipes")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


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
        raise ConfigError(
            f"unknown recipe {name_or_path!r}; give a .yaml path or one of: {', '.join(recipe_names())}"
        )
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"recipe {name_or_path!r} is not valid YAML: {error}") from None
    return raw


def load_recipe(name_or_path, overrides=()):
    """Reads, overrides and validates a recipe; returns the resolved mapping (every default filled in)."""
    return validate(apply_overrides(read_recipe_file(name_or_path), overrides))


def dump_recipe(recipe):
    """The resolved recipe as YAML text (written to the run directory as config.yaml)."""
    return yaml.safe_dump(recipe, sort_keys=False)
