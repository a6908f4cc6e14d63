"""`distillation`: a ViT/DeiT student trained by a frozen CNN teacher (DeiT), with image classification's
augmentation, input normalization and report.

The recipe's model is the student (any `VisionTransformer` of the registry); `task_options.teacher` is a
trained image classifier: a run directory holding `model.keras`, or a `.keras` file. Each training batch goes
through the student and the teacher in the same `tf.data` -> `fit` loop (`keras_nn.models.Distiller`, built
under the run's `tf.distribute` strategy); the loss is DeiT's hard-label or soft distillation
(`keras_nn.losses.DistillationLoss`, `mode`, `temperature`, `alpha`). The run's callbacks (backup for
`--resume`, best checkpoint, history CSV, TensorBoard, early stopping) watch the Distiller's fit, so the history
holds `loss`, `label_loss`, `distillation_loss` and the student's `accuracy`. What the run saves, evaluates,
reports and exports is the student; `metrics.json` adds the teacher's test accuracy and the distillation
settings.

Everything about the teacher is checked in `build_model`, before the trainer writes a file.
"""

import zipfile
from pathlib import Path

import keras
import numpy as np

from keras_nn.config.schema import Field
from keras_nn.errors import ConfigError, MissingPathError, ModelFileError, ShapeError
from keras_nn.losses import DistillationLoss
from keras_nn.losses.distillation import DISTILLATION_MODES
from keras_nn.models import Distiller, VisionTransformer, get_model_entry, list_models
from keras_nn.training.tasks.base import compile_options
from keras_nn.training.tasks.image_classification import ImageClassificationTask
from keras_nn.viz import grad_cam

# The file a run directory keeps its trained model in (`keras_nn.runs.RunDirectory.model`, which training
# cannot import: the run layer sits above it).
RUN_MODEL_FILE = "model.keras"


def _positive(key, value):
    if value <= 0:
        raise ConfigError(f"recipe key {key!r} = {value!r} must be a positive number, e.g. 3.0")
    return value


class DistillationTask(ImageClassificationTask):
    """DeiT distillation of a ViT/DeiT student from a frozen image-classifier teacher (see the module doc)."""

    name = "distillation"
    options = {
        **ImageClassificationTask.options,
        "teacher": Field((str,), None, help="the teacher: a run directory holding model.keras, or a .keras file"),
        "mode": Field((str,), "hard", choices=DISTILLATION_MODES, help="hard-label or soft distillation"),
        "temperature": Field((float,), 3.0, check=_positive, help="tau of soft distillation (DeiT: 3.0)"),
        "alpha": Field((float,), 0.1, minimum=0.0, maximum=1.0, help="lambda, the soft term's weight (DeiT: 0.1)"),
    }

    def __init__(self):
        super().__init__()
        self.teacher = None
        self.distiller = None

    @classmethod
    def check_option_values(cls, options):
        if not options["teacher"]:
            raise ConfigError(
                "task 'distillation' needs task_options.teacher: the run directory (or .keras file) of a trained "
                "image classifier, e.g. --set task_options.teacher=runs/digits_cnn"
            )
        if options["fine_tune"]["freeze_backbone_epochs"]:
            raise ConfigError(
                "task_options.fine_tune.freeze_backbone_epochs does not apply to task 'distillation' (the student "
                "trains whole); set it to 0"
            )
        return options

    # ------------------------------------------------------------------------------------------------ model

    def build_model(self, config, bundle):
        check_student(config["model"])
        teacher = load_teacher(config["task_options"]["teacher"], bundle)
        student = super().build_model(config, bundle)
        options = config["task_options"]
        loss = DistillationLoss(options["mode"], temperature=options["temperature"], alpha=options["alpha"])
        self.teacher = teacher
        self.distiller = Distiller(student, teacher, loss)
        return student

    def compile(self, model, config, steps_per_epoch):
        self.reject_label_smoothing(config)
        # The student is compiled for evaluation (cross-entropy and accuracy on the labels, as any classifier);
        # the Distiller trains it with the same optimizer, which the trainer builds and --resume restores.
        super().compile(model, config, steps_per_epoch)
        self.distiller.compile(optimizer=model.optimizer, **compile_options(config["training"]))

    def fit(self, model, bundle, config, callbacks, verbose):
        return super().fit(self.distiller, bundle, config, callbacks, verbose)

    # ------------------------------------------------------------------------------------------------ report

    def report(self, model, bundle, config, run, metrics):
        options = config["task_options"]
        extra = {
            "teacher_test_accuracy": self.teacher_accuracy(bundle.test),
            "teacher_num_parameters": int(self.teacher.count_params()),
            "distillation": {
                "mode": options["mode"],
                "temperature": options["temperature"],
                "alpha": options["alpha"],
                "teacher": str(teacher_file(options["teacher"])),
            },
        }
        return {**super().report(model, bundle, config, run, {**metrics, **extra}), **extra}

    def explanations(self, model):
        """The teacher's Grad-CAM beside the student's attention rollout, on the same test images."""

        return {"teacher Grad-CAM": lambda images: grad_cam(self.teacher, self.distiller.teacher_inputs(images))}

    def teacher_accuracy(self, dataset):
        """The teacher's accuracy on `dataset` (batches of student-sized images and labels), rounded."""
        correct = total = 0
        for images, labels in dataset:
            predicted = np.asarray(self.distiller.teacher_logits(images)).argmax(-1)
            correct += int((predicted == np.asarray(labels).reshape(-1)).sum())
            total += len(predicted)
        return round(correct / max(total, 1), 6)


def vit_model_names():
    """The registered configurations a student can be: those built by `VisionTransformer`."""
    return [name for name in list_models() if get_model_entry(name).builder is VisionTransformer]


def check_student(model_section):
    """Raises `ConfigError` unless the recipe's model is a ViT/DeiT with its head."""
    name = model_section["name"]
    builder = get_model_entry(name).builder
    if not (isinstance(builder, type) and issubclass(builder, VisionTransformer)):
        raise ConfigError(
            f"model.name={name!r} cannot be a distillation student: it is not a ViT/DeiT; use one of: "
            f"{', '.join(vit_model_names())}"
        )
    if model_section.get("include_top") is False:
        raise ConfigError(f"model.include_top=false leaves student {name!r} without heads; remove it")


def teacher_file(teacher):
    """The teacher's `.keras` file: `teacher` itself, or the model file of the run directory it names."""
    path = Path(teacher).expanduser()
    return path / RUN_MODEL_FILE if path.is_dir() else path


def load_teacher(teacher, bundle):
    """Loads and checks the teacher for data `bundle`; raises a one-line keras-nn error if it does not fit.

    Raises:
        MissingPathError: no such file or run directory, or a directory without `model.keras`.
        ModelFileError: not a `.keras` file, or one that does not load.
        ConfigError: the model is not an image classifier (one image input, one `[batch, classes]` output).
        ShapeError: its channels or number of classes differ from the data's.
    """
    path = teacher_file(teacher)
    if not path.is_file():
        where = (f"run directory {str(path.parent)!r} holds no {RUN_MODEL_FILE}" if path.parent.is_dir()
                 and path.name == RUN_MODEL_FILE else f"{str(path)!r} does not exist")
        raise MissingPathError(
            f"task_options.teacher: {where}; give the run directory of a trained image classifier or its .keras file"
        )
    if path.suffix != ".keras":
        raise ModelFileError(f"task_options.teacher={str(path)!r} is not a .keras file; give a run's {RUN_MODEL_FILE}")
    try:
        model = keras.saving.load_model(path, compile=False)
    except (ValueError, OSError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise ModelFileError(
            f"task_options.teacher: cannot load {str(path)!r}: it is corrupted or not a Keras 3 .keras file "
            f"({type(error).__name__}); give the {RUN_MODEL_FILE} of a trained image-classification run"
        ) from None
    inputs = getattr(model, "inputs", None) or []
    outputs = getattr(model, "outputs", None) or []
    if len(inputs) != 1 or len(inputs[0].shape) != 4 or len(outputs) != 1 or len(outputs[0].shape) != 2:
        shapes = f"inputs {[tuple(x.shape) for x in inputs]} -> outputs {[tuple(x.shape) for x in outputs]}"
        raise ConfigError(
            f"task_options.teacher: {str(path)!r} (model {model.name!r}, {shapes}) is not an image classifier; "
            "give one whose input is [batch, height, width, channels] and output [batch, classes]"
        )
    channels, classes = inputs[0].shape[-1], outputs[0].shape[-1]
    if channels != bundle.input_shape[-1]:
        raise ShapeError(
            f"task_options.teacher: {str(path)!r} takes {channels}-channel images, the data has "
            f"{bundle.input_shape[-1]}; give a teacher trained on this data"
        )
    if classes != bundle.num_classes:
        raise ShapeError(
            f"task_options.teacher: {str(path)!r} predicts {classes} classes, the data has {bundle.num_classes}; "
            "give a teacher trained on the same classes"
        )
    return model
