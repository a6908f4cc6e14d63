import keras
import numpy as np
import pytest
from sklearn.metrics import accuracy_score
from testing_utils import compile_with_built_optimizer, inference_loss

import keras_nn
from keras_nn.losses import DistillationLoss
from keras_nn.models import Distiller, VisionTransformer
from keras_nn.models.distiller import gives_probabilities

TINY_VIT = {"patch_size": 4, "depth": 1, "hidden_dim": 16, "num_heads": 2, "mlp_dim": 32, "drop_path_rate": 0.0}
RNG = np.random.default_rng(0)
IMAGES = RNG.random((8, 16, 16, 1)).astype("float32")
LABELS = RNG.integers(0, 4, size=8)


def _student(distilled=True):
    name = "deit_tiny_distilled_patch16_224" if distilled else "vit_tiny_patch16_224"
    return keras_nn.create_model(name, num_classes=4, input_shape=(16, 16, 1), **TINY_VIT)


def _teacher(size=8, classifier_activation="softmax"):
    return keras_nn.create_model(
        "simple_cnn", num_classes=4, input_shape=(size, size, 1), filters=[4, 8], dense_units=8,
        classifier_activation=classifier_activation,
    )


def test_a_training_step_lowers_the_loss_and_leaves_the_teacher_alone():
    keras.utils.set_random_seed(1)
    student, teacher = _student(), _teacher()
    distiller = Distiller(student, teacher, DistillationLoss("soft", temperature=2.0, alpha=0.5))
    teacher_before = [w.copy() for w in teacher.get_weights()]  # BN statistics included
    assert not teacher.trainable and len(distiller.trainable_variables) == len(student.trainable_variables)
    compile_with_built_optimizer(distiller, optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    before = inference_loss(distiller, IMAGES, LABELS)
    for _ in range(8):
        logs = distiller.train_on_batch(IMAGES, LABELS, return_dict=True)
    after = inference_loss(distiller, IMAGES, LABELS)
    assert np.isfinite(after) and after < before, (before, after)
    assert set(logs) == {"loss", "label_loss", "distillation_loss", "accuracy"}
    assert logs["loss"] == pytest.approx(logs["label_loss"] + logs["distillation_loss"], rel=1e-5)
    for ours, theirs in zip(teacher.get_weights(), teacher_before, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_teacher_inputs_are_resized_and_probabilities_become_logits():
    student, teacher = _student(distilled=False), _teacher(size=8)
    distiller = Distiller(student, teacher, DistillationLoss("hard"))
    assert distiller.teacher_size == (8, 8) and distiller.teacher_probabilities
    class_logits, distillation_logits, teacher_logits = (np.asarray(v) for v in distiller(IMAGES))
    # A one-head ViT gives its single head as both heads.
    np.testing.assert_array_equal(class_logits, distillation_logits)
    np.testing.assert_allclose(class_logits, np.asarray(student.head_logits(IMAGES)[0]), atol=1e-6)
    resized = keras.ops.image.resize(IMAGES, (8, 8))
    probabilities = np.asarray(teacher(resized, training=False))
    np.testing.assert_allclose(teacher_logits, np.log(probabilities), atol=1e-5)
    # Logits of the same teacher: the same softmax at every temperature, hence the same KL and argmax.
    logits_teacher = _teacher(size=8, classifier_activation=None)
    logits_teacher.set_weights(teacher.get_weights())
    direct = Distiller(student, logits_teacher, DistillationLoss("hard"))
    assert not direct.teacher_probabilities
    raw = np.asarray(direct.teacher_logits(IMAGES))
    np.testing.assert_allclose(raw, np.asarray(logits_teacher(resized)), atol=1e-6)
    for tau in (1.0, 3.0):
        np.testing.assert_allclose(keras.ops.softmax(raw / tau), keras.ops.softmax(teacher_logits / tau), atol=1e-5)
    # Keras models without keras-nn's attribute: the last layer tells.
    inputs = keras.Input((3,))
    assert gives_probabilities(keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs)))
    assert not gives_probabilities(keras.Model(inputs, keras.layers.Dense(2)(inputs)))


def test_accuracy_is_the_students_own_prediction_and_the_config_round_trips():
    student, teacher = _student(), _teacher(size=16)
    distiller = Distiller(student, teacher, DistillationLoss("hard"))
    assert distiller.teacher_size is None
    distiller.compile(optimizer="adam", jit_compile=False)
    values = distiller.evaluate(IMAGES, LABELS, verbose=0, return_dict=True)
    # The distilled student's output is the mean of its heads; the Distiller scores exactly that.
    predicted = np.asarray(student.predict(IMAGES, verbose=0)).argmax(-1)
    assert values["accuracy"] == pytest.approx(accuracy_score(LABELS, predicted))
    clone = Distiller.from_config(distiller.get_config())
    assert isinstance(clone.student, VisionTransformer) and clone.student.distilled
    assert clone.distillation_loss.get_config() == distiller.distillation_loss.get_config()
    clone.set_weights(distiller.get_weights())
    for ours, theirs in zip(clone(IMAGES), distiller(IMAGES), strict=True):
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), atol=1e-6)
