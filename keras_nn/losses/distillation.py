"""`DistillationLoss`: DeiT's hard-label and soft distillation objectives."""

import keras
from keras import ops

from keras_nn.errors import ConfigError

DISTILLATION_MODES = ("hard", "soft")


def _cross_entropy(labels, logits):
    """Per-example sparse cross-entropy of integer `labels` against `logits`."""
    log_probs = ops.log_softmax(logits, axis=-1)
    return -ops.squeeze(ops.take_along_axis(log_probs, ops.expand_dims(labels, -1), axis=-1), -1)


@keras.saving.register_keras_serializable(package="keras_nn")
class DistillationLoss(keras.losses.Loss):
    """DeiT's distillation objective: a student learns from the labels and from a teacher's predictions.

    Hard-label distillation (Touvron et al. 2021, eq. 3) trains on the teacher's decision as if it were a
    second label:

        0.5 * CE(class_logits, y) + 0.5 * CE(distillation_logits, argmax(teacher_logits))

    Soft distillation (eq. 2, after Hinton et al. 2015) matches the teacher's tempered distribution:

        (1 - alpha) * CE(class_logits, y)
            + alpha * tau^2 * KL(softmax(teacher_logits / tau) || softmax(distillation_logits / tau))

    The `tau^2` keeps the soft term's gradients on the scale of the label term as `tau` grows (Hinton et al.).
    KL is summed over the classes and averaged over the batch, as in the paper's equation; DeiT's released
    code divides the summed KL by batch * classes instead, so its `alpha` is not directly comparable.

    A distilled DeiT student gives its class-token head as `class_logits` and its distillation-token head as
    `distillation_logits`; a one-head ViT student gives its single head as both, so both terms train it.

    Args:
        mode: `"hard"` or `"soft"`.
        temperature: tau of soft distillation (DeiT: 3.0); unused by `"hard"`.
        alpha: lambda, the weight of the soft term (DeiT: 0.1); unused by `"hard"`, whose weights are 0.5 each.
        reduction, name, dtype: as `keras.losses.Loss`; the default reduction gives the batch mean.

    Call arguments:
        y_true: `[batch]` integer labels.
        y_pred: the tuple `(class_logits, distillation_logits, teacher_logits)`, each `[batch, classes]` logits
            (a teacher that outputs probabilities gives `log(p)`, which has the same softmax and argmax).
        sample_weight: optional `[batch]` weights.

    Returns:
        The loss; `terms(y_true, y_pred)` gives its two weighted per-example terms, which sum to the
        unreduced loss.

    Example:
    >>> loss = keras_nn.losses.DistillationLoss("soft", temperature=3.0, alpha=0.1)
    >>> value = loss(labels, (class_logits, distillation_logits, teacher_logits))

    References:
        Touvron et al., "Training data-efficient image transformers & distillation through attention", ICML
        2021, https://arxiv.org/abs/2012.12877 (section 4, eq. 2 and 3).
        Hinton et al., "Distilling the Knowledge in a Neural Network", 2015, https://arxiv.org/abs/1503.02531.
    """

    def __init__(
        self,
        mode="hard",
        temperature=3.0,
        alpha=0.1,
        reduction="sum_over_batch_size",
        name="distillation_loss",
        dtype=None,
    ):
        if mode not in DISTILLATION_MODES:
            raise ConfigError(f"distillation mode={mode!r} is unknown; use one of: {', '.join(DISTILLATION_MODES)}")
        if not float(temperature) > 0:
            raise ConfigError(f"distillation temperature={temperature!r} must be a positive number, e.g. 3.0")
        if not 0.0 <= float(alpha) <= 1.0:
            raise ConfigError(f"distillation alpha={alpha!r} must be in [0, 1], e.g. 0.1")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.mode = mode
        self.temperature = float(temperature)
        self.alpha = float(alpha)

    def terms(self, y_true, y_pred):
        """The weighted per-example `(label_term, distillation_term)`, each `[batch]` float32."""
        class_logits, distillation_logits, teacher_logits = (ops.cast(value, "float32") for value in y_pred)
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        label_loss = _cross_entropy(labels, class_logits)
        if self.mode == "hard":
            teacher_labels = ops.argmax(teacher_logits, axis=-1)
            return 0.5 * label_loss, 0.5 * _cross_entropy(teacher_labels, distillation_logits)
        tau = self.temperature
        teacher_log_probs = ops.log_softmax(teacher_logits / tau, axis=-1)
        student_log_probs = ops.log_softmax(distillation_logits / tau, axis=-1)
        # Log-probabilities on both sides: no clipping, and no 0 * log 0 where the teacher is certain.
        divergence = ops.sum(ops.exp(teacher_log_probs) * (teacher_log_probs - student_log_probs), axis=-1)
        return (1.0 - self.alpha) * label_loss, self.alpha * tau * tau * divergence

    def call(self, y_true, y_pred):
        label_term, distillation_term = self.terms(y_true, y_pred)
        return label_term + distillation_term

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "temperature": self.temperature, "alpha": self.alpha}
