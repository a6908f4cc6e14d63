"""The `dcgan` model: the PyTorch DCGAN example's parameter counts, shapes, the two-phase training step (each phase
updates only its own network), the losses against hand-computed binary cross-entropy, conditioning, saving."""

import os
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from testing_utils import check_serialization, run_model_test

import keras_nn
from keras_nn.errors import ConfigError, ShapeError
from keras_nn.models import DCGAN, DCGANDiscriminator, DCGANGenerator

TINY = {"input_shape": (16, 16, 1), "latent_dim": 8, "base_filters": 8}


def trainable_count(model):
    return sum(int(np.prod(variable.shape)) for variable in model.trainable_variables)


def real_batch(count=16, seed=0):
    """Images in [-1, 1] with structure a discriminator can learn: a bright square on a dark ground."""
    images = np.full((count, 16, 16, 1), -0.9, "float32")
    images[:, 4:12, 4:12, :] = 0.9
    return images + np.random.default_rng(seed).normal(0, 0.05, images.shape).astype("float32")


def weights_of(network):
    return [keras.ops.convert_to_numpy(variable).copy() for variable in network.trainable_variables]


def test_standard_configuration_has_the_pytorch_dcgan_parameter_counts():
    # PyTorch DCGAN example (nz=100, ngf=ndf=64, nc=3): trainable parameters, batch norm's scale and shift only.
    model = keras_nn.create_model("dcgan")
    assert trainable_count(model.generator) == 3_576_704
    assert trainable_count(model.discriminator) == 2_765_568
    # Keras keeps batch norm's moving mean and variance as (non-trainable) weights; PyTorch as buffers.
    assert model.generator.count_params() - 3_576_704 == 2 * (512 + 256 + 128 + 64)
    assert model.discriminator.count_params() - 2_765_568 == 2 * (128 + 256 + 512)
    assert model.image_shape == (64, 64, 3) and model.latent_dim == 100 and model.num_classes is None
    assert model.generator.get_layer("reshape").output.shape[1:] == (4, 4, 512)


def test_generator_shared_checks():
    noise = np.random.default_rng(0).normal(size=(4, 8)).astype("float32")
    run_model_test(
        lambda: DCGANGenerator(image_shape=(16, 16, 1), latent_dim=8, base_filters=8, seed=0),
        noise,
        expected_output_shape=(4, 16, 16, 1),
        run_jit_compile_check=False,
    )


def test_shapes_ranges_and_non_square_images():
    model = DCGAN(input_shape=(16, 32, 3), latent_dim=8, base_filters=8, seed=0)
    # 16 = 4 * 2**2: two upsampling steps from 4x8.
    assert model.generator.get_layer("reshape").output.shape[1:] == (4, 8, 16)
    images = model.generate(5, seed=1)
    assert images.shape == (5, 16, 32, 3) and images.dtype == np.float32
    assert np.abs(images).max() <= 1.0 and images.std() > 0
    np.testing.assert_array_equal(images, model.generate(5, seed=1))
    noise = np.random.default_rng(1).standard_normal((5, 8)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(noise)), images, atol=1e-6)
    assert tuple(model.discriminator(images).shape) == (5, 1)
    batch_norms = [layer.name for layer in model.discriminator.layers if "bn" in layer.name]
    assert batch_norms == ["down2_bn"]  # none after the input convolution
    assert not any("bn" in layer.name for layer in model.generator.layers[-3:])  # none at the output


@pytest.mark.parametrize("shape", [(12, 12, 1), (4, 4, 1), (16, 20, 3), (16, 16)])
def test_rejects_image_sizes_the_upsampling_cannot_reach(shape):
    with pytest.raises(ShapeError, match=r"4 \* 2\*\*k|height, width, channels"):
        DCGAN(input_shape=shape, latent_dim=8, base_filters=8)


def test_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="label_smoothing"):
        DCGAN(**TINY, label_smoothing=1.0)
    with pytest.raises(ConfigError, match="num_classes"):
        DCGAN(**TINY, num_classes=1)
    model = DCGAN(**TINY, num_classes=3)
    with pytest.raises(ConfigError, match=r"label 3 is outside \[0, 3\)"):
        model.generate(2, labels=[0, 3])
    with pytest.raises(ShapeError, match="2 of them"):
        model.generate(2, labels=[0, 1, 2])
    with pytest.raises(ConfigError, match="not conditional"):
        DCGAN(**TINY).generate(2, labels=0)
    with pytest.raises(ConfigError, match="takes no loss"):
        DCGAN(**TINY).compile(loss="mse")


def test_losses_match_hand_computed_binary_cross_entropy():
    model = DCGAN(**TINY, label_smoothing=0.1)
    real = np.array([[2.0], [-1.0], [0.5]], "float32")
    fake = np.array([[-3.0], [0.25], [1.0]], "float32")

    def bce(target, logit):
        probability = 1.0 / (1.0 + np.exp(-logit.astype("float64")))
        return -(target * np.log(probability) + (1 - target) * np.log(1 - probability)).mean()

    d_loss = float(keras.ops.convert_to_numpy(model.discriminator_loss(real, fake)))
    g_loss = float(keras.ops.convert_to_numpy(model.generator_loss(fake)))
    np.testing.assert_allclose(d_loss, bce(0.9, real) + bce(0.0, fake), rtol=1e-5)
    np.testing.assert_allclose(g_loss, bce(1.0, fake), rtol=1e-5)


@pytest.mark.parametrize("phase", ["discriminator", "generator"])
def test_each_phase_updates_only_its_network_and_lowers_its_loss(phase):
    # The other network's learning rate is 0: its weights must not move, and the trained one's loss must fall.
    model = DCGAN(**TINY, seed=3)
    rates = {"discriminator": 0.0, "generator": 0.0, phase: 1e-2}
    model.compile(
        generator_optimizer=keras.optimizers.Adam(rates["generator"], beta_1=0.5),
        discriminator_optimizer=keras.optimizers.Adam(rates["discriminator"], beta_1=0.5),
    )
    trained = getattr(model, phase)
    frozen = model.generator if phase == "discriminator" else model.discriminator
    before_trained, before_frozen = weights_of(trained), weights_of(frozen)
    key = "d_loss" if phase == "discriminator" else "g_loss"
    images = real_batch()
    losses = [float(model.train_on_batch(images, return_dict=True)[key]) for _ in range(10)]
    for before, after in zip(before_frozen, weights_of(frozen), strict=True):
        np.testing.assert_array_equal(after, before)
    assert all(not np.array_equal(b, a) for b, a in zip(before_trained, weights_of(trained), strict=True))
    assert np.mean(losses[-3:]) < losses[0], losses
    # Each optimizer holds state for its own network's variables only.
    assert len(model.generator_optimizer._trainable_variables) == len(model.generator.trainable_variables)
    assert len(model.discriminator_optimizer._trainable_variables) == len(model.discriminator.trainable_variables)
    assert int(model.optimizer.iterations) == 10


def test_training_logs_and_accuracies():
    model = DCGAN(**TINY, seed=0)
    model.compile()
    logs = model.fit(real_batch(32), batch_size=16, epochs=2, verbose=0).history
    assert set(logs) == {"loss", "d_loss", "g_loss", "d_real_accuracy", "d_fake_accuracy"}
    assert logs["loss"] == logs["g_loss"]
    for key in ("d_real_accuracy", "d_fake_accuracy"):
        assert all(0.0 <= value <= 1.0 for value in logs[key])
    generator_weights = weights_of(model.generator)
    evaluation = model.evaluate(real_batch(16), verbose=0, return_dict=True)
    assert set(evaluation) == set(logs) and np.isfinite(list(evaluation.values())).all()
    for before, after in zip(generator_weights, weights_of(model.generator), strict=True):
        np.testing.assert_array_equal(after, before)


def test_conditional_networks_see_the_label():
    model = DCGAN(**TINY, num_classes=3, seed=0)
    assert [tensor.name for tensor in model.generator.inputs] == ["noise", "labels"]
    noise = np.random.default_rng(0).standard_normal((1, 8)).astype("float32").repeat(3, axis=0)
    images = keras.ops.convert_to_numpy(model((noise, np.arange(3, dtype="int32"))))
    # At initialization (weights N(0, 0.02), batch norm's moving statistics 0 and 1) outputs are small: compare
    # the change with their size.
    scale = np.abs(images).max()
    assert np.abs(images[0] - images[1]).max() > 0.05 * scale and np.abs(images[1] - images[2]).max() > 0.05 * scale
    same_image = real_batch(1).repeat(3, axis=0)
    logits = keras.ops.convert_to_numpy(model.discriminator((same_image, np.arange(3, dtype="int32"))))
    assert np.abs(logits[0] - logits[1]).max() > 0.05 * np.abs(logits).max()
    np.testing.assert_array_equal(model.generate(4, labels=2, seed=0), model.generate(4, labels=[2] * 4, seed=0))
    assert not np.array_equal(model.generate(4, labels=0, seed=0), model.generate(4, labels=1, seed=0))
    with pytest.raises(ShapeError, match="needs \\(images, labels\\)"):
        model.compile()
        model.train_on_batch(real_batch(4))
    model.compile()
    logs = model.train_on_batch(real_batch(6), np.array([0, 1, 2, 0, 1, 2]), return_dict=True)
    assert np.isfinite(list(logs.values())).all()


def test_networks_round_trip_through_keras_files():
    noise = np.random.default_rng(0).standard_normal((2, 8)).astype("float32")
    labels = np.array([0, 2], "int32")
    generator = DCGANGenerator(image_shape=(16, 16, 1), latent_dim=8, base_filters=8, num_classes=3, seed=0)
    check_serialization(generator, [noise, labels])
    discriminator = DCGANDiscriminator(input_shape=(16, 16, 1), base_filters=8, num_classes=3, seed=0)
    check_serialization(discriminator, [keras.ops.convert_to_numpy(generator([noise, labels])), labels])


def test_gan_round_trips_with_its_optimizers():
    model = DCGAN(**TINY, num_classes=3, label_smoothing=0.1, seed=0)
    model.compile(
        generator_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        discriminator_optimizer=keras.optimizers.SGD(1e-2, momentum=0.5),
    )
    model.train_on_batch(real_batch(6), np.array([0, 1, 2, 0, 1, 2]))
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "gan.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    assert type(reloaded) is DCGAN and reloaded.get_config() == model.get_config()
    for saved, loaded in zip(model.get_weights(), reloaded.get_weights(), strict=True):
        np.testing.assert_array_equal(loaded, saved)
    np.testing.assert_array_equal(reloaded.generate(3, labels=1, seed=5), model.generate(3, labels=1, seed=5))
    assert isinstance(reloaded.discriminator_optimizer, keras.optimizers.SGD)
    assert float(reloaded.generator_optimizer.learning_rate) == pytest.approx(1e-3)
    for saved, loaded in zip(model.discriminator_optimizer.variables, reloaded.discriminator_optimizer.variables,
                             strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded), keras.ops.convert_to_numpy(saved))


def test_mirrored_strategy_over_one_device_gives_the_one_device_step():
    def one_step():
        model = DCGAN(**TINY, seed=7)
        model.compile()
        logs = model.train_on_batch(real_batch(8), return_dict=True)
        return logs, model.get_weights()

    plain_logs, plain_weights = one_step()
    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        mirrored_logs, mirrored_weights = one_step()
    for key, value in plain_logs.items():
        np.testing.assert_allclose(mirrored_logs[key], value, rtol=1e-5, err_msg=key)
    for plain, mirrored in zip(plain_weights, mirrored_weights, strict=True):
        np.testing.assert_allclose(mirrored, plain, rtol=1e-5, atol=1e-6)
