import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from testing_utils import run_model_test

import keras_nn
from keras_nn.errors import ShapeError
from keras_nn.training import pretrain_greedily

RNG = np.random.default_rng(0)
IMAGES = RNG.random((6, 8, 8, 1), dtype="float32")


def tiny(**overrides):
    return keras_nn.create_model(
        "deep_autoencoder", **{"input_shape": (8, 8, 1), "hidden_units": [12, 6], "code_units": 2, **overrides}
    )


def test_shared_model_checks():
    run_model_test(tiny, IMAGES, expected_output_shape=(6, 8, 8, 1), targets=IMAGES, loss="binary_crossentropy")


def test_standard_configuration_parameter_count():
    # Hinton & Salakhutdinov 2006: encoder 784-1000-500-250-30, decoder its mirror, a bias per unit.
    weights = 784 * 1000 + 1000 * 500 + 500 * 250 + 250 * 30
    biases = (1000 + 500 + 250 + 30) + (250 + 500 + 1000 + 784)
    assert keras_nn.create_model("deep_autoencoder").count_params() == 2 * weights + biases == 2_837_314


def test_unrolling_ties_the_decoder_to_the_encoder():
    model = tiny()
    machines = model.pretraining_machines(seed=0)
    assert [machine.rbm.hidden_type for machine in machines] == ["bernoulli", "bernoulli", "gaussian"]
    for machine in machines:
        for variable in (machine.rbm.kernel, machine.rbm.visible_bias, machine.rbm.hidden_bias):
            variable.assign(RNG.normal(size=variable.shape).astype("float32"))
    model.load_pretrained(machines)
    for encoder, decoder, machine in zip(model.encoder_layers, model.decoder_layers, machines, strict=True):
        np.testing.assert_array_equal(encoder.kernel.numpy(), machine.rbm.kernel.numpy())
        np.testing.assert_array_equal(encoder.bias.numpy(), machine.rbm.hidden_bias.numpy())
        np.testing.assert_array_equal(decoder.kernel.numpy(), machine.rbm.kernel.numpy().T)
        np.testing.assert_array_equal(decoder.bias.numpy(), machine.rbm.visible_bias.numpy())
    # Encoder then decoder is the whole model; the code layer is linear.
    codes = model.encoder_model().predict(IMAGES, verbose=0)
    np.testing.assert_allclose(model.decoder_model().predict(codes, verbose=0), model.predict(IMAGES, verbose=0), atol=1e-6)
    hidden = keras.Model(model.inputs[0], model.encoder_layers[-2].output).predict(IMAGES, verbose=0)
    code_layer = model.encoder_layers[-1]
    np.testing.assert_allclose(codes, hidden @ code_layer.kernel.numpy() + code_layer.bias.numpy(), rtol=1e-5, atol=1e-5)


def test_pretrained_rbms_of_other_sizes_are_refused():
    with pytest.raises(ShapeError, match="deep_autoencoder: the pretrained RBMs have weights"):
        tiny().load_pretrained(tiny(code_units=3).pretraining_machines())


@pytest.mark.slow  # trains to a target: pretraining and 30 epochs of fine-tuning
def test_beats_pca_at_the_same_code_size_on_test_digits():
    # Hinton & Salakhutdinov's claim at a 2-unit code, on scikit-learn's digits (grey levels as probabilities):
    # pretrained, unrolled and fine-tuned, the autoencoder reconstructs the test digits better than 2-component PCA.
    digits = load_digits()
    images = (digits.data / 16.0).astype("float32")
    order = np.random.default_rng(0).permutation(len(images))
    train, test = images[order[:1400]], images[order[1400:]]
    keras.utils.set_random_seed(0)
    model = keras_nn.create_model("deep_autoencoder", input_shape=(64,), hidden_units=[64, 32], code_units=2)
    machines = model.pretraining_machines(seed=0, weight_decay=2e-4)
    pretrain_greedily(machines, train, epochs=5, batch_size=20, learning_rate=0.05, gaussian_learning_rate=5e-4)
    model.load_pretrained(machines)
    model.compile(keras.optimizers.Adam(3e-3), "binary_crossentropy", steps_per_execution=22)
    model.fit(train, train, batch_size=64, epochs=30, verbose=0)
    ours = np.mean(np.sum(np.square(test - model.predict(test, verbose=0)), axis=1))
    pca = PCA(2).fit(train)
    theirs = np.mean(np.sum(np.square(test - pca.inverse_transform(pca.transform(test))), axis=1))
    assert ours < 0.9 * theirs, (ours, theirs)
