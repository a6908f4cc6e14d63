import numpy as np
import pytest

import keras_nn
from keras_nn.config.schema import validate_section
from keras_nn.errors import ConfigError
from keras_nn.training import pretrain_greedily
from keras_nn.training.pretraining import PRETRAIN_OPTIONS, machine_options

RNG = np.random.default_rng(0)
# Synthetic binary data with structure: two prototypes, each pixel flipped with probability 0.05.
PROTOTYPES = RNG.random((2, 16)) < 0.5
IMAGES = np.where(RNG.random((200, 16)) < 0.05, ~PROTOTYPES[RNG.integers(0, 2, 200)], PROTOTYPES[RNG.integers(0, 2, 200)])


def test_each_rbm_learns_from_the_hidden_probabilities_of_the_one_below():
    images = IMAGES.astype("float32")
    model = keras_nn.create_model("deep_autoencoder", input_shape=(16,), hidden_units=[8], code_units=3)
    machines = model.pretraining_machines(seed=0)
    summary = pretrain_greedily(machines, images, epochs=4, batch_size=20, learning_rate=0.1, gaussian_learning_rate=0.01)
    assert [(layer["visible"], layer["hidden"], layer["learning_rate"]) for layer in summary] == [(16, 8, 0.1), (8, 3, 0.01)]
    for layer in summary:
        errors = layer["history"]["reconstruction_error"]
        assert errors[-1] < errors[0], layer
    # The second RBM's data is the first one's p(h = 1 | v): evaluated on exactly those features its reconstruction
    # error is the one its training reached, and far below its error on the raw 16-pixel inputs' first 8 pixels.
    features = machines[0].predict(images, verbose=0)
    machines[1].compile()
    on_features = machines[1].evaluate(features, verbose=0, return_dict=True)["reconstruction_error"]
    on_pixels = machines[1].evaluate(images[:, :8], verbose=0, return_dict=True)["reconstruction_error"]
    assert on_features == pytest.approx(summary[1]["history"]["reconstruction_error"][-1], rel=0.3)
    assert on_features < on_pixels


def test_options_reach_the_rbms():
    options = validate_section({"persistent": True, "cd_steps": 3, "batch_size": 7, "weight_decay": 0.001}, PRETRAIN_OPTIONS)
    machines = keras_nn.create_model("dbn", input_shape=(16,), hidden_units=[8, 4], num_classes=2).pretraining_machines(
        seed=0, **machine_options(options)
    )
    for machine in machines:
        assert (machine.persistent, machine.cd_steps, machine.weight_decay) == (True, 3, 0.001)
        assert machine.fantasy_particles.shape[0] == 7


def test_bad_option_names_the_key():
    with pytest.raises(ConfigError, match="pretrain.momentum"):
        validate_section({"momentum": 1.5}, PRETRAIN_OPTIONS, "pretrain")


def test_rbms_whose_sizes_do_not_chain_are_refused():
    from keras_nn.errors import ShapeError

    first = keras_nn.create_model("rbm", input_shape=(16,), hidden_units=8)
    second = keras_nn.create_model("rbm", input_shape=(6,), hidden_units=3)
    with pytest.raises(ShapeError, match="RBM 2 has 6 visible units but RBM 1 has 8; the layer sizes of a stack must chain"):
        pretrain_greedily([first, second], IMAGES.astype("float32"), epochs=1)
    with pytest.raises(ShapeError, match="RBM 1 has 16 visible units but the inputs have 12"):
        pretrain_greedily([first], IMAGES[:, :12].astype("float32"), epochs=1)
