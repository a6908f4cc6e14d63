"""The fused TFLite LSTM form: tf_keras's `standard_lstm` function, which the TFLite converter replaces with one
`UNIDIRECTIONAL_SEQUENCE_LSTM` op; and the cell-state peak that tells whether its clip changes the outputs.
"""

import dataclasses
import uuid

import numpy as np
import tensorflow as tf

from keras_nn.errors import ExportError
from keras_nn.export.rnn_forms.lean_loop import LeanWeights, time_loop, time_major

# The TFLite converter builds the fused LSTM op with cell_clip=10: |c| is clipped to 10 at every step, so a
# model whose cell state grows past it gives different outputs in TFLite than in Keras.
FUSED_CELL_CLIP = 10.0


def fused_lstm_eligible(direction):
    """Whether the fused TFLite op can run this direction: an LSTM with sigmoid gates and a tanh cell."""
    return direction.cell == "lstm" and direction.default_activations()


def run_fused_lstm(direction, x):
    """An LSTM direction as tf_keras's `standard_lstm` function, which the TFLite converter fuses.

    The body below runs only when TensorFlow executes the graph; the converter replaces the whole function with
    `UNIDIRECTIONAL_SEQUENCE_LSTM`. The weights are passed as tensors (not variables), so the function keeps
    the six arguments the converter checks once the variables are frozen.
    """
    d = direction
    batch, steps = x.shape[0], x.shape[1]
    if batch is None or steps is None:
        raise ExportError(
            f"rnn_form='fused' needs a fixed batch and sequence length (the fused LSTM op has static state "
            f"shapes); got input shape {tuple(x.shape)}: pass batch_size=1 (or another size), or use rnn_form='loop'"
        )

    @tf.function(
        autograph=False,
        experimental_attributes={
            "api_implements": f"lstm_{uuid.uuid4().hex}",
            "time_major": False,
            "go_backwards": d.go_backwards,
        },
    )
    def standard_lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
        del kernel, recurrent_kernel, bias  # the same values are in `d`; the converter reads the arguments
        sequence, _ = time_major(inputs, None, d.go_backwards)
        always_sequences = dataclasses.replace(d, return_sequences=True)
        weights = LeanWeights.of(d)
        last, outputs, states = time_loop(
            weights.step_function(),
            weights.project(sequence),
            [init_h, init_c],
            None,
            always_sequences,
            False,
        )
        # tf_keras's contract: last output, all outputs (batch-major), h, c, and a runtime marker.
        return last, tf.transpose(outputs, (1, 0, 2)), states[0], states[1], tf.constant(0.0)

    zeros = tf.zeros((batch, d.units))
    last, outputs, *_ = standard_lstm(
        x, zeros, zeros, tf.constant(d.kernel), tf.constant(d.recurrent_kernel), tf.constant(d.bias)
    )
    return outputs if d.return_sequences else last


def lstm_cell_peak(direction, x):
    """Largest |c| an LSTM direction reaches over batch-major float inputs `x` (NumPy; for the fused op's clip)."""
    d = direction
    if d.cell != "lstm":
        return 0.0
    units = d.units
    x = np.asarray(x, np.float32)
    if d.go_backwards:
        x = x[:, ::-1]
    projected = x @ d.kernel + d.bias
    h = np.zeros((len(x), units), np.float32)
    c = np.zeros_like(h)
    peak = 0.0

    def sigmoid(v):
        return 1.0 / (1.0 + np.exp(-v))

    for t in range(x.shape[1]):
        z = projected[:, t] + h @ d.recurrent_kernel
        i, f, g, o = (z[:, k * units : (k + 1) * units] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        peak = max(peak, float(np.abs(c).max(initial=0.0)))
    return peak
