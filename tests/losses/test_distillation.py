import math

import keras
import numpy as np
import pytest

from keras_nn.errors import ConfigError
from keras_nn.losses import DistillationLoss

RNG = np.random.default_rng(0)
LABELS = RNG.integers(0, 5, size=6)
CLASS_LOGITS, DISTILLATION_LOGITS, TEACHER_LOGITS = (RNG.normal(size=(6, 5)).astype("float32") * 2 for _ in range(3))
Y_PRED = (CLASS_LOGITS, DISTILLATION_LOGITS, TEACHER_LOGITS)


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _cross_entropy(labels, logits):
    return -_log_softmax(logits)[np.arange(len(labels)), labels]


def _value(loss, labels=LABELS, y_pred=Y_PRED, sample_weight=None):
    return float(keras.ops.convert_to_numpy(loss(labels, y_pred, sample_weight=sample_weight)))


def test_worked_examples_by_hand():
    # Two classes, all-zero student logits: each cross-entropy is log 2; the teacher's argmax is class 0.
    zeros = np.zeros((1, 2), "float32")
    teacher = np.array([[2.0, 0.0]], "float32")
    assert _value(DistillationLoss("hard"), [0], (zeros, zeros, teacher)) == pytest.approx(math.log(2), abs=1e-6)
    # The distillation head learns the teacher's label even where it contradicts the true one.
    wrong = np.array([[0.0, 3.0]], "float32")  # CE(wrong, 0) = log(1 + e^3), CE(wrong, 1) = log(1 + e^-3)
    assert _value(DistillationLoss("hard"), [1], (wrong, wrong, teacher)) == pytest.approx(
        0.5 * math.log(1 + math.exp(-3)) + 0.5 * math.log(1 + math.exp(3)), abs=1e-6
    )
    # Soft: a student that matches the teacher pays no KL, only (1 - alpha) of its label loss.
    loss = DistillationLoss("soft", temperature=2.0, alpha=0.25)
    assert _value(loss, [0], (zeros, teacher, teacher)) == pytest.approx(0.75 * math.log(2), abs=1e-6)
    # KL(softmax([2, 0] / 2) || softmax([0, 0] / 2)) = sum p log(2p), times tau^2 = 4 and alpha.
    p = np.array([math.e, 1.0]) / (math.e + 1.0)
    expected = 0.75 * math.log(2) + 0.25 * 4 * float((p * np.log(2 * p)).sum())
    assert _value(loss, [0], (zeros, zeros, teacher)) == pytest.approx(expected, abs=1e-6)


def test_hard_distillation_against_numpy():
    teacher_labels = TEACHER_LOGITS.argmax(-1)
    per_example = 0.5 * _cross_entropy(LABELS, CLASS_LOGITS) + 0.5 * _cross_entropy(teacher_labels, DISTILLATION_LOGITS)
    loss = DistillationLoss("hard")
    assert _value(loss) == pytest.approx(per_example.mean(), rel=1e-5)
    label_term, distillation_term = (keras.ops.convert_to_numpy(t) for t in loss.terms(LABELS, Y_PRED))
    np.testing.assert_allclose(label_term + distillation_term, per_example, rtol=1e-5)
    # Each term is half a Keras sparse cross-entropy.
    keras_ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    np.testing.assert_allclose(label_term, 0.5 * keras_ce(LABELS, CLASS_LOGITS), rtol=1e-5)
    np.testing.assert_allclose(distillation_term, 0.5 * keras_ce(teacher_labels, DISTILLATION_LOGITS), rtol=1e-5)


@pytest.mark.parametrize("temperature, alpha", [(3.0, 0.1), (1.0, 0.5), (0.5, 1.0)])
def test_soft_distillation_against_numpy_and_keras_kl(temperature, alpha):
    teacher = np.exp(_log_softmax(TEACHER_LOGITS / temperature))
    student = np.exp(_log_softmax(DISTILLATION_LOGITS / temperature))
    kl = (teacher * (np.log(teacher) - np.log(student))).sum(-1)
    per_example = (1 - alpha) * _cross_entropy(LABELS, CLASS_LOGITS) + alpha * temperature**2 * kl
    loss = DistillationLoss("soft", temperature=temperature, alpha=alpha)
    assert _value(loss) == pytest.approx(per_example.mean(), rel=1e-5)
    _, distillation_term = loss.terms(LABELS, Y_PRED)
    keras_kl = keras.losses.KLDivergence(reduction=None)(teacher, student)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(distillation_term), alpha * temperature**2 * np.asarray(keras_kl), rtol=1e-4, atol=1e-6
    )


def test_sample_weight_config_and_bad_arguments():
    loss = DistillationLoss("soft", temperature=2.0, alpha=0.3)
    weights = np.array([1, 0, 2, 0, 1, 1], "float32")
    label_term, distillation_term = (keras.ops.convert_to_numpy(t) for t in loss.terms(LABELS, Y_PRED))
    # Keras' default reduction: the weighted sum over the batch size.
    assert _value(loss, sample_weight=weights) == pytest.approx(
        float(((label_term + distillation_term) * weights).sum() / len(weights)), rel=1e-5
    )
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert isinstance(clone, DistillationLoss)
    assert (clone.mode, clone.temperature, clone.alpha) == ("soft", 2.0, 0.3)
    assert _value(clone) == pytest.approx(_value(loss))
    for arguments, message in [
        ({"mode": "medium"}, r"mode='medium' is unknown; use one of: hard, soft"),
        ({"mode": "soft", "temperature": 0}, r"temperature=0 must be a positive number"),
        ({"mode": "soft", "alpha": 1.5}, r"alpha=1.5 must be in \[0, 1\]"),
    ]:
        with pytest.raises(ConfigError, match=message):
            DistillationLoss(**arguments)
