"""`detection`: find every object in an image and its box, in one pass (YOLO, Redmon et al. 2016).

The data are images with boxes (`keras_nn.data.detection`: the generated `embedded:shapes` scenes, a `dir:` folder
in YOLO format, a `coco:` annotation file, TFDS `voc`); the model is a grid detector of the registry
(`yolo_tiny`, ...), trained with `keras_nn.losses.YoloLoss` on grid targets encoded in the `tf.data` pipeline.
Evaluation decodes the grid, keeps the best of overlapping boxes with non-maximum suppression (`YOLO.detect`) and
scores the test split with pycocotools: mAP@0.5, mAP@[.5:.95], mAP@0.75 and the AP of every class. The report
draws the precision-recall curve of every class and a grid of test images with predicted and true boxes; the
export is one file per target with decoding and NMS inside (`DetectorExport`), which `keras-nn detect` runs on a
video, a folder of images or a webcam.

mAP is computed the way COCO does it: from every detection above a low score (`eval_score_threshold`, 0.001 as in
the reference evaluations), up to `max_detections` per image; `score_threshold` is what a deployed detector
draws (the export and `keras-nn detect`).

Anchor boxes (YOLO v2, Redmon & Farhadi 2017): `task_options.anchors` is `none` (YOLO v1's boxes, the default),
`auto` (`num_anchors` shapes clustered by `kmeans_anchors` from the boxes of the first `ANCHOR_IMAGES` training
images, seeded by `training.seed`) or a list of `[w, h]` pairs; the model gets them as its `anchors` argument, so
its `.keras` file keeps them, and the loss matches each object to the anchor of the closest shape.
"""

import logging

import numpy as np

from keras_nn.config.export_plan import DetectorExport
from keras_nn.config.schema import Field
from keras_nn.data.detection import encode_grid_targets, kmeans_anchors, load_detection_dataset
from keras_nn.data.detection.scenes import DEFAULT_IMAGE_SIZE
from keras_nn.errors import ConfigError
from keras_nn.files import atomic_write_text
from keras_nn.losses import YoloLoss
from keras_nn.metrics import coco_evaluation
from keras_nn.models import YOLO, create_model, get_model_entry
from keras_nn.training.tasks.base import Task, model_arguments, pipeline_arguments, split_arguments
from keras_nn.viz import markdown_table, plot_detections, plot_precision_recall

logger = logging.getLogger(__name__)

BAD_LABEL_POLICIES = ("error", "skip")
ANCHOR_MODES = ("none", "auto")
#: `anchors: auto` clusters the boxes of at most this many training images (their images are loaded too).
ANCHOR_IMAGES = 1000


def check_anchors_option(key, value):
    """`none`, `auto` or a list of `[w, h]` pairs in (0, 1]."""
    if isinstance(value, str):
        if value not in ANCHOR_MODES:
            raise ConfigError(f"recipe key {key!r} = {value!r}: use none, auto or a list of [w, h] pairs")
        return value
    if not value or not all(
        isinstance(pair, list) and len(pair) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1 for v in pair)
        for pair in value
    ):
        raise ConfigError(
            f"recipe key {key!r} = {value!r} must be none, auto or a list of [w, h] pairs in (0, 1], e.g. "
            "[[0.1, 0.1], [0.3, 0.3]]"
        )
    return [[float(w), float(h)] for w, h in value]


class DetectionTask(Task):
    """A grid detector trained with the YOLO v1 loss and scored with COCO mAP (see the module docstring)."""

    name = "detection"
    options = {
        "max_boxes": Field((int,), 20, minimum=1, help="boxes kept per image (more are an error, or skipped)"),
        "augment": Field((bool,), True, help="box-aware flip, scale/translate and brightness on the training split"),
        "on_bad_labels": Field(
            (str,), "error", choices=BAD_LABEL_POLICIES,
            help="error: stop at the first bad label or image; skip: drop it and list it in the report",
        ),
        "anchors": Field(
            (str, list), "none", check=check_anchors_option,
            help="none: YOLO v1 boxes; auto: YOLO v2 anchors by k-means on the training boxes; or [[w, h], ...]",
        ),
        "num_anchors": Field((int,), 5, minimum=1, help="anchors: auto clusters this many shapes (YOLO v2: 5)"),
        "ignore_iou": Field(
            (float,), None, minimum=0.0, maximum=1.0,
            help="boxes overlapping their cell's object above this IoU skip the no-object term (YOLO v2: 0.6)",
        ),
        "lambda_coord": Field((float,), 5.0, minimum=0.0, help="weight of the box coordinate terms (YOLO: 5)"),
        "lambda_noobj": Field((float,), 0.5, minimum=0.0, help="weight of the no-object confidence term (YOLO: 0.5)"),
        "score_threshold": Field((float,), 0.25, minimum=0.0, maximum=1.0, help="the deployed detector's score cut"),
        "iou_threshold": Field((float,), 0.5, minimum=0.0, maximum=1.0, help="NMS: boxes overlapping more are dropped"),
        "max_detections": Field((int,), 100, minimum=1, help="boxes per image after NMS"),
        "class_agnostic": Field((bool,), False, help="NMS across classes (True) or within each class (False)"),
        "eval_score_threshold": Field(
            (float,), 0.001, minimum=0.0, maximum=1.0, help="the lowest score mAP evaluation counts (COCO: 0.001)"
        ),
        "report_images": Field((int,), 16, minimum=0, help="test images drawn with their boxes in detections.png"),
        "scenes": Field(
            (dict,), None, help="embedded:shapes only: scene counts {train, validation, test} (default 3000/300/500)"
        ),
    }

    def __init__(self):
        super().__init__()
        self.grid_size = None
        self.evaluation = None

    # ------------------------------------------------------------------------------------------------ data

    def load_data(self, config):
        data = config["data"]
        options = config["task_options"]
        if data["form"] not in ("auto", "image"):
            raise ConfigError(f"data.form={data['form']!r} does not fit task 'detection', which reads images; use auto")
        return load_detection_dataset(
            data["source"],
            image_size=tuple(data["image_size"]) if data["image_size"] else DEFAULT_IMAGE_SIZE,
            data_dir=data["data_dir"],
            max_boxes=options["max_boxes"],
            augment=options["augment"],
            on_bad_labels=options["on_bad_labels"],
            num_scenes=options["scenes"],
            **pipeline_arguments(config),
            **split_arguments(config),
        )

    # ------------------------------------------------------------------------------------------- the model

    def build_model(self, config, bundle):
        builder = get_model_entry(config["model"]["name"]).builder
        if not (isinstance(builder, type) and issubclass(builder, YOLO)):
            raise ConfigError(
                f"model {config['model']['name']!r} is not a detector; task 'detection' trains yolo_tiny and the other "
                "YOLO configurations (keras-nn list)"
            )
        arguments = model_arguments(config)
        for key, value in (("input_shape", tuple(bundle.input_shape)), ("num_classes", bundle.num_classes)):
            if key in arguments and tuple(np.atleast_1d(arguments[key])) != tuple(np.atleast_1d(value)):
                raise ConfigError(
                    f"model.{key}={arguments[key]!r} differs from the data's {value!r}; leave it out (the data sets it)"
                )
            arguments[key] = value
        anchors = self.anchors(config, bundle)
        if anchors is not None:
            if arguments.get("anchors") is not None:
                raise ConfigError(
                    "model.anchors and task_options.anchors are both set; give the anchors in one of them"
                )
            arguments["anchors"] = anchors
        model = create_model(config["model"]["name"], **arguments)
        self.grid_size = model.grid_size
        return model

    def anchors(self, config, bundle):
        """The task's anchor priors: None (`none`), k-means on the training boxes (`auto`), or the list given."""
        options = config["task_options"]
        if options["anchors"] == "none":
            return None
        if options["anchors"] != "auto":
            return options["anchors"]
        _, boxes = bundle.as_numpy("train", limit=ANCHOR_IMAGES)
        anchors = kmeans_anchors(boxes, options["num_anchors"], seed=config["training"]["seed"])
        anchors = [[round(w, 6), round(h, 6)] for w, h in anchors]
        logger.info("anchors (k-means on %d training images' boxes): %s", len(boxes), anchors)
        return anchors

    def compile(self, model, config, steps_per_epoch):
        self.reject_label_smoothing(config)
        options = config["task_options"]
        loss = YoloLoss(
            model.num_classes, boxes_per_cell=model.boxes_per_cell,
            lambda_coord=options["lambda_coord"], lambda_noobj=options["lambda_noobj"],
            anchors=getattr(model, "anchors", None), ignore_iou=options["ignore_iou"],
        )
        self.compile_model(model, config, steps_per_epoch, loss=loss)

    def fit_data(self, dataset, config, bundle):
        """Boxes -> the YOLO grid target of the model's grid (`[S, S, 5 + C]` per image)."""
        if dataset is None:
            return None
        import tensorflow as tf

        grid_size, num_classes = self.grid_size, bundle.num_classes
        return dataset.map(
            lambda images, boxes: (images, encode_grid_targets(boxes, grid_size, num_classes)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    # ------------------------------------------------------------------------------------------- results

    def detect(self, model, images, config, score_threshold=None, batch_size=64):
        """`YOLO.detect` over `images` in batches, as numpy (`boxes`, `scores`, `classes`, `count`)."""
        options = config["task_options"]
        threshold = options["eval_score_threshold"] if score_threshold is None else score_threshold
        parts = []
        for start in range(0, len(images), batch_size):
            found = model.detect(
                images[start : start + batch_size], score_threshold=threshold, iou_threshold=options["iou_threshold"],
                max_detections=options["max_detections"], class_agnostic=options["class_agnostic"],
            )
            parts.append({key: np.asarray(value) for key, value in found.items()})
        if not parts:
            return {"boxes": np.zeros((0, options["max_detections"], 4), np.float32),
                    "scores": np.zeros((0, options["max_detections"]), np.float32),
                    "classes": np.zeros((0, options["max_detections"]), np.int32), "count": np.zeros((0,), np.int32)}
        return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}

    def evaluate(self, model, bundle, config):
        """The YOLO loss on validation and test, and COCO mAP of the split reported (test, else validation)."""
        metrics = super().evaluate(model, bundle, config)
        split = "test" if bundle.test is not None else "validation"
        if getattr(bundle, split) is None:
            return metrics
        images, boxes = bundle.as_numpy(split)
        detections = self.detect(model, images, config)
        self.evaluation = {
            "split": split, "images": images, "boxes": boxes, "detections": detections,
            "coco": coco_evaluation(boxes, detections, bundle.class_names, tuple(bundle.input_shape[:2])),
        }
        prefix = "test" if split == "test" else "val"
        coco = self.evaluation["coco"]
        for key in ("map_50", "map_50_95", "map_75"):
            metrics[f"{prefix}_{key}"] = round(float(coco[key]), 6)
        metrics[f"{prefix}_per_class_ap_50"] = _rounded(coco["per_class_ap_50"])
        metrics[f"{prefix}_per_class_ap_50_95"] = _rounded(coco["per_class_ap_50_95"])
        return metrics

    def report(self, model, bundle, config, run, metrics):
        """`precision_recall.png`, `detections.png`, `classes.json` and `report.md` (`run.report`)."""
        import json

        atomic_write_text(run.class_names, json.dumps(list(bundle.class_names)))
        if self.evaluation is None:
            logger.warning("no test or validation split: no detection report written")
            return {}
        evaluation = self.evaluation
        split_name = evaluation["split"]
        title = f"{config['model']['name']} on {bundle.source} ({split_name} split)"
        coco = evaluation["coco"]
        plot_precision_recall(
            coco["precision_recall"], run.precision_recall_png,
            title=f"Precision-recall at IoU 0.5, {title}",
        )
        shown = min(config["task_options"]["report_images"], len(evaluation["images"]))
        if shown:
            deployed = self.detect(
                model, evaluation["images"][:shown], config, score_threshold=config["task_options"]["score_threshold"]
            )
            plot_detections(
                evaluation["images"][:shown], evaluation["boxes"][:shown], deployed, bundle.class_names,
                run.detections_png,
                title=f"{title}: predicted (solid, score >= {config['task_options']['score_threshold']}) and true "
                "(dashed) boxes",
            )
        write_detection_report(run, config, bundle, metrics, coco, split_name, skipped=getattr(bundle, "skipped", []))
        return {"report_split": split_name, "skipped_labels": len(getattr(bundle, "skipped", []))}

    # ------------------------------------------------------------------------------------ export, front end

    def export_plan(self, model, bundle, config):
        """The detector with decoding and NMS inside, calibrated on training images, checked on test images."""
        section = config["export"]
        options = config["task_options"]
        representative, _ = bundle.as_numpy("train", limit=section["representative_samples"])
        split = "test" if bundle.test is not None else "validation"
        verify, verify_boxes = bundle.as_numpy(split, limit=section["verify_samples"])
        return DetectorExport(
            model, representative_data=representative, verify_images=verify,
            score_threshold=options["score_threshold"], iou_threshold=options["iou_threshold"],
            max_detections=options["max_detections"], class_agnostic=options["class_agnostic"],
            class_names=list(bundle.class_names), verify_boxes=verify_boxes,
        )


def _rounded(per_class):
    return {name: None if value is None else round(float(value), 6) for name, value in per_class.items()}


def write_detection_report(run, config, bundle, metrics, coco, split, skipped=()):
    """`report.md`: the data, the mAP figures beside each class's AP, the plots, and any skipped labels."""
    prefix = "test" if split == "test" else "val"
    lines = [
        f"# {config['name']}: {config['model']['name']} on {bundle.source}",
        "",
        f"{bundle.num_examples.get('train', 0)} training, {bundle.num_examples.get('validation', 0)} validation and "
        f"{bundle.num_examples.get('test', 0)} test images of {bundle.input_shape[0]}x{bundle.input_shape[1]} "
        f"pixels, {bundle.num_classes} classes. mAP by pycocotools on the {split} split (every detection with score "
        f">= {config['task_options']['eval_score_threshold']}, at most {config['task_options']['max_detections']} per "
        "image, as COCO evaluates).",
        "",
        markdown_table(
            ["metric", "value"],
            [[name, f"{metrics.get(f'{prefix}_{key}', float('nan')):.4f}"]
             for name, key in (("mAP@0.5", "map_50"), ("mAP@[.5:.95]", "map_50_95"), ("mAP@0.75", "map_75"))],
            align=["left", "right"],
        ),
        "",
        "## Per class",
        "",
        markdown_table(
            ["class", "AP@0.5", "AP@[.5:.95]", "true boxes"],
            [[name, _format(coco["per_class_ap_50"].get(name)), _format(coco["per_class_ap_50_95"].get(name)),
              coco["num_true"].get(name, 0)] for name in bundle.class_names],
            align=["left", "right", "right", "right"],
        ),
        "",
        f"![precision-recall]({run.precision_recall_png.name})",
        "",
        f"![detections]({run.detections_png.name})",
        "",
    ]
    if skipped:
        lines += [f"## Skipped labels ({len(skipped)})", "", *[f"- {line}" for line in skipped[:50]], ""]
        if len(skipped) > 50:
            lines.append(f"- ... and {len(skipped) - 50} more")
    atomic_write_text(run.report, "\n".join(lines) + "\n")
    return run.report


def _format(value):
    return "n/a (no true boxes)" if value is None else f"{value:.4f}"
