"""What the recurrent layer tests share: the data and the parity checks against the Keras layers.

Each check builds our layer and the Keras layer of the same kind, copies the Keras weights into ours and
compares outputs (and final states) over masked and unmasked sequences.
"""

import itertools

import keras
import numpy as np

from keras_nn import layers

SEQUENCES = np.random.default_rng(0).normal(size=(3, 6, 4)).astype("float32")
# Right padding, left padding and holes in the middle: every way a masked step can meet the loop.
MASK = np.array([[1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [1, 0, 1, 1, 0, 1]], dtype=bool)

# (our class, Keras class, extra constructor arguments, number of states)
KINDS = {
    "simple_rnn": (layers.SimpleRNN, keras.layers.SimpleRNN, {}, 1),
    "lstm": (layers.LSTM, keras.layers.LSTM, {}, 2),
    "gru": (layers.GRU, keras.layers.GRU, {}, 1),
    "gru_reset_before": (layers.GRU, keras.layers.GRU, {"reset_after": False}, 1),
}


def as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def max_difference(expected, actual):
    expected, actual = as_list(expected), as_list(actual)
    assert len(expected) == len(actual)
    return max(
        float(np.abs(keras.ops.convert_to_numpy(a) - keras.ops.convert_to_numpy(b)).max())
        for a, b in zip(expected, actual, strict=True)
    )


def randomize(layer, rng):
    """Non-trivial weights (the default zero biases would hide bias mistakes)."""
    layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()])


def make_pair(kind, **kwargs):
    """Our layer and the Keras layer of `kind`, built, holding the same random weights."""
    ours_class, keras_class, extra, num_states = KINDS[kind]
    ours = ours_class(5, **extra, **kwargs)
    reference = keras_class(5, **extra, **kwargs)
    ours.build(SEQUENCES.shape)
    reference.build(SEQUENCES.shape)
    randomize(reference, np.random.default_rng(1))
    ours.set_weights(reference.get_weights())
    return ours, reference, num_states


def check_cell_config_round_trip(cell):
    config = cell.get_config()
    assert type(cell).from_config(config).get_config() == config


def check_same_variables_as_keras(kind):
    ours, reference, _ = make_pair(kind)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in reference.weights], kind
    assert [w.name for w in ours.weights] == [w.name for w in reference.weights], kind
    assert ours.count_params() == reference.count_params(), kind


def check_parity_with_keras(kind, masked):
    """Every combination of go_backwards, initial state and return_sequences, with return_state on (the final
    states are compared too). Looped, not parametrized: 8 eager calls cost less than 8 test setups."""
    mask = MASK if masked else None
    for go_backwards, initial_state, return_sequences in itertools.product([False, True], repeat=3):
        ours, reference, num_states = make_pair(
            kind, return_sequences=return_sequences, return_state=True, go_backwards=go_backwards
        )
        states = None
        if initial_state:
            states = [np.random.default_rng(2).normal(size=(3, 5)).astype("float32") for _ in range(num_states)]
        expected = reference(SEQUENCES, mask=mask, initial_state=states)
        # training=False runs the export-friendly loop, training=True the Keras RNN loop: both must match.
        for training in (False, True):
            actual = ours(SEQUENCES, mask=mask, initial_state=states, training=training)
            assert len(as_list(actual)) == 1 + num_states
            difference = max_difference(expected, actual)
            assert difference < 1e-5, (go_backwards, initial_state, return_sequences, training, difference)


def check_parity_with_keras_options(kind):
    for kwargs in (
        {},  # return_state off
        {"return_sequences": True, "zero_output_for_mask": True},
        {"return_sequences": True, "unroll": True},
        {"return_sequences": True, "unroll": True, "go_backwards": True},
    ):
        ours, reference, _ = make_pair(kind, **kwargs)
        assert max_difference(reference(SEQUENCES, mask=MASK), ours(SEQUENCES, mask=MASK)) < 1e-5, kwargs


def check_cell_runs_inside_keras_rnn(cell_class, keras_cell_class):
    ours = keras.layers.RNN(cell_class(5), return_sequences=True)
    reference = keras.layers.RNN(keras_cell_class(5), return_sequences=True)
    reference.build(SEQUENCES.shape)
    ours.build(SEQUENCES.shape)
    randomize(reference, np.random.default_rng(3))
    ours.set_weights(reference.get_weights())
    assert max_difference(reference(SEQUENCES, mask=MASK), ours(SEQUENCES, mask=MASK)) < 1e-5, cell_class
