import keras
import numpy as np
import pytest
import tensorflow as tf
from testing_utils import check_serialization

import keras_nn
from keras_nn.errors import ConfigError
from keras_nn.losses import NTXent
from keras_nn.models import ResNet, SimCLR

BACKBONE = {"filters": [4, 4, 8], "stem_filters": 4, "blocks": [1, 1, 1]}
RNG = np.random.default_rng(0)
IMAGES = RNG.random((8, 16, 16, 1)).astype("float32")
# Two "views": the images and a slightly noisy copy (the augmentation has its own tests).
VIEW2 = np.clip(IMAGES + 0.05 * RNG.normal(size=IMAGES.shape), 0, 1).astype("float32")


def _tiny(**overrides):
    arguments = dict(
        backbone="resnet20_cifar", input_shape=(16, 16, 1), projection_dim=6, backbone_arguments=BACKBONE
    )
    return keras_nn.create_model("simclr", **{**arguments, **overrides})


def _numpy_scores(model, view1, view2, temperature):
    """NT-Xent and the contrastive top-1 accuracy of the model's inference-mode projections, in numpy."""
    z = np.concatenate([keras.ops.convert_to_numpy(model.projections(view, training=False)) for view in (view1, view2)])
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    logits = z @ z.T / temperature
    np.fill_diagonal(logits, -np.inf)
    count = len(view1)
    positives = np.concatenate([np.arange(count) + count, np.arange(count)])
    log_probabilities = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    loss = -log_probabilities[np.arange(2 * count), positives].mean()
    return loss, float((logits.argmax(axis=1) == positives).mean())


def test_the_encoder_is_the_backbone_feature_extractor():
    model = _tiny()
    encoder = model.encoder_model()
    assert isinstance(encoder, ResNet) and encoder.get_config()["include_top"] is False
    assert encoder.get_config()["pooling"] == "avg" and model.feature_dim == 8
    # The registry's resnet20_cifar feature extractor with the encoder's weights gives the model's output.
    reference = keras_nn.create_model(
        "resnet20_cifar", input_shape=(16, 16, 1), include_top=False, pooling="avg", **BACKBONE
    )
    reference.set_weights(encoder.get_weights())
    features = keras.ops.convert_to_numpy(model(IMAGES))
    assert features.shape == (8, 8)
    np.testing.assert_allclose(features, reference.predict(IMAGES, verbose=0), atol=1e-6)
    assert keras.ops.convert_to_numpy(model.projections(IMAGES)).shape == (8, 6)


def test_projection_head_layout_and_parameter_count():
    # Dense(8 -> 16, no bias) + BN(16) + ReLU, Dense(16 -> 16, no bias) + BN(16) + ReLU, Dense(16 -> 6).
    model = _tiny(projection_hidden=16, projection_layers=3)
    dense = [layer for layer in model.projection_head.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [16, 16, 6]
    assert model.projection_head.count_params() == 8 * 16 + 4 * 16 + 16 * 16 + 4 * 16 + 16 * 6 + 6
    # The default hidden width is the feature width (the paper's g).
    assert _tiny().projection_head.layers[0].units == 8


def test_serialization_round_trip_keeps_the_head_and_the_loss():
    model = _tiny()
    model.compile(optimizer="adam", loss=NTXent(0.2))
    model.optimizer.build(model.trainable_variables)  # a trained model's optimizer has its state
    reloaded = check_serialization(model, IMAGES)
    assert isinstance(reloaded.loss, NTXent) and reloaded.loss.temperature == 0.2
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded.projections(IMAGES)), keras.ops.convert_to_numpy(model.projections(IMAGES)),
        atol=1e-6,
    )


def test_training_lowers_the_loss_and_logs_what_numpy_computes():
    keras.utils.set_random_seed(0)
    model = _tiny()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=NTXent(0.5))
    logged = model.evaluate(IMAGES, VIEW2, batch_size=8, return_dict=True, verbose=0)
    loss, accuracy = _numpy_scores(model, IMAGES, VIEW2, 0.5)
    assert logged["loss"] == pytest.approx(loss, rel=1e-4)
    assert logged["contrastive_accuracy"] == pytest.approx(accuracy)
    head_before = [w.copy() for w in model.projection_head.get_weights()]
    encoder_before = [w.copy() for w in model.encoder.get_weights()]
    for _ in range(8):
        model.train_on_batch(IMAGES, VIEW2)
    after, _ = _numpy_scores(model, IMAGES, VIEW2, 0.5)
    assert after < loss - 0.05
    assert not all(np.array_equal(a, b) for a, b in zip(head_before, model.projection_head.get_weights(), strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(encoder_before, model.encoder.get_weights(), strict=True))


def test_fit_under_a_mirrored_strategy():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        model = _tiny()
        model.compile(optimizer="adam", loss=NTXent())
    pairs = tf.data.Dataset.from_tensor_slices((IMAGES, VIEW2)).batch(4)
    history = model.fit(pairs, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "contrastive_accuracy"}
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("loss", [None, "mse"])
def test_compile_needs_a_contrastive_loss(loss):
    with pytest.raises(ConfigError, match=r"compile it with loss=keras_nn.losses.NTXent\(temperature=0.5\)"):
        _tiny().compile(optimizer="adam", loss=loss)


@pytest.mark.parametrize(
    "arguments, words",
    [
        ({"backbone": "simple_cnn"}, "no feature-extractor form"),
        ({"backbone_arguments": {"colour": 1}}, "does not take backbone_arguments colour"),
        ({"backbone_arguments": [1]}, "must be a dict"),
        ({"projection_dim": 0}, "projection_dim"),
    ],
)
def test_bad_arguments_are_refused(arguments, words):
    with pytest.raises(ConfigError, match=words):
        _tiny(**arguments)


def test_class_is_exported():
    assert keras_nn.models.SimCLR is SimCLR and "simclr" in keras_nn.list_models()
