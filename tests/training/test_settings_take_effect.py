"""Recipe settings reach the model `fit` trained, not only the schema: the optimizer and its clipping, momentum
and weight decay, the learning-rate schedule, label smoothing, XLA, steps per execution and mixed precision.
Early stopping is proven in test_resume_faults.py (it needs the epochs-get-worse callback defined there)."""

import math

import keras
import numpy as np
import pytest

from keras_nn.runs import load_recipe, train_run
from keras_nn.training import create_task

SETTINGS = [
    "model.filters=[4, 8]", "model.dense_units=8", "training.epochs=1", "export.formats=[]",
    "optimizer.name=sgd", "optimizer.learning_rate=0.05", "optimizer.momentum=0.8", "optimizer.clipnorm=0.5",
    "optimizer.weight_decay=0.0001", "schedule.name=cosine", "schedule.warmup_epochs=0",
    "schedule.min_learning_rate=0.001", "training.label_smoothing=0.1", "training.mixed_precision=true",
    "training.steps_per_execution=2",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_run(load_recipe("digits_cnn", SETTINGS), tmp_path_factory.mktemp("settings") / "run", verbose=0)


def _inner(optimizer):
    # Keras wraps the optimizer of a mixed_float16 model in a LossScaleOptimizer.
    return getattr(optimizer, "inner_optimizer", optimizer)


def test_optimizer_clipping_and_schedule_reach_the_trained_model(trained):
    assert isinstance(trained.model.optimizer, keras.optimizers.LossScaleOptimizer), "mixed precision scales the loss"
    optimizer = _inner(trained.model.optimizer)
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert optimizer.momentum == pytest.approx(0.8)
    assert optimizer.clipnorm == pytest.approx(0.5)
    assert optimizer.weight_decay == pytest.approx(1e-4)
    # Cosine from 0.05 to 0.001 over the run's steps, read at the step the optimizer reached.
    steps = math.ceil(trained.data.num_examples["train"] / 32)
    reference = keras.optimizers.schedules.CosineDecay(0.05, steps, alpha=0.001 / 0.05)
    iterations = int(optimizer.iterations.numpy())
    assert 0 < iterations <= steps
    assert float(optimizer.learning_rate) == pytest.approx(float(reference(iterations)), rel=1e-5)
    assert float(optimizer.learning_rate) < 0.05


def test_label_smoothing_reaches_the_loss(trained):
    loss = trained.model.loss
    assert isinstance(loss, keras.losses.CategoricalCrossentropy)
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype="float32")
    targets = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype="float32")
    smoothed = targets * 0.9 + 0.1 / 3  # the paper's (Szegedy et al. 2016) uniform smoothing over 3 classes
    expected = -np.mean(np.sum(smoothed * np.log(probabilities), axis=-1))
    assert float(loss(targets, probabilities)) == pytest.approx(expected, rel=1e-5)


def _compiled_as_the_trainer_does(xla):
    # Compiled by the task as the trainer does, not trained: XLA compiling each step shape costs ~40 s on 2 cores.
    config = load_recipe("digits_cnn", [*SETTINGS, f"training.xla={str(xla).lower()}", "training.mixed_precision=false"])
    task = create_task(config["task"])
    model = task.build_model(config, task.load_data(config))
    task.compile(model, config, steps_per_epoch=10)
    return model


def test_xla_reaches_the_compiled_model():
    assert _compiled_as_the_trainer_does(xla=True).jit_compile is True


def test_xla_off_stays_off_where_keras_would_choose_it(monkeypatch):
    # Keras's default jit_compile="auto" picks XLA on a machine with a GPU; stand in for one.
    monkeypatch.setattr(keras.Model, "_resolve_auto_jit_compile", lambda self: True)
    assert _compiled_as_the_trainer_does(xla=False).jit_compile is False


def test_steps_per_execution_and_mixed_precision_reach_the_model(trained):
    model = trained.model
    assert model.steps_per_execution == 2
    hidden = [layer for layer in model.layers if layer.weights and layer.name != "predictions"]
    assert hidden and all(layer.dtype_policy.name == "mixed_float16" for layer in hidden)
    assert all(layer.compute_dtype == "float16" and layer.variable_dtype == "float32" for layer in hidden)
    # The output layer computes in float32 on purpose (keras_nn.models.base: a stable softmax and loss).
    assert model.get_layer("predictions").compute_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32", "the global policy is put back after training"
