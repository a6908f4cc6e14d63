import keras
import numpy as np
import pytest
from testing_utils import run_model_test

import keras_nn
from keras_nn.errors import ConfigError, ShapeError
from keras_nn.models import DeepBeliefNetwork

RNG = np.random.default_rng(0)
IMAGES = RNG.random((6, 8, 8, 1), dtype="float32")


def tiny(**overrides):
    return keras_nn.create_model(
        "dbn", **{"num_classes": 3, "input_shape": (8, 8, 1), "hidden_units": [12, 6], **overrides}
    )


def test_shared_model_checks():
    run_model_test(tiny, IMAGES, expected_output_shape=(6, 3))


def test_standard_configuration_parameter_count():
    # Hinton, Osindero & Teh 2006: 784-500-500-2000 then 10 classes; weights and biases of each layer.
    model = keras_nn.create_model("dbn")
    assert model.count_params() == (784 * 500 + 500) + (500 * 500 + 500) + (500 * 2000 + 2000) + (2000 * 10 + 10)
    assert model.count_params() == 1_665_010


def test_pretraining_machines_chain_the_layer_sizes():
    machines = tiny().pretraining_machines(seed=3, persistent=True, persistent_chains=4)
    assert [tuple(machine.rbm.kernel.shape) for machine in machines] == [(64, 12), (12, 6)]
    assert [machine.rbm.visible_type for machine in machines] == ["bernoulli", "bernoulli"]
    assert all(machine.persistent for machine in machines)


def test_unrolled_classifier_starts_from_the_rbm_weights_exactly():
    model = tiny()
    machines = model.pretraining_machines(seed=0)
    for machine in machines:  # weights other than the initial ones, so a copy cannot pass by accident
        machine.rbm.kernel.assign(RNG.normal(size=machine.rbm.kernel.shape).astype("float32"))
        machine.rbm.hidden_bias.assign(RNG.normal(size=machine.rbm.hidden_bias.shape).astype("float32"))
    model.load_pretrained(machines)
    for layer, machine in zip(model.hidden_layers, machines, strict=True):
        np.testing.assert_array_equal(layer.kernel.numpy(), machine.rbm.kernel.numpy())
        np.testing.assert_array_equal(layer.bias.numpy(), machine.rbm.hidden_bias.numpy())
    # The unrolled net's hidden layers compute each RBM's p(h = 1 | v), one on top of the other.
    features = IMAGES.reshape(6, -1)
    for machine in machines:
        features = 1.0 / (1.0 + np.exp(-(features @ machine.rbm.kernel.numpy() + machine.rbm.hidden_bias.numpy())))
    hidden = keras.Model(model.inputs[0], model.hidden_layers[-1].output)
    np.testing.assert_allclose(hidden.predict(IMAGES, verbose=0), features, rtol=1e-5, atol=1e-6)


def test_pretrained_rbms_of_other_sizes_are_refused():
    model = tiny()
    other = tiny(hidden_units=[12, 7]).pretraining_machines()
    with pytest.raises(ShapeError, match=r"dbn: the pretrained RBMs have weights \[\(64, 12\), \(12, 7\)\], this model needs \[\(64, 12\), \(12, 6\)\]"):
        model.load_pretrained(other)


@pytest.mark.parametrize("hidden_units", [[], 5, [8, 0], [8, "4"]])
def test_bad_layer_sizes(hidden_units):
    with pytest.raises(ConfigError, match="dbn: hidden_units="):
        DeepBeliefNetwork(num_classes=3, input_shape=(8, 8, 1), hidden_units=hidden_units)
