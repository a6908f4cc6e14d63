"""The report of an image classification run: confusion matrix, per-class scores, misclassified images,
Grad-CAM (attention rollout for a Vision Transformer), and `report.md` tying them together."""

import logging

import keras
import numpy as np
from sklearn import metrics as sk_metrics

from keras_nn.data.augment import augmentation_enabled, denormalize_images
from keras_nn.errors import ConfigError
from keras_nn.viz import (
    confusion_matrix,
    find_last_conv_layer,
    grad_cam,
    markdown_table,
    plot_confusion_matrix,
    plot_image_grid,
    plot_misclassified,
    save_grad_cam_overlays,
    write_confusion_csv,
)
from keras_nn.viz.attention_rollout import is_vision_transformer, model_attention_rollout

logger = logging.getLogger(__name__)


def write_image_classification_report(model, bundle, config, run, metrics, fit=None, explanations=None):
    """Writes the report of an image classification run into the run directory `run`; returns extra metrics.

    Files: the confusion matrix (`confusion_matrix.png` / `.csv`), `misclassified.png`, `grad_cam.png` (Grad-CAM
    of a few misclassified test images for the predicted and the true class) and `report.md` tying them
    together. Metrics: per-class precision, recall and F1 and their macro averages.

    Args:
        model: the trained classifier.
        bundle: its `DatasetBundle` (the test split, else the validation split, is reported).
        config: the resolved recipe (`task_options.report` says how many images to draw).
        run: the `keras_nn.runs.RunDirectory` to write into.
        metrics: the run's metrics so far (for the tables).
        fit: what the fit recorded (seconds, epochs, phases), for the training section.
        explanations: more columns of the explanation figure, `{title: explain(images) -> (N, h, w) maps}` (the
            distillation task adds its teacher's Grad-CAM).

    A Vision Transformer has no convolutional feature map: its images are explained by attention rollout
    (`explanations.png`) instead of Grad-CAM (`grad_cam.png`).
    """
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
    write_confusion_csv(matrix, names, run.confusion_csv)
    split_name = "test" if split == "test" else "validation"
    title = f"{config['model']['name']} on {bundle.source} ({split_name} split)"
    plot_confusion_matrix(matrix, names, run.confusion_png, title=title)
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
            y_true[wanted], y_pred[wanted], names, run.misclassified_png,
            probabilities=probabilities[wanted], max_images=len(wanted),
            title=f"{len(wrong)} of {len(y_true)} {split_name} images misclassified"
            + (f" (the {len(wanted)} most confident shown)" if len(wanted) < len(wrong) else ""),
        )
    elif len(cams):
        plot_image_grid(
            denormalize_images(np.stack([images[i] for i in cams]), to_show), run.misclassified_png,
            titles=[f"true: {names[y_true[i]]}\npred: {names[y_pred[i]]}" for i in cams],
            title=f"no {split_name} image misclassified (of {len(y_true)}); some correct ones",
        )

    cam_layer = None
    cam_note = ""
    rollout = is_vision_transformer(model)
    if len(cams):
        batch = np.stack([images[i] for i in cams])
        row_titles = [f"true {names[y_true[i]]}, pred {names[y_pred[i]]}" + (" (wrong)" if y_true[i] != y_pred[i] else "")
                      for i in cams]
        try:
            if rollout:
                # A Vision Transformer has no convolutional feature map for Grad-CAM: attention rollout says which
                # patches its class token drew on.
                maps = {"attention rollout": model_attention_rollout(model, batch)}
            else:
                cam_layer = options["report"]["grad_cam_layer"] or find_last_conv_layer(model)
                maps = {
                    "Grad-CAM, predicted class": grad_cam(model, batch, class_index=y_pred[cams], layer_name=cam_layer),
                    "Grad-CAM, true class": grad_cam(model, batch, class_index=y_true[cams], layer_name=cam_layer),
                }
            for column, explain in (explanations or {}).items():
                maps[column] = explain(batch)
            save_grad_cam_overlays(
                denormalize_images(batch, to_show), maps, run.explanations_png if rollout else run.grad_cam_png,
                titles=row_titles,
                title="Attention rollout (Abnar & Zuidema 2020)" + (" beside the " + ", ".join(explanations) if explanations else "")
                if rollout else f"Grad-CAM at layer {cam_layer!r}",
            )
        except ConfigError as error:
            cam_note = f"{'Attention rollout' if rollout else 'Grad-CAM'} was skipped: {error}"
            logger.warning(cam_note)

    write_report_md(
        run, config=config, bundle=bundle, metrics={**metrics, **extra}, split=split,
        wrong=len(wrong), total=len(y_true), matrix=matrix, fit=fit or {}, cam_layer=cam_layer,
        cam_note=cam_note, cam_count=len(cams) if not cam_note else 0, misclassified_shown=len(wanted),
        rollout_columns=["attention rollout", *(explanations or {})] if rollout else None,
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


def write_report_md(run, *, config, bundle, metrics, split, wrong, total, matrix, fit, cam_layer, cam_note, cam_count,
                    misclassified_shown, rollout_columns=None):
    """Writes the run's `report.md` (`run.report`): the numbers, the figures and what they show."""
    names = list(bundle.class_names)
    split_name = "test" if split == "test" else "validation"
    options = config["task_options"]
    results = [
        (f"{split_name} accuracy", _fmt(metrics.get(f"{split}_accuracy"))),
        (f"{split_name} loss", _fmt(metrics.get(f"{split}_loss"))),
        ("macro-F1", _fmt(metrics["macro_f1"])),
        ("macro precision / recall", f"{_fmt(metrics['macro_precision'])} / {_fmt(metrics['macro_recall'])}"),
        ("misclassified", f"{wrong} of {total}"),
    ]
    if "val_accuracy" in metrics and split != "val":
        results.append(("validation accuracy", _fmt(metrics["val_accuracy"])))
    if fit:
        results += [("epochs trained", fit["epochs"]), ("training time", f"{fit['seconds']:.1f} s")]
    expected = metrics.get("expected")
    if expected:
        verdict = "met" if expected["met"] else "NOT met"
        results.append(("expected", f"{expected['metric']} >= {expected['min']}: **{verdict}**"))
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
        markdown_table(["metric", "value"], results),
        "",
        f"All numbers are also in [{run.metrics.name}]({run.metrics.name}).",
        "",
    ]

    lines += ["## Training", "", f"![loss and accuracy curves]({run.curves.name})", "",
              f"Per-epoch values: [{run.history.name}]({run.history.name}). Optimizer "
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
        phases = [
            (phase["phase"], f"{phase['epochs'][0]}-{phase['epochs'][1]}", f"{phase['learning_rate']:g}",
             f"{phase.get('trainable_parameters', '-'):,}")
            for phase in fit["phases"]
        ]
        lines += [markdown_table(["phase", "epochs", "learning rate", "trainable parameters"], phases), ""]

    lines += ["## Confusion matrix", "", f"![confusion matrix]({run.confusion_png.name})", "",
              f"Rows are true classes, columns predicted ones; counts in [{run.confusion_csv.name}]({run.confusion_csv.name})."]
    off = np.array(matrix, dtype=np.int64)
    np.fill_diagonal(off, 0)
    pairs = [(int(off[i, j]), names[i], names[j]) for i, j in zip(*np.nonzero(off), strict=True)]
    pairs.sort(key=lambda item: -item[0])
    if pairs:
        lines.append("Most frequent confusions (true -> predicted): "
                     + ", ".join(f"{t} -> {p} ({n})" for n, t, p in pairs[:5]) + ".")
    per_class = [
        (name, f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1']:.4f}", row["support"])
        for name, row in metrics["per_class"].items()
    ]
    per_class.append(("**macro average**", f"{metrics['macro_precision']:.4f}", f"{metrics['macro_recall']:.4f}",
                      f"{metrics['macro_f1']:.4f}", total))
    lines += ["", "## Per-class precision, recall and F1", "",
              markdown_table(["class", "precision", "recall", "F1", "support"], per_class)]
    lines += ["", "## Misclassified images", ""]
    if wrong:
        which = f"All {wrong}" if misclassified_shown == wrong else f"The {misclassified_shown} most confident of the {wrong}"
        lines += [f"![misclassified test images]({run.misclassified_png.name})", "",
                  f"{which} mistakes, with the true label, the predicted one and its probability."]
    else:
        lines += [f"No {split_name} image is misclassified; "
                  f"[{run.misclassified_png.name}]({run.misclassified_png.name}) shows a few correct ones."]
    if rollout_columns:
        lines += ["", "## Attention rollout", ""]
    else:
        lines += ["", "## Grad-CAM", ""]
    if cam_count and rollout_columns:
        lines += [f"![attention rollout]({run.explanations_png.name})", "",
                  f"Attention rollout (Abnar & Zuidema 2020) for {cam_count} test images, the misclassified ones first "
                  "(marked wrong): the class token's attention followed down through every block to the patches (red: "
                  f"drawn on most, blue: not at all). Columns: {', '.join(rollout_columns)}."]
    elif cam_count:
        lines += [f"![Grad-CAM overlays]({run.grad_cam_png.name})", "",
                  f"Grad-CAM (Selvaraju et al. 2017) at layer `{cam_layer}` for {cam_count} test images, the misclassified "
                  "ones first (marked wrong), then correctly classified ones: where the model found evidence for the "
                  "class it predicted, and for the true class (red: strong, blue: none)."]
    else:
        lines.append(cam_note or "No image to explain.")
    lines.append("")
    run.report.write_text("\n".join(lines))
    return run.report
