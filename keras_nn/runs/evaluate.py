"""Evaluating a finished run again: its model on its validation and test data, as its task measures them."""

from keras_nn.runs.load import load_model_file, open_run
from keras_nn.training import create_task, evaluate_model


def evaluate_run(run_dir):
    """The metrics of a finished run's model on its own data (`keras-nn evaluate RUN_DIR`)."""
    run, config = open_run(run_dir)
    model = load_model_file(run.model)
    task = create_task(config["task"])
    return evaluate_model(task, model, task.load_data(config), config)
