"""The native ONNX form: a tensor-list loop in the shape tf2onnx rewrites into one ONNX `LSTM` / `GRU` node."""

import tensorflow as tf

from keras_nn.export.rnn_forms.activations import apply_activation
from keras_nn.export.rnn_forms.lean_loop import batch_major, time_loop, time_major, zero_states


def _native_onnx_step(direction):
    """The per-step graph in the exact shape tf2onnx's LSTM / GRU rewriters match (raw x_t, Keras gate order)."""
    d = direction
    kernel, recurrent = tf.constant(d.kernel), tf.constant(d.recurrent_kernel)
    if d.cell == "lstm":
        bias = tf.constant(d.bias)

        def step(x_t, states):
            h, c = states
            z = tf.nn.bias_add(tf.matmul(x_t, kernel) + tf.matmul(h, recurrent), bias)
            i, f, g, o = tf.split(z, 4, axis=1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * apply_activation(d.activation, g)
            return [tf.sigmoid(o) * apply_activation(d.activation, c), c]

        return step
    input_bias, recurrent_bias = tf.constant(d.bias[0]), tf.constant(d.bias[1])

    def step(x_t, states):
        h = states[0]
        x_z, x_r, x_n = tf.split(tf.nn.bias_add(tf.matmul(x_t, kernel), input_bias), 3, axis=1)
        h_z, h_r, h_n = tf.split(tf.nn.bias_add(tf.matmul(h, recurrent), recurrent_bias), 3, axis=1)
        z = tf.sigmoid(x_z + h_z)
        r = tf.sigmoid(x_r + h_r)
        n = apply_activation(d.activation, x_n + r * h_n)
        return [z * h + (1.0 - z) * n]

    return step


def native_onnx_eligible(direction):
    """Whether tf2onnx can turn this direction into a native ONNX LSTM/GRU node."""
    d = direction
    if d.recurrent_activation != "sigmoid" or d.activation not in ("tanh", "relu", "sigmoid"):
        return False
    return d.cell == "lstm" or (d.cell == "gru" and d.reset_after)


def run_native_onnx(direction, x):
    """A direction in the tensor-list loop that tf2onnx rewrites into one native ONNX LSTM/GRU node."""
    sequence, _ = time_major(x, None, direction.go_backwards)
    states = zero_states(direction, tf.shape(x)[0])
    last, outputs, _ = time_loop(
        _native_onnx_step(direction), sequence, states, None, direction, tensor_lists=True
    )
    return batch_major(last, outputs, direction)
