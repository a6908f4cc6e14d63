import csv
import json
import re

import keras
import numpy as np
import pytest
import yaml
from PIL import Image
from sklearn.metrics import accuracy_score

import keras_nn
from keras_nn.cli import main
from keras_nn.errors import ConfigError
from keras_nn.models import VisionTransformer
from keras_nn.runs import RunDirectory, load_model_file, load_recipe, resolve_recipe, train_run
from keras_nn.training import create_task

# A tiny, quick run of the image_classification recipe (16x16 digits, no report images, constant rate).
QUICK = [
    "training.early_stopping_patience=null",
    "task_options.report.grad_cam=0",
    "task_options.report.misclassified=0",
    "schedule.name=constant",
    "schedule.warmup_epochs=0",
]
TEACHER = ["model.filters=[8, 16]", "model.dense_units=32", "model.dropout=0.0", "training.epochs=3",
           "optimizer.learning_rate=0.01", *QUICK]
STUDENT = {"name": "deit_tiny_distilled_patch16_224", "patch_size": 4, "depth": 2, "hidden_dim": 32, "num_heads": 2,
           "mlp_dim": 64, "drop_path_rate": 0.0}


def _recipe(teacher, mode="hard", epochs=2, model=None):
    """The distillation recipe: image_classification's data, augmentation and report, a tiny DeiT student."""
    config = load_recipe("image_classification", [f"training.epochs={epochs}", "optimizer.learning_rate=0.003", *QUICK])
    config["task"] = "distillation"
    config["model"] = dict(model or STUDENT)
    config["task_options"].update(teacher=str(teacher), mode=mode)
    return config


def _history(run_dir):
    with open(run_dir / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    """simple_cnn trained 3 epochs on the digits at 16x16: the teacher every student here learns from."""
    return train_run(load_recipe("image_classification", TEACHER), tmp_path_factory.mktemp("teacher") / "run", verbose=0)


@pytest.fixture(scope="module")
def hard_run(teacher_run, tmp_path_factory):
    config = _recipe(teacher_run.run_dir)
    config["task_options"]["report"]["grad_cam"] = 3  # the student's rollout beside the teacher's Grad-CAM
    return train_run(config, tmp_path_factory.mktemp("hard") / "run", verbose=0)


def test_task_options_are_checked_and_filled(tmp_path):
    options = resolve_recipe(_recipe(tmp_path))["task_options"]
    assert (options["mode"], options["temperature"], options["alpha"]) == ("hard", 3.0, 0.1)
    assert options["augment"]["rotation"] > 0 and options["input_normalization"] == "unit"
    for key, value, message in [
        ("mode", "medium", r"task_options.mode' = 'medium' is not allowed; choose one of: hard, soft"),
        ("teacher", None, r"task 'distillation' needs task_options.teacher"),
        ("temperature", 0, r"task_options.temperature' = 0.0 must be a positive number"),
        ("alpha", 2, r"task_options.alpha' = 2.0 must be"),
    ]:
        config = _recipe(tmp_path)
        config["task_options"][key] = value
        with pytest.raises(ConfigError, match=message):
            resolve_recipe(config)
    config = _recipe(tmp_path)
    config["task_options"]["fine_tune"] = {"freeze_backbone_epochs": 1}
    with pytest.raises(ConfigError, match="freeze_backbone_epochs does not apply to task 'distillation'"):
        resolve_recipe(config)


@pytest.mark.slow  # shares the module's end-to-end training run
def test_hard_distillation_saves_and_scores_the_student(hard_run, teacher_run):
    metrics, run = hard_run.metrics, RunDirectory(hard_run.run_dir)
    x, y = hard_run.data.as_numpy("test")
    predicted = np.asarray(hard_run.model.predict(x, verbose=0)).argmax(-1)
    assert metrics["test_accuracy"] == pytest.approx(accuracy_score(y, predicted), abs=1e-6)
    teacher = load_model_file(RunDirectory(teacher_run.run_dir).model)
    teacher_predicted = np.asarray(teacher.predict(x, verbose=0)).argmax(-1)
    assert metrics["teacher_test_accuracy"] == pytest.approx(accuracy_score(y, teacher_predicted), abs=1e-6)
    assert metrics["teacher_test_accuracy"] == pytest.approx(teacher_run.metrics["test_accuracy"], abs=1e-6)
    assert metrics["distillation"]["mode"] == "hard"
    assert metrics["distillation"]["teacher"] == str(RunDirectory(teacher_run.run_dir).model)
    # The run's model is the student: its parameters, its file, its outputs.
    student = keras_nn.create_model(STUDENT["name"], num_classes=10, input_shape=(16, 16, 1),
                                    **{k: v for k, v in STUDENT.items() if k != "name"})
    assert metrics["num_parameters"] == student.count_params() == hard_run.model.count_params()
    saved = load_model_file(run.model)
    assert isinstance(saved, VisionTransformer) and saved.distilled
    np.testing.assert_allclose(saved.predict(x[:32], verbose=0), hard_run.model.predict(x[:32], verbose=0), atol=1e-6)
    # The history is the Distiller's: the loss, its two terms and the student's accuracy, per epoch.
    history = _history(run.root)
    assert [row["epoch"] for row in history] == ["0", "1"]
    for row in history:
        for prefix in ("", "val_"):
            total = float(row[f"{prefix}label_loss"]) + float(row[f"{prefix}distillation_loss"])
            assert float(row[f"{prefix}loss"]) == pytest.approx(total, rel=1e-4)
    # The logged accuracy is the student's own prediction (the mean of its heads): recomputed on validation.
    x_val, y_val = hard_run.data.as_numpy("validation")
    val_predicted = np.asarray(hard_run.model.predict(x_val, verbose=0)).argmax(-1)
    assert float(history[-1]["val_accuracy"]) == pytest.approx(accuracy_score(y_val, val_predicted), abs=1e-6)
    assert float(history[-1]["loss"]) < float(history[0]["loss"])
    assert (run.root / "report.md").is_file() and (run.root / "confusion_matrix.png").is_file()
    # A ViT is explained by attention rollout, beside the teacher's Grad-CAM of the same images; no Grad-CAM of it.
    report = (run.root / "report.md").read_text()
    assert "## Attention rollout" in report and "Columns: attention rollout, teacher Grad-CAM." in report
    with Image.open(run.explanations_png) as image:
        assert image.size[1] > 3 * 120  # three test images, one row each
    assert not run.grad_cam_png.exists()


@pytest.mark.slow
def test_soft_distillation_of_a_one_head_vit_through_the_cli(teacher_run, tmp_path):
    recipe = tmp_path / "deit.yaml"
    model = {**STUDENT, "name": "vit_tiny_patch16_224"}
    recipe.write_text(yaml.safe_dump(_recipe(teacher_run.run_dir / "model.keras", mode="soft", epochs=1, model=model)))
    run = tmp_path / "run"
    assert main(["train", str(recipe), "--output", str(run), "--set", "task_options.temperature=2"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["distillation"] == {"mode": "soft", "temperature": 2.0, "alpha": 0.1,
                                       "teacher": str(teacher_run.run_dir / "model.keras")}
    saved = load_model_file(run / "model.keras")
    assert isinstance(saved, VisionTransformer) and not saved.distilled
    assert set(_history(run)[0]) >= {"loss", "label_loss", "distillation_loss", "accuracy", "val_accuracy"}


class Interrupt(Exception):
    pass


class InterruptAfter(keras.callbacks.Callback):
    """Records the epochs run and the student's head at the start and after each epoch; stops after `epochs`."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs, self.seen, self.heads = epochs, [], []

    def _head(self):
        return self.model.student.get_layer("predictions").kernel.numpy().copy()

    def on_train_begin(self, logs=None):
        self.heads.append(self._head())

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)

    def on_epoch_end(self, epoch, logs=None):
        self.heads.append(self._head())
        if epoch + 1 == self.epochs:
            raise Interrupt()


@pytest.mark.slow
def test_resume_goes_on_from_the_last_epoch(teacher_run, tmp_path):
    config, run = resolve_recipe(_recipe(teacher_run.run_dir)), tmp_path / "run"
    first = InterruptAfter(1)
    with pytest.raises(Interrupt):
        train_run(config, run, verbose=0, callbacks=[first])
    second = InterruptAfter(99)
    result = train_run(config, run, resume=True, verbose=0, callbacks=[second])
    assert second.seen == [1], "the finished epoch is not trained again"
    # The backup restored the student where the interrupted run left it.
    np.testing.assert_array_equal(second.heads[0], first.heads[-1])
    assert [row["epoch"] for row in _history(run)] == ["0", "1"]
    assert result.metrics["epochs_trained"] == 2  # the whole run, both parts


@pytest.fixture(scope="module")
def bad_teachers(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_teachers")
    (root / "text").mkdir()
    (root / "text" / "model.keras").write_text("not a model\n")
    keras_nn.create_model("lstm_classifier", input_shape=(8, 4), num_classes=10, units=4).save(root / "lstm.keras")
    inputs = keras.Input((16, 16, 1))
    keras.Model(inputs, keras.layers.Conv2D(10, 3)(inputs)).save(root / "feature_map.keras")
    keras_nn.create_model("simple_cnn", input_shape=(16, 16, 1), num_classes=5, filters=[4], dense_units=4).save(
        root / "five_classes.keras"
    )
    keras_nn.create_model("simple_cnn", input_shape=(16, 16, 3), num_classes=10, filters=[4], dense_units=4).save(
        root / "rgb.keras"
    )
    return root


@pytest.mark.slow  # shares the module's end-to-end training run
def test_bad_input_is_one_line_exit_2_and_writes_nothing(bad_teachers, teacher_run, tmp_path, capsys):
    recipe, cnn_student = tmp_path / "deit.yaml", tmp_path / "cnn_student.yaml"
    recipe.write_text(yaml.safe_dump(_recipe(teacher_run.run_dir)))
    cnn_student.write_text(yaml.safe_dump(_recipe(teacher_run.run_dir, model={"name": "simple_cnn"})))
    teacher = "task_options.teacher="
    cases = [
        (recipe, teacher + str(tmp_path / "missing"), r"missing' does not exist; give the run directory"),
        (recipe, teacher + str(tmp_path), r"holds no model.keras"),
        (recipe, teacher + str(bad_teachers / "text"), r"cannot load .*model.keras'.*not a Keras 3 .keras file"),
        (recipe, teacher + str(bad_teachers / "lstm.keras"), r"model 'lstm_classifier'.*is not an image classifier"),
        (recipe, teacher + str(bad_teachers / "feature_map.keras"), r"is not an image classifier; give one whose"),
        (recipe, teacher + str(bad_teachers / "five_classes.keras"), r"predicts 5 classes, the data has 10"),
        (recipe, teacher + str(bad_teachers / "rgb.keras"), r"takes 3-channel images, the data has 1"),
        (cnn_student, "training.epochs=1", r"model.name='simple_cnn' cannot be a distillation student.*deit_tiny_distilled"),
        (recipe, "task_options.mode=medium", r"task_options.mode' = 'medium' is not allowed; choose one of: hard, soft"),
    ]
    run = tmp_path / "run"
    for path, override, message in cases:
        assert main(["train", str(path), "--output", str(run), "--set", override]) == 2, override
        error = capsys.readouterr().err.strip()
        assert len(error.splitlines()) == 1 and error.startswith("keras-nn: error: "), error
        assert re.search(message, error), (message, error)
        assert not run.exists(), f"{override} left {run} behind"


@pytest.mark.slow  # shares the module's end-to-end training run
def test_a_teacher_run_directory_given_with_a_tilde_loads(teacher_run, monkeypatch):
    monkeypatch.setenv("HOME", str(teacher_run.run_dir.parent))
    config = resolve_recipe(_recipe(f"~/{teacher_run.run_dir.name}"))
    task = create_task("distillation")
    student = task.build_model(config, teacher_run.data)
    assert isinstance(student, VisionTransformer) and task.distiller.student is student
    assert not task.teacher.trainable and task.distiller.teacher_size is None
