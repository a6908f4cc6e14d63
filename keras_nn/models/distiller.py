"""`Distiller`: trains a ViT/DeiT student against a frozen teacher, both in the same `fit` loop."""

import keras
from keras import ops


def gives_probabilities(model):
    """True when `model` ends in a softmax (its outputs are probabilities), False for logits.

    keras-nn models say so with `classifier_activation`; for any other Keras model the last layer decides (a
    `Softmax` layer, or a layer whose activation is softmax).
    """
    if hasattr(model, "classifier_activation"):
        return model.classifier_activation == "softmax"
    last = model.layers[-1] if model.layers else None
    if isinstance(last, keras.layers.Softmax):
        return True
    return getattr(last, "activation", None) is keras.activations.softmax


@keras.saving.register_keras_serializable(package="keras_nn")
class Distiller(keras.Model):
    """A student ViT/DeiT and a frozen teacher, trained together on each batch with a distillation loss.

    Each step runs the student's heads in training mode (`head_logits(images, training=True)`: the class head,
    and for a distilled DeiT the distillation head) and the teacher in inference mode (`trainable=False`, so
    its batch normalization keeps its statistics and no gradient reaches it) on the same batch, resized to the
    teacher's input size when the two differ. The teacher's logits feed `loss` (a
    `keras_nn.losses.DistillationLoss`). Built under a `tf.distribute` strategy's scope, the teacher runs on
    every replica inside the same compiled step.

    `compile` takes the optimizer (no `loss` or `metrics`: the distillation loss is the model's own). Logged
    each epoch: `loss`, its two weighted terms `label_loss` and `distillation_loss` (they sum to `loss`), and
    `accuracy` of the student's inference output (the mean of a DeiT's two heads, as its `predict`), with
    `val_` versions from validation data. What is saved and exported is the student, not the Distiller.

    Args:
        student: a `keras_nn.models.VisionTransformer` with its head (`include_top=True`).
        teacher: a trained Keras image classifier, input `[batch, height, width, channels]`, output
            `[batch, classes]` (logits or softmax probabilities) over the student's classes.
        loss: the distillation loss, called as `loss(labels, (class_logits, distillation_logits,
            teacher_logits), sample_weight)` and with a `terms(labels, y_pred)` method.
        name: model name.

    Call arguments:
        images: `[batch, height, width, channels]` at the student's input size.
        training: the student's training mode (the teacher always runs in inference mode).

    Returns:
        `(class_logits, distillation_logits, teacher_logits)`, each `[batch, classes]` float32; a one-head
        student gives its head as both of the first two.

    Example:
    >>> distiller = Distiller(student, teacher, keras_nn.losses.DistillationLoss("hard"))
    >>> distiller.compile(optimizer="adamw")
    >>> distiller.fit(train_dataset, validation_data=validation_dataset, epochs=10)
    >>> student.save("student.keras")

    References:
        Touvron et al., "Training data-efficient image transformers & distillation through attention", ICML
        2021, https://arxiv.org/abs/2012.12877.
    """

    def __init__(self, student, teacher, loss, name="distiller", **kwargs):
        super().__init__(name=name, **kwargs)
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        self.distillation_loss = loss
        self.teacher_probabilities = gives_probabilities(teacher)
        student_size = tuple(student.inputs[0].shape[1:3])
        teacher_size = tuple(teacher.inputs[0].shape[1:3])
        # A teacher that takes any size (None) gets the student's batch as it is.
        self.teacher_size = teacher_size if None not in teacher_size and teacher_size != student_size else None
        self.label_loss_tracker = keras.metrics.Mean(name="label_loss")
        self.distillation_loss_tracker = keras.metrics.Mean(name="distillation_loss")
        self.accuracy_tracker = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        self.built = True

    def teacher_inputs(self, images):
        """Images at the student's size, resized to the teacher's input size where the two differ."""
        return images if self.teacher_size is None else ops.image.resize(images, self.teacher_size)

    def teacher_logits(self, images):
        """The frozen teacher's logits `[batch, classes]` (float32, no gradient) for images at the student's size."""
        outputs = ops.cast(self.teacher(self.teacher_inputs(images), training=False), "float32")
        if self.teacher_probabilities:
            # log p = z - logsumexp(z) is the logits up to a per-example constant, so softmax(log p / tau) equals
            # softmax(z / tau) and the argmax is the same: KL and the hard label are unchanged.
            outputs = ops.log(ops.clip(outputs, 1e-7, 1.0))
        return ops.stop_gradient(outputs)

    def call(self, images, training=None):
        heads = self.student.head_logits(images, training=training)
        return heads[0], heads[-1], self.teacher_logits(images)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = self.distillation_loss(y, y_pred, sample_weight=sample_weight)
        label_term, distillation_term = self.distillation_loss.terms(y, y_pred)
        self.label_loss_tracker.update_state(label_term, sample_weight=sample_weight)
        self.distillation_loss_tracker.update_state(distillation_term, sample_weight=sample_weight)
        if self.losses:
            # Regularization losses, scaled for the replicas by Keras as for any model.
            loss = loss + super().compute_loss(x, y, y_pred, sample_weight, training)
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        class_logits, distillation_logits, _ = y_pred
        # The argmax of the mean logits is the student's prediction (its output is their mean, then softmax).
        self.accuracy_tracker.update_state(y, (class_logits + distillation_logits) / 2.0, sample_weight=sample_weight)
        return self.get_metrics_result()

    def get_config(self):
        return {
            **super().get_config(),
            "student": keras.saving.serialize_keras_object(self.student),
            "teacher": keras.saving.serialize_keras_object(self.teacher),
            "loss": keras.saving.serialize_keras_object(self.distillation_loss),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("student", "teacher", "loss"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
