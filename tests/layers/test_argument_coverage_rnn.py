"""keras-nn's recurrent layers take what their `keras.layers` counterparts take, and load their configs.

For SimpleRNN/LSTM/GRU, their cells and Bidirectional, every parameter of the Keras `__init__` and `call` exists
in ours with the same default, in the same positional order; a Keras release that adds one fails
`test_init_covers_keras` until it is implemented here (or listed in `MISSING` with its reason). keras-nn's own
parameters are listed in `EXTRAS` with their reason, and each class's docstring names them.

What the Keras tests check is the reference for the rest (keras/src/layers/rnn/*_test.py): `gru_test.
test_legacy_implementation_argument` (a config carrying the legacy `implementation` key loads, same outputs),
`lstm_test.test_correctness` / `gru_test.test_correctness` (parametrized over `implementation` 1 and 2, the same
numbers), `bidirectional_test.test_keeps_use_cudnn`.
"""

import inspect
import warnings

import keras
import numpy as np
import pytest
from layers.rnn.recurrent_testing import SEQUENCES, max_difference, randomize

from keras_nn import layers
from keras_nn.errors import ConfigError, ShapeError

PAIRS = {
    "SimpleRNN": (layers.SimpleRNN, keras.layers.SimpleRNN),
    "LSTM": (layers.LSTM, keras.layers.LSTM),
    "GRU": (layers.GRU, keras.layers.GRU),
    "SimpleRNNCell": (layers.SimpleRNNCell, keras.layers.SimpleRNNCell),
    "LSTMCell": (layers.LSTMCell, keras.layers.LSTMCell),
    "GRUCell": (layers.GRUCell, keras.layers.GRUCell),
    "Bidirectional": (layers.Bidirectional, keras.layers.Bidirectional),
}
SEQUENCE_LAYERS = ("SimpleRNN", "LSTM", "GRU")

_ZERO_OUTPUT = "Keras's RNN base reads it from **kwargs and keeps it in every config; named here"
_LEARNABLE = "keras-nn's own: trainable initial states (Keras starts from zeros or a given initial_state)"
_IMPLEMENTATION = "Keras reads it from **kwargs (legacy, still in saved configs); named here, same meaning"
# Parameters of ours that the Keras counterpart's signature lacks, each with its reason.
EXTRAS = {
    "SimpleRNN": {"zero_output_for_mask": _ZERO_OUTPUT, "learnable_initial_state": _LEARNABLE},
    "LSTM": {
        "zero_output_for_mask": _ZERO_OUTPUT,
        "learnable_initial_state": _LEARNABLE,
        "implementation": _IMPLEMENTATION,
    },
    "GRU": {
        "zero_output_for_mask": _ZERO_OUTPUT,
        "learnable_initial_state": _LEARNABLE,
        "implementation": _IMPLEMENTATION,
    },
    "LSTMCell": {"implementation": _IMPLEMENTATION},
    "GRUCell": {"implementation": _IMPLEMENTATION},
}
# Keras parameters that ours deliberately lacks, each with its reason: none today.
MISSING = {}


def _parameters(function):
    return {
        name: parameter
        for name, parameter in inspect.signature(function).parameters.items()
        if name != "self" and parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)
    }


@pytest.mark.parametrize("name", sorted(PAIRS))
@pytest.mark.parametrize("method", ["__init__", "call"])
def test_signature_covers_keras(name, method):
    """Every Keras parameter is ours too, same default, same position; ours adds only the listed extras."""
    ours_class, keras_class = PAIRS[name]
    ours = _parameters(getattr(ours_class, method))
    reference = _parameters(getattr(keras_class, method))
    missing = MISSING.get(name, {}) if method == "__init__" else {}
    expected = [key for key in reference if key not in missing]
    assert list(ours)[: len(expected)] == expected, f"{name}.{method}: Keras's parameters, in Keras's order"
    for key in expected:
        assert ours[key].default == reference[key].default, f"{name}.{method}({key}=...)"
        assert ours[key].kind == reference[key].kind, f"{name}.{method}({key}=...)"
    extras = set(ours) - set(reference)
    assert extras == set(EXTRAS.get(name, {}) if method == "__init__" else {}), f"{name}.{method}"


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_differences_are_documented(name):
    """The class docstring names each extra parameter in its Args and says how it differs from Keras."""
    ours_class, _ = PAIRS[name]
    doc = inspect.getdoc(ours_class)
    for key in EXTRAS.get(name, {}):
        assert f"\n    {key}: " in doc or f"\n{key}: " in doc.replace("    ", ""), (name, key)
    if EXTRAS.get(name) and not name.endswith("Cell"):
        assert f"Differences from `keras.layers.{name}`" in doc
    elif EXTRAS.get(name):
        assert f"Differs from `keras.layers.{name}`" in doc


# --- Keras configs load ------------------------------------------------------------------------------------------

# Non-default arguments, so a config key that loaded but was ignored shows in the outputs or in the config.
CONFIG_ARGUMENTS = {
    "SimpleRNN": {"activation": "relu", "return_sequences": True, "go_backwards": True, "dropout": 0.1},
    "LSTM": {"recurrent_activation": "hard_sigmoid", "unit_forget_bias": False, "return_sequences": True},
    "GRU": {"reset_after": False, "go_backwards": True, "use_bias": False, "recurrent_dropout": 0.2},
    "SimpleRNNCell": {"activation": "relu", "use_bias": False},
    "LSTMCell": {"recurrent_activation": "relu", "dropout": 0.3},
    "GRUCell": {"reset_after": False, "seed": 3},
}


def _outputs(layer, inputs, states):
    return layer(inputs, states) if isinstance(states, list) else layer(inputs)


@pytest.mark.parametrize("name", sorted(CONFIG_ARGUMENTS))
def test_keras_config_loads_with_the_same_outputs(name):
    ours_class, keras_class = PAIRS[name]
    reference = keras_class(5, **CONFIG_ARGUMENTS[name])
    config = reference.get_config()
    ours = ours_class.from_config(config)
    # Every key of the Keras config is in ours with the same value (ours may add keys, such as `seed`).
    ours_config = ours.get_config()
    for key, value in config.items():
        if key != "name":
            assert ours_config[key] == value, (name, key)
    if name.endswith("Cell"):
        inputs, states = SEQUENCES[:, 0], [np.ones((3, 5), "float32") * 0.3] * len(ours.state_sizes)
        shape = inputs.shape
    else:
        inputs, states, shape = SEQUENCES, None, SEQUENCES.shape
    reference.build(shape)
    ours.build(shape)
    randomize(reference, np.random.default_rng(11))
    ours.set_weights(reference.get_weights())
    assert max_difference(_outputs(reference, inputs, states), _outputs(ours, inputs, states)) < 1e-6


def test_keras_bidirectional_config_loads():
    reference = keras.layers.Bidirectional(keras.layers.GRU(5, return_sequences=True), merge_mode="sum")
    ours = layers.Bidirectional.from_config(reference.get_config())
    reference.build(SEQUENCES.shape)
    ours.build(SEQUENCES.shape)
    randomize(reference, np.random.default_rng(12))
    ours.set_weights(reference.get_weights())
    assert ours.merge_mode == "sum"
    assert max_difference(reference(SEQUENCES), ours(SEQUENCES)) < 1e-6


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_legacy_implementation_key_loads(name):
    """As `gru_test.test_legacy_implementation_argument`: `implementation: 0` (Keras 1) in a saved config
    loads, and the output is the one that Keras's test expects (GRU) / Keras's layer gives (both)."""
    ours_class, keras_class = PAIRS[name]
    constants = {
        "kernel_initializer": keras.initializers.Constant(0.01),
        "recurrent_initializer": keras.initializers.Constant(0.02),
        "bias_initializer": keras.initializers.Constant(0.03),
    }
    sequence = np.arange(72).reshape((3, 6, 4)).astype("float32")
    config = {**keras_class(3, **constants).get_config(), "implementation": 0}
    ours = ours_class.from_config(config)
    reference = keras_class.from_config(config)
    assert max_difference(reference(sequence), ours(sequence)) < 1e-6
    if name == "GRU":
        expected = np.array([[0.5217289] * 3, [0.6371659] * 3, [0.39384964] * 3])
        np.testing.assert_allclose(keras.ops.convert_to_numpy(ours(sequence)), expected, atol=1e-5)


# --- implementation ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, extra",
    [("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False})],
    ids=["lstm", "gru", "gru_reset_before"],
)
def test_implementation_draws_keras_dropout_masks(name, extra):
    """With the same seed, training outputs equal Keras's for `implementation` 1 (a mask per gate) and 2 (one
    mask), with input dropout and with recurrent dropout (which makes it 1): the masks are drawn as Keras draws
    them. The Keras reference runs with `use_cudnn=False`: its cuDNN-eligible path fails on `implementation=1`
    with dropout (Keras 3.15 broadcasts the per-gate mask list)."""
    ours_class, keras_class = PAIRS[name]
    outputs = {}
    for implementation in (1, 2):
        for recurrent_dropout in (0.0, 0.4):
            kwargs = {
                "dropout": 0.3,
                "recurrent_dropout": recurrent_dropout,
                "seed": 7,
                "implementation": implementation,
                "return_sequences": True,
                **extra,
            }
            reference = keras_class(5, use_cudnn=False, **kwargs)
            ours = ours_class(5, **kwargs)
            reference.build(SEQUENCES.shape)
            ours.build(SEQUENCES.shape)
            randomize(reference, np.random.default_rng(13))
            ours.set_weights(reference.get_weights())
            assert (
                ours.implementation
                == reference.cell.implementation
                == (1 if recurrent_dropout else implementation)
            )
            expected = reference(SEQUENCES, training=True)
            actual = ours(SEQUENCES, training=True)
            assert max_difference(expected, actual) < 1e-5, (implementation, recurrent_dropout)
            outputs[implementation, recurrent_dropout] = actual
    # The per-gate masks are not the shared mask: implementation changes the training outputs.
    assert max_difference(outputs[1, 0.0], outputs[2, 0.0]) > 1e-2


def test_implementation_without_dropout_changes_nothing():
    """As `lstm_test.test_correctness`, parametrized over implementation: the same numbers for 1 and 2."""
    ours = {i: layers.LSTM(4, implementation=i, return_sequences=True) for i in (1, 2)}
    ours[1].build(SEQUENCES.shape)
    ours[2].build(SEQUENCES.shape)
    ours[2].set_weights(ours[1].get_weights())
    assert max_difference(ours[1](SEQUENCES), ours[2](SEQUENCES)) == 0.0


def test_bad_implementation_and_use_cudnn_are_config_errors():
    with pytest.raises(ConfigError, match="implementation=3"):
        layers.GRU(3, implementation=3)
    with pytest.raises(ConfigError, match="implementation=True"):
        layers.LSTMCell(3, implementation=True)
    with pytest.raises(ConfigError, match="use_cudnn='yes'"):
        layers.LSTM(3, use_cudnn="yes")
    with pytest.raises(ConfigError, match="use_cudnn=1"):
        layers.GRU(3, use_cudnn=1)
    for library in (keras.layers, layers):  # SimpleRNN has no cuDNN switch: an unknown keyword, as in Keras
        with pytest.raises(ValueError, match="use_cudnn"):
            library.SimpleRNN(3, use_cudnn=False)


# --- use_cudnn ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_use_cudnn_round_trips_and_runs_the_generic_loop(name):
    """Accepted and kept (config, Bidirectional copies, as `bidirectional_test.test_keeps_use_cudnn`), with the
    same outputs for every value; True warns that keras-nn has no cuDNN kernel."""
    ours_class, _ = PAIRS[name]
    base = ours_class(4, return_sequences=True)
    base.build(SEQUENCES.shape)
    for use_cudnn in ("auto", True, False):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            layer = ours_class(4, return_sequences=True, use_cudnn=use_cudnn)
        assert any("no cuDNN kernel" in str(w.message) for w in caught) == (use_cudnn is True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = ours_class.from_config(layer.get_config())
            wrapped = layers.Bidirectional(layer)
            rewrapped = layers.Bidirectional.from_config(wrapped.get_config())
        assert (layer.use_cudnn, loaded.use_cudnn) == (use_cudnn, use_cudnn)
        assert type(loaded.use_cudnn) is type(use_cudnn)  # True stays True, not 1
        for direction in (rewrapped.forward_layer, rewrapped.backward_layer):
            assert direction.use_cudnn == use_cudnn
        loaded.build(SEQUENCES.shape)
        loaded.set_weights(base.get_weights())
        assert max_difference(base(SEQUENCES), loaded(SEQUENCES)) == 0.0
    assert not hasattr(layers.SimpleRNN(3), "use_cudnn")


# --- layer-level properties --------------------------------------------------------------------------------------


def _keras_properties(keras_class):
    return sorted(
        key
        for klass in keras_class.__mro__
        if klass.__module__.startswith("keras.src.layers.rnn")
        for key, value in vars(klass).items()
        if isinstance(value, property) and not key.startswith("_")
    )


def _comparable(value):
    if callable(value) and hasattr(value, "get_config"):
        return keras.saving.serialize_keras_object(value)
    if callable(value):
        return keras.activations.serialize(value)
    return value


@pytest.mark.parametrize("name", SEQUENCE_LAYERS)
def test_layer_properties_match_keras(name):
    """The read-only properties the Keras layer exposes (its cell's arguments) exist on ours, same values."""
    ours_class, keras_class = PAIRS[name]
    kwargs = {
        "activation": "relu",
        "use_bias": False,
        "kernel_initializer": "he_normal",
        "kernel_regularizer": "l2",
        "recurrent_constraint": "non_neg",
        "dropout": 0.25,
        "recurrent_dropout": 0.125,
    }
    if name != "SimpleRNN":
        kwargs["recurrent_activation"] = "hard_sigmoid"
    if name == "LSTM":
        kwargs["unit_forget_bias"] = False
    if name == "GRU":
        kwargs["reset_after"] = False
    ours, reference = ours_class(3, **kwargs), keras_class(3, **kwargs)
    properties = _keras_properties(keras_class)
    assert {"units", "activation", "dropout", "recurrent_dropout", "kernel_initializer"} <= set(properties)
    for key in properties:
        assert _comparable(getattr(ours, key)) == _comparable(getattr(reference, key)), (name, key)
        assert getattr(ours, key) is getattr(ours.cell, key), (name, key)
    with pytest.raises(AttributeError):
        ours.dropout = 0.5  # read-only, as in Keras


# --- Bidirectional(weights=...) ----------------------------------------------------------------------------------


def test_bidirectional_weights_are_set_at_build():
    reference = keras.layers.Bidirectional(keras.layers.LSTM(5, return_sequences=True))
    reference.build(SEQUENCES.shape)
    randomize(reference, np.random.default_rng(14))
    weights = reference.get_weights()
    for inner in (layers.LSTM(5, return_sequences=True), keras.layers.LSTM(5, return_sequences=True)):
        ours = layers.Bidirectional(inner, weights=weights)
        assert max_difference(reference(SEQUENCES), ours(SEQUENCES)) < 1e-6
    with pytest.raises(ShapeError, match="weights has 3 arrays"):
        layers.Bidirectional(layers.LSTM(5), weights=weights[:3])(SEQUENCES)


def test_keras_bidirectional_ignores_weights():
    """Pins the difference documented on `Bidirectional`: Keras 3 stores `weights` as `initial_weights`, which
    nothing reads. If a Keras release applies them, this fails: then drop the note from the docstring."""
    reference = keras.layers.Bidirectional(keras.layers.GRU(5))
    reference.build(SEQUENCES.shape)
    randomize(reference, np.random.default_rng(15))
    keras_with_weights = keras.layers.Bidirectional(keras.layers.GRU(5), weights=reference.get_weights())
    keras_with_weights.build(SEQUENCES.shape)
    assert max_difference(reference(SEQUENCES), keras_with_weights(SEQUENCES)) > 1e-3


# --- learnable_initial_state -------------------------------------------------------------------------------------


def test_learnable_initial_state_is_a_broadcast_initial_state():
    """keras-nn's extra: the learned states, listed first in `get_weights()`, act as Keras's `initial_state`
    broadcast over the batch; off (the default), the layer is Keras's."""
    reference = keras.layers.LSTM(5, return_sequences=True)
    reference.build(SEQUENCES.shape)
    randomize(reference, np.random.default_rng(16))
    ours = layers.LSTM(5, return_sequences=True, learnable_initial_state=True)
    ours.build(SEQUENCES.shape)
    h, c = np.random.default_rng(17).normal(size=(2, 5)).astype("float32")
    ours.set_weights([h, c, *reference.get_weights()])
    assert [w.name for w in ours.weights][:2] == ["initial_h", "initial_c"]
    states = [np.broadcast_to(h, (3, 5)), np.broadcast_to(c, (3, 5))]
    assert max_difference(reference(SEQUENCES, initial_state=states), ours(SEQUENCES)) < 1e-6
