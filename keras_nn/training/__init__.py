"""Training: the fit loop a recipe drives (`train`), one task per file (`tasks/`), strategies
(tf.distribute), callbacks, optimizers, greedy layer-wise RBM pretraining and the task reports. Training never imports the export side: a task
describes what its run exports (`Task.export_plan`) and `keras_nn.runs` hands that to `keras_nn.export`."""

from keras_nn.training.optimizers import build_optimizer
from keras_nn.training.preemption import PREEMPTED_EXIT_CODE, Preempted
from keras_nn.training.pretraining import pretrain_greedily
from keras_nn.training.resumable_callbacks import RunBackup, read_backup_state
from keras_nn.training.strategy import get_strategy, is_chief, resolve_strategy_name, strategy_label
from keras_nn.training.tasks import (
    TASKS,
    Task,
    create_task,
    get_task_class,
    register_task,
    resolve_task_options,
)
from keras_nn.training.trainer import TrainResult, evaluate_model, train

__all__ = [
    "PREEMPTED_EXIT_CODE",
    "Preempted",
    "RunBackup",
    "TASKS",
    "Task",
    "TrainResult",
    "build_optimizer",
    "create_task",
    "evaluate_model",
    "get_strategy",
    "get_task_class",
    "is_chief",
    "pretrain_greedily",
    "read_backup_state",
    "register_task",
    "resolve_strategy_name",
    "strategy_label",
    "resolve_task_options",
    "train",
]
