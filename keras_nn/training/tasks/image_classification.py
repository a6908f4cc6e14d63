"""`image_classification`: augmented image training, transfer learning in two phases, and a report.

It is `classification` for images with three additions, all set in the recipe's `task_options`:

- `augment`: random rotation, horizontal flip, zoom, translation, brightness and contrast (Keras
  preprocessing layers) on the training pipeline only; the exported model never contains them
  (`keras_nn.data.augment`). `input_normalization` maps the pipeline's [0, 1] pixels to what pretrained
  weights expect (`caffe` for keras.applications ResNet50/VGG files, `torch`, `tf`), on every split.
- `fine_tune`: with `freeze_backbone_epochs: N`, the first N epochs train only the head (the layers named in
  `head_layers`, by default keras-nn's output layer `predictions`) with the backbone frozen, batch
  normalization included (a frozen Keras `BatchNormalization` runs in inference mode); then the backbone is
  unfrozen and training continues at `fine_tune_learning_rate` with a new optimizer. Both phases share the
  run's callbacks (backup for `--resume`, best checkpoint, history CSV, TensorBoard), and the history is one
  continuous run of epochs. A `model.weights` file made for another number of classes (an ImageNet file)
  loads into the backbone and leaves the new head freshly initialized.
- `report`: after training the run directory gets the confusion matrix, per-class precision, recall and F1,
  the misclassified images, Grad-CAM maps and `report.md` (`keras_nn.training.reports.image_classification`).

The augmentation ablation (`--set ablation=augmentation`) is an experiment over two runs:
`keras_nn.runs.experiments.run_ablation`.
"""

import copy
import json
import logging
import math
import time
import warnings
from pathlib import Path

import keras

from keras_nn.config.schema import Field
from keras_nn.data.augment import AUGMENT_SCHEMA, NORMALIZATIONS, augment_bundle
from keras_nn.errors import ConfigError, ModelFileError
from keras_nn.models import create_model
from keras_nn.models.transfer import (
    check_head_layers,
    copy_backbone_weights,
    set_backbone_trainable,
    trainable_count,
)
from keras_nn.training.reports.image_classification import write_image_classification_report
from keras_nn.training.tasks.classification import ClassificationTask

logger = logging.getLogger(__name__)


def _positive_rate(key, value):
    if value <= 0:
        raise ConfigError(f"recipe key {key!r} = {value!r} must be a positive number, e.g. 1e-4")
    return value


def _layer_names(key, value):
    names = [value] if isinstance(value, str) else value
    if not names or not all(isinstance(name, str) for name in names):
        raise ConfigError(f"recipe key {key!r} = {value!r} must be a non-empty list of layer names")
    return list(names)


FINE_TUNE_SCHEMA = {
    "freeze_backbone_epochs": Field((int,), 0, minimum=0, help="epochs that train the head alone first"),
    "fine_tune_learning_rate": Field(
        (float,), None, check=_positive_rate, help="learning rate after unfreezing (default a tenth of the recipe's)"
    ),
    "head_layers": Field((list, str), ["predictions"], check=_layer_names, help="top-level layers that form the head"),
    "train_batch_norm": Field((bool,), False, help="train batch normalization after unfreezing"),
}
REPORT_SCHEMA = {
    "misclassified": Field((int,), 25, minimum=0, help="misclassified test images drawn"),
    "grad_cam": Field((int,), 6, minimum=0, help="test images explained with Grad-CAM"),
    "grad_cam_layer": Field((str,), None, help="the layer Grad-CAM reads (default the last conv layer)"),
}


class ImageClassificationTask(ClassificationTask):
    """Image classification with augmentation, two-phase fine-tuning and a full report (see the module doc)."""

    name = "image_classification"
    options = {
        "augment": AUGMENT_SCHEMA,
        "input_normalization": Field((str,), "unit", choices=NORMALIZATIONS),
        "fine_tune": FINE_TUNE_SCHEMA,
        "report": REPORT_SCHEMA,
    }

    def __init__(self):
        self.last_fit = {}

    # -------------------------------------------------------------------------------------------- data, model

    def load_data(self, config):
        if config.get("ablation", "none") != "none":
            logger.warning("ablation=%s is run by `keras-nn train` (run_ablation); this single run ignores it", config["ablation"])
        bundle = super().load_data(config)
        if bundle.form != "image" or len(bundle.input_shape) != 3:
            raise ConfigError(
                f"task 'image_classification' needs images (height, width, channels); {bundle.source!r} gave "
                f"{bundle.form} data of shape {bundle.input_shape}. Set data.form=image or use task: classification"
            )
        options = config["task_options"]
        return augment_bundle(
            bundle, options["augment"], normalization=options["input_normalization"], seed=config["training"]["seed"]
        )

    def build_model(self, config, bundle):
        weights = config["model"].get("weights")
        if isinstance(weights, str) and weights.startswith("~"):
            weights = str(Path(weights).expanduser())
            config = {**config, "model": {**config["model"], "weights": weights}}
        try:
            model = super().build_model(config, bundle)
        except ModelFileError as error:
            if weights is None:
                raise
            model = self._build_with_backbone_weights(config, bundle, weights, error)
        fine_tune = config["task_options"]["fine_tune"]
        if fine_tune["freeze_backbone_epochs"]:
            if fine_tune["freeze_backbone_epochs"] >= config["training"]["epochs"]:
                raise ConfigError(
                    f"task_options.fine_tune.freeze_backbone_epochs={fine_tune['freeze_backbone_epochs']} leaves no "
                    f"fine-tuning epoch of training.epochs={config['training']['epochs']}; lower it or raise the epochs"
                )
            check_head_layers(model, fine_tune["head_layers"])
        return model

    def _build_with_backbone_weights(self, config, bundle, weights, error):
        """A weights file for another head (ImageNet's 1000 classes): load it into the backbone only."""
        arguments = {key: value for key, value in config["model"].items() if key not in ("name", "weights")}
        arguments.setdefault("num_classes", bundle.num_classes)
        arguments.setdefault("input_shape", tuple(bundle.input_shape))
        name = config["model"]["name"]
        model = create_model(name, **arguments)
        headless = {key: value for key, value in arguments.items() if key not in ("num_classes", "classifier_activation", "dropout")}
        try:
            backbone = create_model(name, **headless, include_top=False, weights=weights)
        except ConfigError:
            raise error from None
        copied = copy_backbone_weights(backbone, model)
        logger.info(
            "%s: loaded %d backbone layers from %s; the %d-class head starts from scratch", name, copied, weights, bundle.num_classes
        )
        return model

    # --------------------------------------------------------------------------------------------------- fit

    def fit(self, model, bundle, config, callbacks, verbose):
        started = time.perf_counter()
        fine_tune = config["task_options"]["fine_tune"]
        if fine_tune["freeze_backbone_epochs"]:
            history, phases = self._fit_in_phases(model, bundle, config, callbacks, verbose, fine_tune)
        else:
            history = super().fit(model, bundle, config, callbacks, verbose)
            rate = config["optimizer"]["learning_rate"]
            phases = [{"phase": "all layers", "epochs": [history.epoch[0] + 1, history.epoch[-1] + 1] if history.epoch else [],
                       "learning_rate": rate}]
        self.last_fit = {"seconds": time.perf_counter() - started, "epochs": len(history.epoch), "phases": phases}
        return history

    def _fit_in_phases(self, model, bundle, config, callbacks, verbose, fine_tune):
        total = config["training"]["epochs"]
        frozen_epochs = fine_tune["freeze_backbone_epochs"]
        head = fine_tune["head_layers"]
        rate = fine_tune["fine_tune_learning_rate"] or config["optimizer"]["learning_rate"] * 0.1
        steps_per_epoch = max(math.ceil(bundle.num_examples["train"] / config["data"]["batch_size"]), 1)
        train = self.fit_data(bundle.train, config, bundle)
        validation = self.fit_data(bundle.validation, config, bundle)
        # `--resume` after the frozen phase: the backup holds fine-tuning state, so go straight to phase 2.
        start = _backup_epoch(callbacks)
        histories, phases = [], []
        if start < frozen_epochs:
            set_backbone_trainable(model, False, head)
            with model.distribute_strategy.scope():
                self.compile(model, _phase_config(config, frozen_epochs), steps_per_epoch)
            # Early stopping watches the fine-tuning phase; the short head-only phase always runs to its end.
            phase_callbacks = [c for c in callbacks if not isinstance(c, keras.callbacks.EarlyStopping)]
            histories.append(
                model.fit(train, validation_data=validation, epochs=frozen_epochs, callbacks=phase_callbacks,
                          verbose=verbose, shuffle=False)
            )
            phases.append({"phase": "backbone frozen, head trained", "epochs": [1, frozen_epochs],
                           "learning_rate": config["optimizer"]["learning_rate"],
                           "trainable_parameters": trainable_count(model)})
        for callback in callbacks:
            if isinstance(callback, keras.callbacks.CSVLogger):
                callback.append = True  # phase 2 continues the same history.csv
        # A backup restored in phase 1 leaves its epoch in `_initial_epoch`, which Keras never clears and would
        # let phase 2 start from; phase 2 starts after the frozen epochs (or where its own backup says).
        model._initial_epoch = None
        set_backbone_trainable(model, True, head, train_batch_norm=fine_tune["train_batch_norm"])
        with model.distribute_strategy.scope():
            self.compile(model, _phase_config(config, total - frozen_epochs, rate), steps_per_epoch)
        with warnings.catch_warnings():
            if start == frozen_epochs:
                # Resuming right after the frozen phase: its backup holds the head-only optimizer, which the
                # fine-tuning optimizer rightly does not take (Keras warns and starts it fresh).
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            histories.append(
                model.fit(train, validation_data=validation, initial_epoch=frozen_epochs, epochs=total,
                          callbacks=callbacks, verbose=verbose, shuffle=False)
            )
        phases.append({"phase": "backbone unfrozen, fine-tuned" + ("" if fine_tune["train_batch_norm"] else " (batch norm frozen)"),
                       "epochs": [frozen_epochs + 1, histories[-1].epoch[-1] + 1 if histories[-1].epoch else frozen_epochs],
                       "learning_rate": rate, "trainable_parameters": trainable_count(model)})
        return _merge_histories(model, histories), phases

    # ------------------------------------------------------------------------------------------------ report

    def report(self, model, bundle, config, run, metrics):
        return write_image_classification_report(
            model, bundle, config, run, metrics, fit=self.last_fit, explanations=self.explanations(model)
        )

    def explanations(self, model):
        """Columns the report's explanation figure adds beside the model's own: `{title: explain(images)}`."""
        return {}


def _phase_config(config, epochs, learning_rate=None):
    config = copy.deepcopy(config)
    config["training"]["epochs"] = max(int(epochs), 1)
    if learning_rate is not None:
        config["optimizer"]["learning_rate"] = float(learning_rate)
    return config


def _backup_epoch(callbacks):
    """The epoch a `BackupAndRestore` among `callbacks` will resume from (0 without a backup)."""
    for callback in callbacks:
        if isinstance(callback, keras.callbacks.BackupAndRestore):
            path = Path(callback._training_metadata_path)
            if path.is_file():
                try:
                    return int(json.loads(path.read_text())["epoch"])
                except (ValueError, KeyError, TypeError):
                    return 0
    return 0


def _merge_histories(model, histories):
    merged = keras.callbacks.History()
    merged.set_model(model)
    merged.epoch, merged.history = [], {}
    for history in histories:
        merged.epoch.extend(history.epoch)
        for key, values in history.history.items():
            merged.history.setdefault(key, []).extend(values)
    return merged
