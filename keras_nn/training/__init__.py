"""Training: strategies (tf.distribute), callbacks, recipes, and the fit loop a recipe drives."""

import keras_nn.training.image_classification  # noqa: F401  (registers the image_classification task)
import keras_nn.training.translation  # noqa: F401  (registers the translation task)
from keras_nn.training import sequence_tasks  # noqa: F401  (registers the sequence tasks)
from keras_nn.training.recipe import load_recipe, recipe_names
from keras_nn.training.strategy import get_strategy, resolve_strategy_name
from keras_nn.training.trainer import RunResult, build_model, load_data, save_model, train

__all__ = [
    "RunResult",
    "build_model",
    "get_strategy",
    "load_data",
    "load_recipe",
    "recipe_names",
    "resolve_strategy_name",
    "save_model",
    "train",
]
