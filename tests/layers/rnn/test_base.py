"""What `rnn/base.py` gives every recurrent layer: sequence-fixed dropout masks, learnable and carried
(stateful) initial states, masking, and the argument checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from layers.rnn.recurrent_testing import SEQUENCES, max_difference

from keras_nn import layers
from keras_nn.errors import ConfigError, ShapeError

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
        assert max_difference(first, second) > 1e-3
        assert max_difference(layer(SEQUENCES), layer(SEQUENCES)) == 0.0


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
    assert max_difference(model(short), model(padded)) < 1e-6


# --- errors ----------------------------------------------------------------------------------------------------


def test_errors_name_the_bad_value():
    with pytest.raises(ConfigError, match="units=0"):
        layers.LSTM(0)
    with pytest.raises(ConfigError, match="dropout=1.5"):
        layers.GRU(3, dropout=1.5)
    with pytest.raises(ShapeError, match="timesteps, features"):
        layers.LSTM(3)(np.zeros((2, 4), "float32"))
    with pytest.raises(ShapeError, match="2 initial state"):
        layers.LSTM(3)(SEQUENCES, initial_state=[np.zeros((3, 3), "float32")])
    with pytest.raises(ShapeError, match="unroll=True"):
        layers.LSTM(3, unroll=True)(keras.Input((None, 4)))
    with pytest.raises(ShapeError, match="static batch"):
        layers.LSTM(3, stateful=True)(keras.Input((5, 4)))
