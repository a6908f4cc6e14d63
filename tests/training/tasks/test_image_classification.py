import csv
import json
import types

import keras
import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import accuracy_score

import keras_nn
from keras_nn.cli import main
from keras_nn.errors import ConfigError
from keras_nn.runs import RunDirectory, load_model_file, load_recipe, resolve_recipe
from keras_nn.runs import train_run as train
from keras_nn.training import create_task, get_task_class

# The image_classification recipe made small and quick: a tiny CNN on the native 8x8 digits, two epochs.
TINY = [
    "model.filters=[8, 16]",
    "model.dense_units=16",
    "data.image_size=null",
    "training.epochs=2",
    "training.early_stopping_patience=null",
    "task_options.report.grad_cam=2",
    "task_options.report.misclassified=9",
]
REPORT_FILES = ("report.md", "confusion_matrix.png", "confusion_matrix.csv", "misclassified.png", "grad_cam.png", "curves.png")


def _sets(overrides):
    return [arg for item in overrides for arg in ("--set", item)]


def _history(run):
    with open(run / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_task_options_are_checked_and_filled():
    resolved = load_recipe("image_classification", ["task_options.fine_tune.freeze_backbone_epochs=2"])
    options = resolved["task_options"]
    assert options["fine_tune"] == {
        "freeze_backbone_epochs": 2, "fine_tune_learning_rate": None, "head_layers": ["predictions"], "train_batch_norm": False
    }
    assert options["augment"]["flip"] is False and options["augment"]["rotation"] > 0
    assert options["input_normalization"] == "unit"
    assert resolved["ablation"] == "none"
    assert get_task_class("image_classification").resolve_options(options) == options, "checking is idempotent"
    bad = [
        ("task_options.augmentation={}", r"task_options.augmentation.*allowed keys under 'task_options': augment, input_normalization"),
        ("task_options.augment.rotation=2", r"task_options.augment.rotation' = 2.0 must be a number in \[0, 1\)"),
        ("task_options.fine_tune.freeze_backbone_epochs=-1", r"freeze_backbone_epochs' = -1 must be >= 0"),
        ("task_options.fine_tune.fine_tune_learning_rate=0", r"fine_tune_learning_rate' = 0.0 must be a positive number"),
        ("task_options.fine_tune.unfreeze=all", r"task_options.fine_tune.unfreeze'; allowed keys under 'task_options.fine_tune': freeze_backbone_epochs"),
        ("task_options.input_normalization=imagenet", r"input_normalization' = 'imagenet' is not allowed; choose one of: unit"),
        ("task_options.report.grad_cam=-2", r"task_options.report.grad_cam' = -2 must be >= 0"),
        ("ablation=dropout", r"'ablation' = 'dropout' is not allowed; choose one of: none, augmentation"),
    ]
    for override, message in bad:
        with pytest.raises(ConfigError, match=message):
            load_recipe("image_classification", [override])


def test_end_to_end_run_writes_every_report_file(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "image_classification", "--output", str(run), *_sets(TINY)]) == 0
    for name in REPORT_FILES:
        assert (run / name).is_file(), name
    for name in ("confusion_matrix.png", "misclassified.png", "grad_cam.png"):
        with Image.open(run / name) as image:
            assert image.format == "PNG" and min(image.size) > 200
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["per_class"]) == {str(digit) for digit in range(10)}
    assert all(set(row) == {"precision", "recall", "f1", "support"} for row in metrics["per_class"].values())
    f1s = [row["f1"] for row in metrics["per_class"].values()]
    assert metrics["macro_f1"] == pytest.approx(np.mean(f1s), abs=1e-5)
    assert metrics["test_macro_f1"] == metrics["macro_f1"]
    assert sum(row["support"] for row in metrics["per_class"].values()) == 360
    rows = (run / "confusion_matrix.csv").read_text().splitlines()
    assert rows[0] == "true \\ predicted,0,1,2,3,4,5,6,7,8,9"
    counts = np.array([[int(v) for v in row.split(",")[1:]] for row in rows[1:]])
    assert counts.sum() == 360
    assert np.trace(counts) / 360 == pytest.approx(metrics["test_accuracy"], abs=1e-4)
    report = (run / "report.md").read_text()
    for needle in ("](curves.png)", "](confusion_matrix.png)", "](confusion_matrix.csv)", "](misclassified.png)",
                   "](grad_cam.png)", f"{metrics['test_accuracy']:.4f}", f"{metrics['macro_f1']:.4f}", "training time"):
        assert needle in report, needle
    saved = keras.saving.load_model(run / "model.keras")
    assert not [layer.name for layer in saved.layers if layer.name.startswith("augment")], "no augmentation in the model"
    assert "macro_f1" in capsys.readouterr().out


class Snapshots(keras.callbacks.Callback):
    """Records, at the start of training and after every epoch, the weights and trainable flags of interest."""

    def __init__(self):
        super().__init__()
        self.states = []

    def _record(self):
        model = self.model
        self.states.append({
            "conv": model.get_layer("stage1_conv1").kernel.numpy().copy(),
            "bn_mean": model.get_layer("stage1_conv1_bn").moving_mean.numpy().copy(),
            "bn_gamma": model.get_layer("stage1_conv1_bn").gamma.numpy().copy(),
            "head": model.get_layer("predictions").kernel.numpy().copy(),
            "conv_trainable": model.get_layer("stage1_conv1").trainable,
            "learning_rate": float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
        })

    def on_train_begin(self, logs=None):
        if not self.states:
            self._record()

    def on_epoch_end(self, epoch, logs=None):
        self._record()


FINE_TUNE = [
    *TINY[:3],
    "training.epochs=3",
    "schedule.name=constant",
    "schedule.warmup_epochs=0",
    "optimizer.learning_rate=0.003",
    "task_options.fine_tune.freeze_backbone_epochs=1",
    "task_options.fine_tune.fine_tune_learning_rate=0.0005",
    "task_options.report.grad_cam=0",  # the report's images are test_end_to_end_run_writes_every_report_file's
    "task_options.report.misclassified=0",
]


def test_fine_tune_freezes_the_backbone_then_trains_everything(tmp_path):
    snapshots = Snapshots()
    result = train(load_recipe("image_classification", FINE_TUNE), tmp_path / "run", verbose=0, callbacks=[snapshots])
    start, frozen, tuned, last = snapshots.states
    # Phase 1: only the head learns; the frozen batch norm keeps its statistics (inference mode).
    assert not frozen["conv_trainable"]
    np.testing.assert_array_equal(frozen["conv"], start["conv"])
    np.testing.assert_array_equal(frozen["bn_mean"], start["bn_mean"])
    assert not np.allclose(frozen["head"], start["head"])
    assert frozen["learning_rate"] == pytest.approx(0.003)
    # Phase 2: the backbone learns too, at the fine-tuning rate; batch norm stays frozen (train_batch_norm: false).
    assert tuned["conv_trainable"]
    assert not np.allclose(tuned["conv"], frozen["conv"])
    assert not np.allclose(tuned["head"], frozen["head"])
    np.testing.assert_array_equal(last["bn_mean"], start["bn_mean"])
    np.testing.assert_array_equal(last["bn_gamma"], start["bn_gamma"])
    assert tuned["learning_rate"] == pytest.approx(0.0005)
    # One continuous history over both phases.
    history = _history(result.run_dir)
    assert [row["epoch"] for row in history] == ["0", "1", "2"]
    assert all(row["val_loss"] for row in history)
    assert result.metrics["epochs_trained"] == 3
    assert "| backbone frozen, head trained | 1-1 | 0.003 |" in (result.run_dir / "report.md").read_text()


class Interrupt(Exception):
    pass


class InterruptAfter(keras.callbacks.Callback):
    def __init__(self, epochs):
        super().__init__()
        self.epochs, self.seen = epochs, []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise Interrupt()


def test_resume_at_the_end_of_the_frozen_phase_goes_on_fine_tuning(tmp_path):
    config = load_recipe(
        "image_classification",
        [*FINE_TUNE, "training.epochs=2"],
    )
    run = tmp_path / "run"
    with pytest.raises(Interrupt):
        train(config, run, verbose=0, callbacks=[InterruptAfter(1)])
    recorder = InterruptAfter(99)
    snapshots = Snapshots()
    result = train(config, run, resume=True, verbose=0, callbacks=[recorder, snapshots])
    assert recorder.seen == [1], "no frozen phase again, straight on with fine-tuning"
    assert snapshots.states[-1]["conv_trainable"] and snapshots.states[-1]["learning_rate"] == pytest.approx(0.0005)
    assert not np.allclose(snapshots.states[-1]["conv"], snapshots.states[0]["conv"])
    assert [row["epoch"] for row in _history(run)] == ["0", "1"]
    assert result.metrics["epochs_trained"] == 2  # the whole run: the frozen epoch before the resume too


def test_fine_tune_checks_its_settings_before_the_run_starts(tmp_path):
    for override, message in [
        ("task_options.fine_tune.freeze_backbone_epochs=3", "leaves no fine-tuning epoch"),
        ("task_options.fine_tune.head_layers=[classifier]", "names 'classifier', which model"),
    ]:
        with pytest.raises(ConfigError, match=message):
            train(load_recipe("image_classification", [*FINE_TUNE, override]), tmp_path / "run", verbose=0)
        assert not (tmp_path / "run").exists()


@pytest.mark.skipif("resnet20_cifar" not in keras_nn.list_models(), reason="resnet20_cifar is not registered")
def test_weights_for_another_head_load_into_the_backbone(tmp_path):
    source = keras_nn.create_model("resnet20_cifar", num_classes=10)
    path = tmp_path / "cifar.weights.h5"
    source.save_weights(path)
    config = resolve_recipe({"task": "image_classification", "model": {"name": "resnet20_cifar", "weights": str(path)}})
    bundle = types.SimpleNamespace(num_classes=3, input_shape=(32, 32, 3), form="image", source="test")
    model = create_task("image_classification").build_model(config, bundle)
    assert model.output.shape[-1] == 3
    np.testing.assert_array_equal(model.get_layer("conv1").get_weights()[0], source.get_layer("conv1").get_weights()[0])
    last = source.layers[-3].name  # the last residual block, before pooling and the head
    for ours, theirs in zip(model.get_layer(last).get_weights(), source.get_layer(last).get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.slow
def test_the_image_classification_recipe_reaches_its_target(tmp_path):
    # The recipe for 15 of its 30 epochs (its cosine schedule fitted to 15): 1.0, 0.9944 and 0.9944 with seeds 0, 1
    # and 2 when measured (0, 2 and 2 of 360 wrong; the whole recipe: 0.9944), against the 0.985 asked here (at most
    # 5 wrong): a margin of three images or more. 12 epochs left seed 2 at 0.9889, one image from the floor.
    result = train(load_recipe("image_classification", ["training.epochs=15"]), tmp_path / "run", verbose=0)
    for name in REPORT_FILES:
        assert (result.run_dir / name).is_file(), name
    # Recomputed from the saved model with scikit-learn: the recipe asks for 0.98, and 0.985 allows three more
    # mistakes than the worst seed above on another CPU. Training time is the bench's business.
    x, y = result.data.as_numpy("test")
    predicted = np.asarray(load_model_file(RunDirectory(result.run_dir).model).predict(x, verbose=0)).argmax(-1)
    assert accuracy_score(y, predicted) >= 0.985
    assert result.metrics["test_accuracy"] == pytest.approx(accuracy_score(y, predicted), abs=1e-6)
