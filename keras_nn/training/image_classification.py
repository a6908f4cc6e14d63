"""The `image_classification` task: augmented image training, transfer learning in two phases, and a report.

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
- `report`: after training the run directory gets `confusion_matrix.png` / `.csv`, per-class precision,
  recall and F1 with the macro-F1 in `metrics.json`, `misclassified.png`, `grad_cam.png` (Grad-CAM of a
  few misclassified test images for the predicted and the true class) and `report.md` tying them together.

`run_ablation` trains a recipe with and without its augmentation (`--set ablation=augmentation`) and writes
both test scores side by side (`ablation.md`, `ablation.json`).
"""

import copy
import json
import logging
import math
import numbers
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from keras_nn.data.augment import (
    AUGMENT_DEFAULTS,
    augment_bundle,
    augmentation_enabled,
    check_augment_options,
    check_normalization,
    denormalize_images,
)
from keras_nn.errors import ConfigError, ModelFileError, OutputDirError
from keras_nn.models import create_model
from keras_nn.training.tasks import ClassificationTask, register_task

logger = logging.getLogger(__name__)

FINE_TUNE_DEFAULTS = {
    "freeze_backbone_epochs": 0,
    "fine_tune_learning_rate": None,
    "head_layers": ["predictions"],
    "train_batch_norm": False,
}
REPORT_DEFAULTS = {"misclassified": 25, "grad_cam": 6, "grad_cam_layer": None}
ABLATIONS = ("none", "augmentation")


def _check_section(value, defaults, key):
    if value is None:
        return copy.deepcopy(defaults)
    if not isinstance(value, dict):
        raise ConfigError(f"recipe key {key!r} = {value!r} must be a mapping of: {', '.join(defaults)}")
    unknown = sorted(set(value) - set(defaults))
    if unknown:
        raise ConfigError(
            f"unknown recipe key(s) {', '.join(f'{key}.{name}' for name in unknown)}; allowed: {', '.join(defaults)}"
        )
    return {**copy.deepcopy(defaults), **value}


def _check_count(value, key, minimum=0):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"recipe key {key!r} = {value!r} must be an integer >= {minimum}")
    return int(value)


def check_fine_tune_options(value, key="task_options.fine_tune"):
    """Validates `task_options.fine_tune`; returns it with the defaults filled in."""
    if value is False:
        value = None
    options = _check_section(value, FINE_TUNE_DEFAULTS, key)
    options["freeze_backbone_epochs"] = _check_count(options["freeze_backbone_epochs"], f"{key}.freeze_backbone_epochs")
    rate = options["fine_tune_learning_rate"]
    if isinstance(rate, str):
        try:
            rate = float(rate)  # YAML 1.1 reads 1e-4 (no dot) as a string
        except ValueError:
            pass
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, numbers.Real) or rate <= 0):
        raise ConfigError(f"recipe key '{key}.fine_tune_learning_rate' = {rate!r} must be a positive number, e.g. 1e-4")
    options["fine_tune_learning_rate"] = None if rate is None else float(rate)
    heads = options["head_layers"]
    if isinstance(heads, str):
        heads = [heads]
    if not isinstance(heads, list) or not heads or not all(isinstance(name, str) for name in heads):
        raise ConfigError(f"recipe key '{key}.head_layers' = {heads!r} must be a non-empty list of layer names")
    options["head_layers"] = list(heads)
    if not isinstance(options["train_batch_norm"], bool):
        raise ConfigError(f"recipe key '{key}.train_batch_norm' = {options['train_batch_norm']!r} must be true or false")
    return options


def check_report_options(value, key="task_options.report"):
    """Validates `task_options.report`; returns it with the defaults filled in."""
    options = _check_section(value, REPORT_DEFAULTS, key)
    options["misclassified"] = _check_count(options["misclassified"], f"{key}.misclassified")
    options["grad_cam"] = _check_count(options["grad_cam"], f"{key}.grad_cam")
    layer = options["grad_cam_layer"]
    if layer is not None and not isinstance(layer, str):
        raise ConfigError(f"recipe key '{key}.grad_cam_layer' = {layer!r} must be a layer name or null (the last conv layer)")
    return options


# ------------------------------------------------------------------------------------------ backbone and head


def _leaf_layers(model):
    """Weight-owning leaf layers by name (composite blocks own no weights themselves)."""
    leaves = {}
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if layer.weights and not list(layer._flatten_layers(include_self=False, recursive=False)):
            leaves[layer.name] = layer
    return leaves


def _batch_norm_layers(model):
    return [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


def check_head_layers(model, head_layers):
    """Raises `ConfigError` unless every name in `head_layers` is a top-level layer of `model`."""
    names = [layer.name for layer in model.layers]
    missing = [name for name in head_layers if name not in names]
    if missing:
        raise ConfigError(
            f"task_options.fine_tune.head_layers names {', '.join(map(repr, missing))}, which model {model.name!r} "
            f"lacks; its last layers are: {', '.join(names[-5:])}"
        )


def set_backbone_trainable(model, trainable, head_layers=("predictions",), train_batch_norm=True):
    """Freezes (`trainable=False`) or unfreezes every top-level layer of `model` except the head layers.

    A frozen `BatchNormalization` layer also runs in inference mode (Keras 3 semantics), so its moving
    statistics stay those of the pretrained weights. With `train_batch_norm=False`, unfreezing leaves batch
    normalization frozen: the Keras transfer-learning guide's advice for fine-tuning on small data sets,
    where batch statistics are noisy.

    Returns:
        The names of the layers whose `trainable` flag was set.
    """
    changed = []
    for layer in model.layers:
        if layer.name in head_layers:
            layer.trainable = True
            continue
        if layer.weights:
            layer.trainable = trainable
            changed.append(layer.name)
    if trainable and not train_batch_norm:
        in_head = {id(sub) for name in head_layers for sub in model.get_layer(name)._flatten_layers(include_self=True)}
        for layer in _batch_norm_layers(model):
            if id(layer) not in in_head:
                layer.trainable = False
    return changed


def _copy_backbone_weights(source, target):
    """Copies each weight layer of `source` into the layer of the same name in `target`; returns the count."""
    targets = _leaf_layers(target)
    copied = 0
    for name, layer in _leaf_layers(source).items():
        destination = targets.get(name)
        if destination is None or [tuple(w.shape) for w in destination.weights] != [tuple(w.shape) for w in layer.weights]:
            raise ModelFileError(f"backbone layer {name!r} has no counterpart of the same shape in model {target.name!r}")
        destination.set_weights(layer.get_weights())
        copied += 1
    return copied


# ------------------------------------------------------------------------------------------------- the task


class ImageClassificationTask(ClassificationTask):
    """Image classification with augmentation, two-phase fine-tuning and a full report (see the module doc)."""

    name = "image_classification"
    options = {
        "augment": dict(AUGMENT_DEFAULTS),
        "input_normalization": "unit",
        "fine_tune": dict(FINE_TUNE_DEFAULTS),
        "report": dict(REPORT_DEFAULTS),
    }

    def __init__(self):
        self._last_fit = {}

    def check_options(self, options):
        resolved = super().check_options(options)
        resolved["augment"] = check_augment_options(resolved["augment"])
        resolved["input_normalization"] = check_normalization(resolved["input_normalization"])
        resolved["fine_tune"] = check_fine_tune_options(resolved["fine_tune"])
        resolved["report"] = check_report_options(resolved["report"])
        return resolved

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
        copied = _copy_backbone_weights(backbone, model)
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
        self._last_fit = {"seconds": time.perf_counter() - started, "epochs": len(history.epoch), "phases": phases}
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
                           "trainable_parameters": _trainable_count(model)})
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
                       "learning_rate": rate, "trainable_parameters": _trainable_count(model)})
        return _merge_histories(model, histories), phases

    # ------------------------------------------------------------------------------------------------ report

    def report(self, model, bundle, config, run_dir, metrics):
        from sklearn import metrics as sk_metrics

        from keras_nn.viz import (
            confusion_matrix,
            find_last_conv_layer,
            grad_cam,
            plot_confusion_matrix,
            plot_image_grid,
            plot_misclassified,
            save_grad_cam_overlays,
            write_confusion_csv,
        )

        run_dir = Path(run_dir)
        options = config["task_options"]
        split, dataset = ("test", bundle.test) if bundle.test is not None else ("val", bundle.validation)
        if dataset is None:
            logger.warning("no test or validation split: no report written")
            return {}
        names = list(bundle.class_names)
        labels = list(range(bundle.num_classes))
        probabilities = np.asarray(model.predict(dataset.map(lambda x, y: x), verbose=0), dtype=np.float32)
        if getattr(model, "classifier_activation", "softmax") is None:
            probabilities = np.asarray(keras.ops.softmax(probabilities, axis=-1))
        y_true = np.concatenate([y for _, y in dataset.as_numpy_iterator()]).astype(np.int64)
        y_pred = probabilities.argmax(axis=-1)

        matrix = confusion_matrix(y_true, y_pred, bundle.num_classes)
        write_confusion_csv(matrix, names, run_dir / "confusion_matrix.csv")
        split_name = "test" if split == "test" else "validation"
        title = f"{config['model']['name']} on {bundle.source} ({split_name} split)"
        plot_confusion_matrix(matrix, names, run_dir / "confusion_matrix.png", title=title)
        precision, recall, f1, support = sk_metrics.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, zero_division=0
        )
        macro = sk_metrics.precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        per_class = {
            name: {"precision": round(float(p), 6), "recall": round(float(r), 6), "f1": round(float(f), 6), "support": int(s)}
            for name, p, r, f, s in zip(names, precision, recall, f1, support, strict=True)
        }
        extra = {
            "report_split": split,
            "macro_precision": round(float(macro[0]), 6),
            "macro_recall": round(float(macro[1]), 6),
            "macro_f1": round(float(macro[2]), 6),
            f"{split}_macro_f1": round(float(macro[2]), 6),
            "per_class": per_class,
        }

        wrong = np.flatnonzero(y_true != y_pred)
        if options["report"]["misclassified"]:
            wanted = wrong[np.argsort(-probabilities[wrong, y_pred[wrong]], kind="stable")][: options["report"]["misclassified"]]
        else:
            wanted = wrong[:0]
        cams = _grad_cam_examples(wanted, y_true, y_pred, options["report"]["grad_cam"])
        needed = np.union1d(wanted, cams)
        images = dict(zip(needed.tolist(), _gather(dataset, needed), strict=True))
        to_show = options["input_normalization"]

        if len(wanted):
            plot_misclassified(
                denormalize_images(np.stack([images[i] for i in wanted]), to_show),
                y_true[wanted], y_pred[wanted], names, run_dir / "misclassified.png",
                probabilities=probabilities[wanted], max_images=len(wanted),
                title=f"{len(wrong)} of {len(y_true)} {split_name} images misclassified"
                + (f" (the {len(wanted)} most confident shown)" if len(wanted) < len(wrong) else ""),
            )
        elif len(cams):
            plot_image_grid(
                denormalize_images(np.stack([images[i] for i in cams]), to_show), run_dir / "misclassified.png",
                titles=[f"true: {names[y_true[i]]}\npred: {names[y_pred[i]]}" for i in cams],
                title=f"no {split_name} image misclassified (of {len(y_true)}); some correct ones",
            )

        cam_layer = None
        cam_note = ""
        if len(cams):
            batch = np.stack([images[i] for i in cams])
            try:
                cam_layer = options["report"]["grad_cam_layer"] or find_last_conv_layer(model)
                maps = {
                    "Grad-CAM, predicted class": grad_cam(model, batch, class_index=y_pred[cams], layer_name=cam_layer),
                    "Grad-CAM, true class": grad_cam(model, batch, class_index=y_true[cams], layer_name=cam_layer),
                }
                save_grad_cam_overlays(
                    denormalize_images(batch, to_show), maps, run_dir / "grad_cam.png",
                    titles=[f"true {names[y_true[i]]}, pred {names[y_pred[i]]}" + (" (wrong)" if y_true[i] != y_pred[i] else "")
                            for i in cams],
                    title=f"Grad-CAM at layer {cam_layer!r}",
                )
            except ConfigError as error:
                cam_note = f"Grad-CAM was skipped: {error}"
                logger.warning(cam_note)

        write_report_md(
            run_dir / "report.md", config=config, bundle=bundle, metrics={**metrics, **extra}, split=split,
            wrong=len(wrong), total=len(y_true), matrix=matrix, fit=self._last_fit, cam_layer=cam_layer,
            cam_note=cam_note, cam_count=len(cams) if not cam_note else 0, misclassified_shown=len(wanted),
        )
        return extra


def _grad_cam_examples(wrong, y_true, y_pred, count):
    """Up to `count` test indices to explain: the misclassified ones first, then correct ones of other classes."""
    chosen = list(wrong[:count])
    seen = {int(y_true[i]) for i in chosen}
    for index in np.flatnonzero(y_true == y_pred):
        if len(chosen) >= count:
            break
        if int(y_true[index]) not in seen:
            chosen.append(index)
            seen.add(int(y_true[index]))
    return np.asarray(chosen, dtype=np.int64)


def _phase_config(config, epochs, learning_rate=None):
    config = copy.deepcopy(config)
    config["training"]["epochs"] = max(int(epochs), 1)
    if learning_rate is not None:
        config["optimizer"]["learning_rate"] = float(learning_rate)
    return config


def _trainable_count(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


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


def _gather(dataset, indices):
    """The examples at `indices` (sorted) of a batched `(x, y)` pipeline, without holding the whole split."""
    indices = np.asarray(indices, dtype=np.int64)
    found, position = [], 0
    if not len(indices):
        return found
    wanted = set(indices.tolist())
    for x, _ in dataset.as_numpy_iterator():
        for row in range(len(x)):
            if position + row in wanted:
                found.append(x[row])
        position += len(x)  # read to the end: leaving a cached pipeline half-read makes tf.data warn
    return found


def _fmt(value, digits=4):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.{digits}f}"
    return "-" if value is None else str(value)


def write_report_md(path, *, config, bundle, metrics, split, wrong, total, matrix, fit, cam_layer, cam_note, cam_count,
                    misclassified_shown):
    """Writes the run's `report.md`: the numbers, the figures and what they show."""
    names = list(bundle.class_names)
    split_name = "test" if split == "test" else "validation"
    options = config["task_options"]
    lines = [
        f"# {config['name'] or 'image classification'}: {config['model']['name']} on {bundle.source}",
        "",
        (config["description"] or "").strip(),
        "",
        f"{bundle.num_classes} classes, input {tuple(bundle.input_shape)}, "
        + ", ".join(f"{count} {name}" for name, count in bundle.num_examples.items())
        + " images.",
        "",
        f"## Results ({split_name} split, {total} images)",
        "",
        "| metric | value |",
        "| --- | --- |",
        f"| {split_name} accuracy | {_fmt(metrics.get(f'{split}_accuracy'))} |",
        f"| {split_name} loss | {_fmt(metrics.get(f'{split}_loss'))} |",
        f"| macro-F1 | {_fmt(metrics['macro_f1'])} |",
        f"| macro precision / recall | {_fmt(metrics['macro_precision'])} / {_fmt(metrics['macro_recall'])} |",
        f"| misclassified | {wrong} of {total} |",
    ]
    if "val_accuracy" in metrics and split != "val":
        lines.append(f"| validation accuracy | {_fmt(metrics['val_accuracy'])} |")
    if fit:
        lines.append(f"| epochs trained | {fit['epochs']} |")
        lines.append(f"| training time | {fit['seconds']:.1f} s |")
    expected = metrics.get("expected")
    if expected:
        verdict = "met" if expected["met"] else "NOT met"
        lines.append(f"| expected | {expected['metric']} >= {expected['min']}: **{verdict}** |")
    lines += ["", "All numbers are also in [metrics.json](metrics.json).", ""]

    lines += ["## Training", "", "![loss and accuracy curves](curves.png)", "",
              "Per-epoch values: [history.csv](history.csv). Optimizer "
              f"{config['optimizer']['name']}, learning rate {config['optimizer']['learning_rate']:g}, schedule "
              f"{config['schedule']['name']}, batch {config['data']['batch_size']}"
              + (f", label smoothing {config['training']['label_smoothing']:g}" if config["training"]["label_smoothing"] else "")
              + (f", early stopping after {config['training']['early_stopping_patience']} epochs without a lower "
                 "validation loss (best weights restored)" if config["training"]["early_stopping_patience"] else "")
              + ".", ""]
    augment = options["augment"]
    if augmentation_enabled(augment):
        switched = [f"{name} {augment[name]:g}" for name in ("rotation", "zoom", "translation", "brightness", "contrast") if augment[name]]
        if augment["flip"]:
            switched.insert(0, "horizontal flip")
        lines += [f"Augmentation (training pipeline only): {', '.join(switched)}; fill {augment['fill_mode']}.", ""]
    else:
        lines += ["No augmentation.", ""]
    if options["input_normalization"] != "unit":
        lines += [f"Inputs are normalized the {options['input_normalization']!r} way; the exported model expects them so.", ""]
    if fit and len(fit.get("phases", [])) > 1:
        lines += ["| phase | epochs | learning rate | trainable parameters |", "| --- | --- | --- | --- |"]
        for phase in fit["phases"]:
            epochs = phase["epochs"]
            lines.append(f"| {phase['phase']} | {epochs[0]}-{epochs[1]} | {phase['learning_rate']:g} | "
                         f"{phase.get('trainable_parameters', '-'):,} |")
        lines.append("")

    lines += ["## Confusion matrix", "", "![confusion matrix](confusion_matrix.png)", "",
              "Rows are true classes, columns predicted ones; counts in [confusion_matrix.csv](confusion_matrix.csv)."]
    off = np.array(matrix, dtype=np.int64)
    np.fill_diagonal(off, 0)
    pairs = [(int(off[i, j]), names[i], names[j]) for i, j in zip(*np.nonzero(off), strict=True)]
    pairs.sort(key=lambda item: -item[0])
    if pairs:
        lines.append("Most frequent confusions (true -> predicted): "
                     + ", ".join(f"{t} -> {p} ({n})" for n, t, p in pairs[:5]) + ".")
    lines += ["", "## Per-class precision, recall and F1", "", "| class | precision | recall | F1 | support |",
              "| --- | --- | --- | --- | --- |"]
    for name, row in metrics["per_class"].items():
        lines.append(f"| {name} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} | {row['support']} |")
    lines.append(f"| **macro average** | {metrics['macro_precision']:.4f} | {metrics['macro_recall']:.4f} | "
                 f"{metrics['macro_f1']:.4f} | {total} |")
    lines += ["", "## Misclassified images", ""]
    if wrong:
        which = f"All {wrong}" if misclassified_shown == wrong else f"The {misclassified_shown} most confident of the {wrong}"
        lines += ["![misclassified test images](misclassified.png)", "",
                  f"{which} mistakes, with the true label, the predicted one and its probability."]
    else:
        lines += [f"No {split_name} image is misclassified; [misclassified.png](misclassified.png) shows a few correct ones."]
    lines += ["", "## Grad-CAM", ""]
    if cam_count:
        lines += ["![Grad-CAM overlays](grad_cam.png)", "",
                  f"Grad-CAM (Selvaraju et al. 2017) at layer `{cam_layer}` for {cam_count} test images, the misclassified "
                  "ones first (marked wrong), then correctly classified ones: where the model found evidence for the "
                  "class it predicted, and for the true class (red: strong, blue: none)."]
    else:
        lines.append(cam_note or "No image to explain.")
    lines.append("")
    Path(path).write_text("\n".join(lines))
    return Path(path)


register_task(ImageClassificationTask())


# ------------------------------------------------------------------------------------------------- ablation


_ABLATION_METRICS = ("test_accuracy", "test_loss", "macro_f1", "val_accuracy", "val_loss", "epochs_trained", "train_seconds")
_VARIANTS = ("with_augmentation", "without_augmentation")


def run_ablation(config, output_dir, resume=False, verbose="auto"):
    """Trains a recipe twice, with and without its augmentation, and compares the two runs.

    Each variant is a full run in a sub-directory of `output_dir` (`with_augmentation/`,
    `without_augmentation/`, each with its own report; no export) from the same seed and data split.
    `output_dir` then gets `config.yaml`, `ablation.json` (both runs' metrics) and `ablation.md` (the
    comparison table). With `resume`, finished variants are kept and an interrupted one resumes.

    Args:
        config: a recipe mapping with `ablation: augmentation` and task `image_classification`.
        output_dir: the ablation's directory (must be empty unless `resume`).
        resume: continue an interrupted ablation in `output_dir`.
        verbose: Keras verbosity of each run.

    Returns:
        `{"title", "columns", "rows", "results", "run_dir"}`: the comparison as a table and each variant's
        metrics.
    """
    from keras_nn.training import recipe as recipes
    from keras_nn.training.trainer import train

    config = recipes.validate(config)
    kind = config.get("ablation", "none")
    if kind != "augmentation":
        raise ConfigError(f"recipe key 'ablation' = {kind!r}: run_ablation compares 'augmentation' only")
    if config["task"] != ImageClassificationTask.name:
        raise ConfigError(
            f"ablation=augmentation needs task 'image_classification' (the recipe's task is {config['task']!r})"
        )
    augment = config["task_options"]["augment"]
    if not augmentation_enabled(augment):
        raise ConfigError(
            "ablation=augmentation: the recipe switches no augmentation on; set e.g. "
            "task_options.augment.rotation=0.05 first"
        )
    run_dir = Path(output_dir)
    if run_dir.exists() and any(run_dir.iterdir()) and not resume:
        raise OutputDirError(
            f"output directory {str(run_dir)!r} is not empty; pass --resume to continue that ablation or choose another --output"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(recipes.dump_recipe(config))

    results = {}
    for variant in _VARIANTS:
        sub = copy.deepcopy(config)
        sub["ablation"] = "none"
        sub["task_options"]["augment"] = check_augment_options(augment if variant == "with_augmentation" else None)
        sub_dir = run_dir / variant
        if resume and (sub_dir / "metrics.json").is_file():
            results[variant] = json.loads((sub_dir / "metrics.json").read_text())
            continue
        again = resume and (sub_dir / "config.yaml").is_file()
        logger.info("ablation: training %s in %s", variant, sub_dir)
        results[variant] = train(sub, sub_dir, resume=again, verbose=verbose, export=False).metrics
        keras.backend.clear_session()

    with_, without = (results[v] for v in _VARIANTS)
    rows = []
    for metric in _ABLATION_METRICS:
        a, b = with_.get(metric), without.get(metric)
        if a is None and b is None:
            continue
        digits = {"train_seconds": 1, "epochs_trained": 0}.get(metric, 4)
        difference = a - b if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
        rows.append((metric, _fmt(a, digits), _fmt(b, digits), "-" if difference is None else f"{difference:+.{digits}f}"))
    columns = ["metric", "with augmentation", "without augmentation", "difference"]
    switched = ", ".join(f"{k}={v}" for k, v in augment.items() if v and k != "fill_mode")
    summary = {
        "ablation": "augmentation",
        "augment": augment,
        "seed": config["training"]["seed"],
        "results": results,
        "table": [dict(zip(columns, row, strict=True)) for row in rows],
    }
    (run_dir / "ablation.json").write_text(json.dumps(summary, indent=2))
    lines = [
        f"# Augmentation ablation: {config['name'] or config['model']['name']}",
        "",
        f"{config['model']['name']} on {config['data']['source']}, trained twice from seed {config['training']['seed']} "
        f"on the same split: with the recipe's augmentation ({switched}) and without any.",
        "",
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        "Each run's report: [with augmentation](with_augmentation/report.md), "
        "[without augmentation](without_augmentation/report.md); both metrics in [ablation.json](ablation.json).",
        "",
    ]
    (run_dir / "ablation.md").write_text("\n".join(lines))
    return {
        "title": f"augmentation ablation -> {run_dir}",
        "columns": columns,
        "rows": rows,
        "results": results,
        "run_dir": run_dir,
    }
