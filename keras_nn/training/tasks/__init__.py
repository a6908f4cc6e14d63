"""Tasks: what a recipe's model predicts, and so how it is built, compiled, evaluated, reported and exported.

One task per file, registered as a class under its `name` (the recipe's `task` key). A run builds a fresh
instance (`create_task`), so nothing one run leaves on a task reaches the next.
"""

from keras_nn.errors import ConfigError
from keras_nn.training.tasks.autoencoder import AutoencoderTask
from keras_nn.training.tasks.base import Task
from keras_nn.training.tasks.bert_classification import BertClassificationTask
from keras_nn.training.tasks.classification import ClassificationTask
from keras_nn.training.tasks.dbn import DBNTask
from keras_nn.training.tasks.detection import DetectionTask
from keras_nn.training.tasks.distillation import DistillationTask
from keras_nn.training.tasks.forecasting import ForecastingTask
from keras_nn.training.tasks.gan import GANTask
from keras_nn.training.tasks.image_classification import ImageClassificationTask
from keras_nn.training.tasks.language_model import LanguageModelTask
from keras_nn.training.tasks.masked_language_model import MaskedLanguageModelTask
from keras_nn.training.tasks.rbm import RBMTask
from keras_nn.training.tasks.seq2seq import Seq2SeqTask
from keras_nn.training.tasks.sequence_classification import SequenceClassificationTask
from keras_nn.training.tasks.simclr import SimCLRTask
from keras_nn.training.tasks.tagging import TaggingTask
from keras_nn.training.tasks.translation import TranslationTask

TASKS = {}


def register_task(task_class):
    """Adds a `Task` subclass under `task_class.name` (recipes select it with `task: NAME`); returns it."""
    if not (isinstance(task_class, type) and issubclass(task_class, Task)):
        raise TypeError(f"register_task takes a Task subclass; got {task_class!r}")
    if task_class.name in TASKS:
        raise ValueError(f"task {task_class.name!r} is registered twice")
    TASKS[task_class.name] = task_class
    return task_class


def get_task_class(name):
    """The `Task` subclass registered as `name`."""
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"recipe key 'task' = {name!r} is not allowed; choose one of: {', '.join(TASKS)}") from None


def create_task(name):
    """A fresh instance of the task registered as `name` (one per run)."""
    return get_task_class(name)()


def resolve_task_options(config):
    """A checked recipe with its `task_options` checked against the task's schema and filled in."""
    return {**config, "task_options": get_task_class(config["task"]).resolve_options(config["task_options"])}


for _task_class in (
    ClassificationTask,
    ImageClassificationTask,
    DistillationTask,
    SequenceClassificationTask,
    TaggingTask,
    ForecastingTask,
    Seq2SeqTask,
    TranslationTask,
    DetectionTask,
    RBMTask,
    DBNTask,
    AutoencoderTask,
    GANTask,
    SimCLRTask,
    LanguageModelTask,
    MaskedLanguageModelTask,
    BertClassificationTask,
):
    register_task(_task_class)

__all__ = [
    "TASKS",
    "AutoencoderTask",
    "BertClassificationTask",
    "DBNTask",
    "ClassificationTask",
    "DetectionTask",
    "DistillationTask",
    "ForecastingTask",
    "GANTask",
    "ImageClassificationTask",
    "LanguageModelTask",
    "MaskedLanguageModelTask",
    "RBMTask",
    "Seq2SeqTask",
    "SequenceClassificationTask",
    "SimCLRTask",
    "TaggingTask",
    "Task",
    "TranslationTask",
    "create_task",
    "get_task_class",
    "register_task",
    "resolve_task_options",
]
