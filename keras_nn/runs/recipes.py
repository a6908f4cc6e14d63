"""Resolving a recipe: the recipe's own sections (`keras_nn.config.recipe`) and its task's `task_options`
(`keras_nn.training.tasks`), checked with the same schema machinery and filled in."""

import yaml

from keras_nn.config.recipe import load_recipe_sections
from keras_nn.config.recipe import validate as validate_recipe
from keras_nn.training.tasks import resolve_task_options


def resolve_recipe(raw):
    """Checks a raw recipe mapping, its task options included; returns it with every default filled in."""
    return resolve_task_options(validate_recipe(raw))


def load_recipe(name_or_path, overrides=()):
    """Reads a recipe by shipped name (`digits_cnn`) or YAML path, applies `--set` overrides and resolves it.

    Example:
    >>> config = load_recipe("digits_cnn", ["training.epochs=3"])
    """
    return resolve_task_options(load_recipe_sections(name_or_path, overrides))


def read_run_recipe(run):
    """The resolved recipe a run saved (`run.config`)."""
    return resolve_recipe(yaml.safe_load(run.config.read_text()))
