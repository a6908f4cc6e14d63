import copy
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.models.functional import Functional
from testing_utils import run_layer_test

from keras_nn import layers
from keras_nn.errors import ConfigError, ShapeError

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _functional_from_config_keeps_its_argument(monkeypatch):
    """`keras.Model.from_config` empties the config dict it is given, so the shared check
    `rebuilt.get_config() == config` in tests/testing_utils.py fails for every layer (keras.layers.Dense too).
    Until testing_utils passes a copy, hand Functional.from_config one here (as tests/layers/test_conv_blocks.py)."""
    original = Functional.from_config.__func__

    def from_config(cls, config, custom_objects=None):
        return original(cls, copy.deepcopy(config), custom_objects=custom_objects)

    monkeypatch.setattr(Functional, "from_config", classmethod(from_config))

SEQUENCES = RNG.normal(size=(3, 6, 4)).astype("float32")
# Right padding, left padding and holes in the middle: every way a masked step can meet the loop.
MASK = np.array([[1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [1, 0, 1, 1, 0, 1]], dtype=bool)

# (our class, Keras class, extra constructor arguments, number of states)
KINDS = {
    "simple_rnn": (layers.SimpleRNN, keras.layers.SimpleRNN, {}, 1),
    "lstm": (layers.LSTM, keras.layers.LSTM, {}, 2),
    "gru": (layers.GRU, keras.layers.GRU, {}, 1),
    "gru_reset_before": (layers.GRU, keras.layers.GRU, {"reset_after": False}, 1),
}


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _max_difference(expected, actual):
    expected, actual = _as_list(expected), _as_list(actual)
    assert len(expected) == len(actual)
    return max(
        float(np.abs(keras.ops.convert_to_numpy(a) - keras.ops.convert_to_numpy(b)).max())
        for a, b in zip(expected, actual, strict=True)
    )


def _randomize(layer, rng):
    """Non-trivial weights (the default zero biases would hide bias mistakes)."""
    layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()])


def _pair(kind, **kwargs):
    ours_class, keras_class, extra, num_states = KINDS[kind]
    ours = ours_class(5, **extra, **kwargs)
    reference = keras_class(5, **extra, **kwargs)
    ours.build(SEQUENCES.shape)
    reference.build(SEQUENCES.shape)
    _randomize(reference, np.random.default_rng(1))
    ours.set_weights(reference.get_weights())
    return ours, reference, num_states


# --- the shared checks ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layer_cls, kwargs, expected_shape",
    [
        (layers.SimpleRNN, {"units": 3}, (2, 3)),
        (layers.LSTM, {"units": 3, "return_sequences": True}, (2, 4, 3)),
        (layers.GRU, {"units": 3, "reset_after": False, "learnable_initial_state": True}, (2, 3)),
        (layers.Bidirectional, {"layer": layers.GRU(3, return_sequences=True), "merge_mode": "concat"}, (2, 4, 6)),
    ],
    ids=["simple_rnn", "lstm_sequences", "gru_reset_before_learnable_state", "bidirectional_gru"],
)
def test_shared_layer_checks(layer_cls, kwargs, expected_shape):
    inputs = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    run_layer_test(layer_cls, kwargs, inputs, expected_shape)


def test_cell_configs_round_trip():
    for cell in (
        layers.SimpleRNNCell(3, dropout=0.1),
        layers.LSTMCell(3, unit_forget_bias=False, kernel_regularizer="l2"),
        layers.GRUCell(3, reset_after=False, recurrent_dropout=0.2, seed=3),
    ):
        config = cell.get_config()
        assert type(cell).from_config(config).get_config() == config


# --- parity with the Keras layers ---------------------------------------------------------------------------


def test_same_variables_as_keras():
    for kind in KINDS:
        ours, reference, _ = _pair(kind)
        assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in reference.weights], kind
        assert [w.name for w in ours.weights] == [w.name for w in reference.weights], kind
        assert ours.count_params() == reference.count_params(), kind


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_parity_with_keras(kind, masked):
    # Every combination of go_backwards, initial state and return_sequences, with return_state on (the final
    # states are compared too). Looped, not parametrized: 8 eager calls cost less than 8 test setups.
    mask = MASK if masked else None
    for go_backwards, initial_state, return_sequences in itertools.product([False, True], repeat=3):
        ours, reference, num_states = _pair(
            kind, return_sequences=return_sequences, return_state=True, go_backwards=go_backwards
        )
        states = None
        if initial_state:
            states = [np.random.default_rng(2).normal(size=(3, 5)).astype("float32") for _ in range(num_states)]
        expected = reference(SEQUENCES, mask=mask, initial_state=states)
        # training=False runs the export-friendly loop, training=True the Keras RNN loop: both must match.
        for training in (False, True):
            actual = ours(SEQUENCES, mask=mask, initial_state=states, training=training)
            assert len(_as_list(actual)) == 1 + num_states
            difference = _max_difference(expected, actual)
            assert difference < 1e-5, (go_backwards, initial_state, return_sequences, training, difference)


@pytest.mark.parametrize("kind", list(KINDS))
def test_parity_with_keras_options(kind):
    for kwargs in (
        {},  # return_state off
        {"return_sequences": True, "zero_output_for_mask": True},
        {"return_sequences": True, "unroll": True},
        {"return_sequences": True, "unroll": True, "go_backwards": True},
    ):
        ours, reference, _ = _pair(kind, **kwargs)
        assert _max_difference(reference(SEQUENCES, mask=MASK), ours(SEQUENCES, mask=MASK)) < 1e-5, kwargs


def test_cells_run_inside_keras_rnn():
    for cell_class, keras_cell_class in [
        (layers.SimpleRNNCell, keras.layers.SimpleRNNCell),
        (layers.LSTMCell, keras.layers.LSTMCell),
        (layers.GRUCell, keras.layers.GRUCell),
    ]:
        ours = keras.layers.RNN(cell_class(5), return_sequences=True)
        reference = keras.layers.RNN(keras_cell_class(5), return_sequences=True)
        reference.build(SEQUENCES.shape)
        ours.build(SEQUENCES.shape)
        _randomize(reference, np.random.default_rng(3))
        ours.set_weights(reference.get_weights())
        assert _max_difference(reference(SEQUENCES, mask=MASK), ours(SEQUENCES, mask=MASK)) < 1e-5, cell_class


def test_weights_transfer_back_to_keras():
    # The cuDNN route: train ours, hand the weights to keras.layers.LSTM.
    ours = layers.LSTM(5, return_sequences=True)
    ours.build(SEQUENCES.shape)
    _randomize(ours, np.random.default_rng(4))
    reference = keras.layers.LSTM(5, return_sequences=True)
    reference.build(SEQUENCES.shape)
    reference.set_weights(ours.get_weights())
    assert _max_difference(reference(SEQUENCES), ours(SEQUENCES)) < 1e-5


# --- Bidirectional -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul", None])
def test_bidirectional_parity_with_keras(merge_mode):
    for masked, return_sequences, return_state in itertools.product([False, True], repeat=3):
        kwargs = {"return_sequences": return_sequences, "return_state": return_state}
        ours = layers.Bidirectional(layers.LSTM(5, **kwargs), merge_mode=merge_mode)
        reference = keras.layers.Bidirectional(keras.layers.LSTM(5, **kwargs), merge_mode=merge_mode)
        ours.build(SEQUENCES.shape)
        reference.build(SEQUENCES.shape)
        _randomize(reference, np.random.default_rng(5))
        ours.set_weights(reference.get_weights())
        mask = MASK if masked else None
        expected = reference(SEQUENCES, mask=mask)
        for training in (False, True):
            actual = ours(SEQUENCES, mask=mask, training=training)
            assert len(_as_list(expected)) == len(_as_list(actual))
            difference = _max_difference(expected, actual)
            assert difference < 1e-5, (masked, return_sequences, return_state, training, difference)


def test_bidirectional_other_cells_with_initial_state():
    for kind in ("simple_rnn", "gru", "gru_reset_before"):
        ours_class, keras_class, extra, _ = KINDS[kind]
        ours = layers.Bidirectional(ours_class(5, return_sequences=True, **extra))
        reference = keras.layers.Bidirectional(keras_class(5, return_sequences=True, **extra))
        ours.build(SEQUENCES.shape)
        reference.build(SEQUENCES.shape)
        _randomize(reference, np.random.default_rng(6))
        ours.set_weights(reference.get_weights())
        states = [np.random.default_rng(7).normal(size=(3, 5)).astype("float32") for _ in range(2)]
        expected = reference(SEQUENCES, mask=MASK, initial_state=states)
        assert _max_difference(expected, ours(SEQUENCES, mask=MASK, initial_state=states)) < 1e-5, kind


def test_bidirectional_wraps_keras_layers_and_custom_backward_layer():
    reference = keras.layers.Bidirectional(keras.layers.GRU(5, return_sequences=True))
    reference.build(SEQUENCES.shape)
    _randomize(reference, np.random.default_rng(8))
    wrapped_keras = layers.Bidirectional(keras.layers.GRU(5, return_sequences=True))
    mixed = layers.Bidirectional(
        layers.GRU(5, return_sequences=True), backward_layer=keras.layers.GRU(5, return_sequences=True, go_backwards=True)
    )
    for candidate in (wrapped_keras, mixed):
        candidate.build(SEQUENCES.shape)
        candidate.set_weights(reference.get_weights())
        assert _max_difference(reference(SEQUENCES, mask=MASK), candidate(SEQUENCES, mask=MASK)) < 1e-5


def test_bidirectional_errors():
    with pytest.raises(ConfigError, match="merge_mode"):
        layers.Bidirectional(layers.LSTM(3), merge_mode="max")
    with pytest.raises(ConfigError, match="go_backwards"):
        layers.Bidirectional(layers.LSTM(3), backward_layer=layers.LSTM(3))
    with pytest.raises(ConfigError, match="return_sequences"):
        layers.Bidirectional(layers.LSTM(3), backward_layer=layers.LSTM(3, go_backwards=True, return_sequences=True))
    with pytest.raises(ConfigError, match="recurrent layer"):
        layers.Bidirectional(keras.layers.Dense(3))


# --- dropout, initial state, statefulness ------------------------------------------------------------------


def test_input_dropout_mask_is_fixed_over_the_sequence():
    # h_t = (x_t * m) @ I with x_t = 1 at every step: every step shows the mask m, the same if fixed per sequence.
    layer = layers.SimpleRNN(4, activation=None, use_bias=False, dropout=0.5, return_sequences=True, seed=1)
    layer.build((8, 6, 4))
    layer.set_weights([np.eye(4, dtype="float32"), np.zeros((4, 4), "float32")])
    outputs = keras.ops.convert_to_numpy(layer(np.ones((8, 6, 4), "float32"), training=True))
    np.testing.assert_allclose(outputs, np.repeat(outputs[:, :1], 6, axis=1))
    assert set(np.unique(outputs)) == {0.0, 2.0}
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(np.ones((8, 6, 4), "float32"))), 1.0)


def test_recurrent_dropout_mask_is_fixed_over_the_sequence():
    # h_t = 1 + (h_{t-1} * m) @ I: with one m per sequence, h_3 = 1 + m + m^2 where m = h_2 - 1.
    layer = layers.SimpleRNN(4, activation=None, use_bias=False, recurrent_dropout=0.5, return_sequences=True, seed=2)
    layer.build((8, 3, 4))
    layer.set_weights([np.eye(4, dtype="float32"), np.eye(4, dtype="float32")])
    outputs = keras.ops.convert_to_numpy(layer(np.ones((8, 3, 4), "float32"), training=True))
    m = outputs[:, 1] - 1.0
    assert set(np.unique(m)) == {0.0, 2.0}
    np.testing.assert_allclose(outputs[:, 2], 1.0 + m + m * m)


def test_dropout_in_training_only():
    for layer_class in (layers.LSTM, layers.GRU):
        layer = layer_class(5, dropout=0.3, recurrent_dropout=0.3, return_sequences=True)
        first, second = layer(SEQUENCES, training=True), layer(SEQUENCES, training=True)
        assert _max_difference(first, second) > 1e-3
        assert _max_difference(layer(SEQUENCES), layer(SEQUENCES)) == 0.0


@pytest.mark.parametrize("layer_class", [layers.LSTM, layers.GRU])
def test_learnable_initial_state_trains(layer_class):
    inputs = keras.Input((6, 4))
    layer = layer_class(5, learnable_initial_state=True)
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    initial = [keras.ops.convert_to_numpy(w) for w in layer.initial_state_weights]
    assert [w.shape for w in initial] == [(5,)] * (2 if layer_class is layers.LSTM else 1)
    assert all(w.trainable for w in layer.initial_state_weights)
    # Gradients reach the initial states (TensorFlow tape: the backend these tests run on).
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(model(SEQUENCES) ** 2)
    gradients = tape.gradient(loss, [w.value for w in layer.initial_state_weights])
    assert all(float(np.abs(g).max()) > 0 for g in gradients)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    model.fit(SEQUENCES, np.ones((3, 1), "float32"), epochs=5, verbose=0)
    changed = [keras.ops.convert_to_numpy(w) for w in layer.initial_state_weights]
    assert all(np.abs(a - b).max() > 1e-3 for a, b in zip(initial, changed, strict=True))


def test_stateful_carries_states_between_batches():
    layer = layers.GRU(5, stateful=True, return_sequences=True)
    layer.build((3, 6, 4))
    reference = layers.GRU(5, return_sequences=True)
    reference.build((3, 6, 4))
    reference.set_weights(layer.get_weights())
    whole = keras.ops.convert_to_numpy(reference(SEQUENCES))
    halves = [keras.ops.convert_to_numpy(layer(SEQUENCES[:, :3])), keras.ops.convert_to_numpy(layer(SEQUENCES[:, 3:]))]
    np.testing.assert_allclose(np.concatenate(halves, axis=1), whole, atol=1e-6)
    layer.reset_state()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(SEQUENCES[:, :3])), whole[:, :3], atol=1e-6)


def test_masked_steps_keep_the_output_in_a_model():
    # Embedding(mask_zero) -> LSTM: trailing padding never changes the last output.
    tokens = keras.Input((None,), dtype="int32")
    model = keras.Model(tokens, layers.LSTM(4)(keras.layers.Embedding(10, 3, mask_zero=True)(tokens)))
    short, padded = np.array([[3, 5, 7]]), np.array([[3, 5, 7, 0, 0]])
    assert _max_difference(model(short), model(padded)) < 1e-6


# --- stacking and errors ---------------------------------------------------------------------------------------


def test_stacked_rnn():
    stack = layers.stacked_rnn("gru", [6, 4], num_layers=2, bidirectional=True, merge_mode="sum", name="enc")
    assert [layer.name for layer in stack] == ["bidirectional_enc_1", "bidirectional_enc_2"]
    assert [layer.return_sequences for layer in stack] == [True, False]
    model = keras.Sequential(stack)
    assert model(SEQUENCES).shape == (3, 4)

    reference = keras.Sequential([
        keras.layers.Bidirectional(keras.layers.GRU(6, return_sequences=True), merge_mode="sum"),
        keras.layers.Bidirectional(keras.layers.GRU(4), merge_mode="sum"),
    ])
    reference(SEQUENCES)
    assert model.count_params() == reference.count_params()

    plain = layers.stacked_rnn(keras.layers.LSTM, 3, num_layers=3, return_sequences=True, dropout=0.1)
    assert all(isinstance(layer, keras.layers.LSTM) and layer.return_sequences for layer in plain)


def test_errors_name_the_bad_value():
    with pytest.raises(ConfigError, match="units=0"):
        layers.LSTM(0)
    with pytest.raises(ConfigError, match="dropout=1.5"):
        layers.GRU(3, dropout=1.5)
    with pytest.raises(ConfigError, match="cell_type='rnn'"):
        layers.stacked_rnn("rnn", 3)
    with pytest.raises(ConfigError, match="2 entries for num_layers=3"):
        layers.stacked_rnn("lstm", [3, 4], num_layers=3)
    with pytest.raises(ShapeError, match="timesteps, features"):
        layers.LSTM(3)(np.zeros((2, 4), "float32"))
    with pytest.raises(ShapeError, match="2 initial state"):
        layers.LSTM(3)(SEQUENCES, initial_state=[np.zeros((3, 3), "float32")])
    with pytest.raises(ShapeError, match="unroll=True"):
        layers.LSTM(3, unroll=True)(keras.Input((None, 4)))
    with pytest.raises(ShapeError, match="static batch"):
        layers.LSTM(3, stateful=True)(keras.Input((5, 4)))
