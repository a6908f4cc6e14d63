import itertools

import keras
import numpy as np
import pytest
from layers.rnn.recurrent_testing import KINDS, MASK, SEQUENCES, as_list, max_difference, randomize
from testing_utils import run_layer_test

from keras_nn import layers
from keras_nn.errors import ConfigError


def test_shared_layer_checks():
    inputs = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    kwargs = {"layer": layers.GRU(3, return_sequences=True), "merge_mode": "concat"}
    run_layer_test(layers.Bidirectional, kwargs, inputs, (2, 4, 6))


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul", None])
def test_bidirectional_parity_with_keras(merge_mode):
    for masked, return_sequences, return_state in itertools.product([False, True], repeat=3):
        kwargs = {"return_sequences": return_sequences, "return_state": return_state}
        ours = layers.Bidirectional(layers.LSTM(5, **kwargs), merge_mode=merge_mode)
        reference = keras.layers.Bidirectional(keras.layers.LSTM(5, **kwargs), merge_mode=merge_mode)
        ours.build(SEQUENCES.shape)
        reference.build(SEQUENCES.shape)
        randomize(reference, np.random.default_rng(5))
        ours.set_weights(reference.get_weights())
        mask = MASK if masked else None
        expected = reference(SEQUENCES, mask=mask)
        for training in (False, True):
            actual = ours(SEQUENCES, mask=mask, training=training)
            assert len(as_list(expected)) == len(as_list(actual))
            difference = max_difference(expected, actual)
            assert difference < 1e-5, (masked, return_sequences, return_state, training, difference)


def test_bidirectional_other_cells_with_initial_state():
    # return_state too: the final states of both directions, in Keras's order, under a mask.
    for kind in ("simple_rnn", "gru", "gru_reset_before"):
        ours_class, keras_class, extra, _ = KINDS[kind]
        ours = layers.Bidirectional(ours_class(5, return_sequences=True, return_state=True, **extra))
        reference = keras.layers.Bidirectional(keras_class(5, return_sequences=True, return_state=True, **extra))
        ours.build(SEQUENCES.shape)
        reference.build(SEQUENCES.shape)
        randomize(reference, np.random.default_rng(6))
        ours.set_weights(reference.get_weights())
        states = [np.random.default_rng(7).normal(size=(3, 5)).astype("float32") for _ in range(2)]
        expected = reference(SEQUENCES, mask=MASK, initial_state=states)
        actual = ours(SEQUENCES, mask=MASK, initial_state=states)
        assert len(actual) == len(expected) == 3
        assert max_difference(expected, actual) < 1e-5, kind


def test_bidirectional_wraps_keras_layers_and_custom_backward_layer():
    reference = keras.layers.Bidirectional(keras.layers.GRU(5, return_sequences=True))
    reference.build(SEQUENCES.shape)
    randomize(reference, np.random.default_rng(8))
    wrapped_keras = layers.Bidirectional(keras.layers.GRU(5, return_sequences=True))
    mixed = layers.Bidirectional(
        layers.GRU(5, return_sequences=True), backward_layer=keras.layers.GRU(5, return_sequences=True, go_backwards=True)
    )
    for candidate in (wrapped_keras, mixed):
        candidate.build(SEQUENCES.shape)
        candidate.set_weights(reference.get_weights())
        assert max_difference(reference(SEQUENCES, mask=MASK), candidate(SEQUENCES, mask=MASK)) < 1e-5


def test_bidirectional_errors():
    with pytest.raises(ConfigError, match="merge_mode"):
        layers.Bidirectional(layers.LSTM(3), merge_mode="max")
    with pytest.raises(ConfigError, match="go_backwards"):
        layers.Bidirectional(layers.LSTM(3), backward_layer=layers.LSTM(3))
    with pytest.raises(ConfigError, match="return_sequences"):
        layers.Bidirectional(layers.LSTM(3), backward_layer=layers.LSTM(3, go_backwards=True, return_sequences=True))
    with pytest.raises(ConfigError, match="recurrent layer"):
        layers.Bidirectional(keras.layers.Dense(3))


@pytest.mark.parametrize("kind", ["keras_nn", "keras"])
def test_bidirectional_copies_are_fresh_inside_load_models_object_sharing_scope(kind):
    # load_model deserializes inside this scope; wrapping one layer object twice there is how a reused id
    # handed a later Bidirectional the earlier one's backward copy (go_backwards True for both directions).
    from keras.src.saving.serialization_lib import ObjectSharingScope

    gru = layers.GRU(3, return_sequences=True) if kind == "keras_nn" else keras.layers.GRU(3, return_sequences=True)
    with ObjectSharingScope():
        first = layers.Bidirectional(gru)
        second = layers.Bidirectional(gru)
    for wrapper in (first, second):
        assert (wrapper.forward_layer.go_backwards, wrapper.backward_layer.go_backwards) == (False, True)
    assert second.forward_layer is not first.backward_layer
    assert type(second.forward_layer) is type(gru)


@pytest.mark.parametrize("use_cudnn", [True, False])
def test_a_wrapped_keras_layer_keeps_use_cudnn(use_cudnn):
    """`keras.layers.Bidirectional` copies `use_cudnn` (not part of a Keras LSTM/GRU config) onto both copies."""
    for recurrent in (keras.layers.LSTM, keras.layers.GRU):
        ours = layers.Bidirectional(recurrent(4, use_cudnn=use_cudnn))
        reference = keras.layers.Bidirectional(recurrent(4, use_cudnn=use_cudnn))
        assert ours.forward_layer.use_cudnn == ours.backward_layer.use_cudnn == reference.forward_layer.use_cudnn
        assert ours.forward_layer.use_cudnn is use_cudnn
