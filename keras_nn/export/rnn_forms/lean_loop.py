"""The lean loop form ("loop" in TFLite, the generic loop in ONNX): the input projection of every step hoisted
out of the loop, LSTM gates reordered to (i, f, o, g), outputs written in place; and the time loop every
form runs its step in.
"""

import dataclasses

import numpy as np
import tensorflow as tf

# XlaDynamicUpdateSlice becomes TFLite's DYNAMIC_UPDATE_SLICE (an in-place write of one step's output) and also
# runs on the CPU without XLA, so the export clone still runs in TensorFlow.
from tensorflow.compiler.tf2xla.python import xla

from keras_nn.export.rnn_forms.activations import apply_activation
from keras_nn.export.rnn_forms.spec import Direction

# Cell steps. "Lean" steps take the projected inputs (x_t W + b, hoisted out of the loop); the gate order of
# the LSTM weights is (i, f, o, g) there.


@dataclasses.dataclass
class LeanWeights:
    """A direction's weights arranged for the lean forms: `project(x)` then `step(x_t, states)`."""

    direction: Direction
    kernel: np.ndarray
    input_bias: np.ndarray
    recurrent_kernel: np.ndarray
    recurrent_bias: np.ndarray | None

    @classmethod
    def of(cls, direction):
        d, units = direction, direction.units
        kernel, recurrent, bias, recurrent_bias = d.kernel, d.recurrent_kernel, d.bias, None
        if d.cell == "lstm":
            # (i, f, c, o) -> (i, f, o, c): one sigmoid over the first three blocks.
            order = np.concatenate(
                [np.arange(0, 2 * units), np.arange(3 * units, 4 * units), np.arange(2 * units, 3 * units)]
            )
            kernel, recurrent, bias = kernel[:, order], recurrent[:, order], bias[order]
        elif d.reset_after:
            bias, recurrent_bias = bias[0], bias[1]
        return cls(d, kernel, bias, recurrent, recurrent_bias)

    def project(self, x):
        """`x W + b` over every step at once (the one product that does not depend on the state)."""
        return tf.matmul(x, tf.constant(self.kernel)) + tf.constant(self.input_bias)

    def step_function(self):
        """`step(projected_t, states) -> new states` (the output is the first state), constants made once."""
        d, units = self.direction, self.direction.units
        recurrent = tf.constant(self.recurrent_kernel)
        act, gate = d.activation, d.recurrent_activation
        if d.cell == "lstm":

            def step(x_t, states):
                h, c = states
                sigmoid_part, cell_part = tf.split(x_t + tf.matmul(h, recurrent), [3 * units, units], axis=1)
                i, f, o = tf.split(apply_activation(gate, sigmoid_part), 3, axis=1)
                c = f * c + i * apply_activation(act, cell_part)
                return [o * apply_activation(act, c), c]

        elif d.cell == "gru" and d.reset_after:
            recurrent_bias = tf.constant(self.recurrent_bias)

            def step(x_t, states):
                h = states[0]
                x_zr, x_n = tf.split(x_t, [2 * units, units], axis=1)
                h_zr, h_n = tf.split(tf.matmul(h, recurrent) + recurrent_bias, [2 * units, units], axis=1)
                z, r = tf.split(apply_activation(gate, x_zr + h_zr), 2, axis=1)
                n = apply_activation(act, x_n + r * h_n)
                return [n + z * (h - n)]

        elif d.cell == "gru":
            recurrent_zr, recurrent_n = (
                tf.constant(self.recurrent_kernel[:, : 2 * units]),
                tf.constant(self.recurrent_kernel[:, 2 * units :]),
            )

            def step(x_t, states):
                h = states[0]
                x_zr, x_n = tf.split(x_t, [2 * units, units], axis=1)
                z, r = tf.split(apply_activation(gate, x_zr + tf.matmul(h, recurrent_zr)), 2, axis=1)
                n = apply_activation(act, x_n + tf.matmul(r * h, recurrent_n))
                return [n + z * (h - n)]

        else:

            def step(x_t, states):
                return [apply_activation(act, x_t + tf.matmul(states[0], recurrent))]

        return step


def time_loop(step, sequence, states, mask, direction, tensor_lists):
    """Runs `step` over time-major `sequence` `(time, batch, width)`: returns `(last_output, outputs, states)`.

    Masked steps keep the previous states and repeat the previous output (zeros with `zero_output_for_mask`),
    as the Keras layers do. `tensor_lists` reads and writes steps through tensor lists (what tf2onnx's
    rewriters expect); otherwise steps are gathered and outputs written in place, and only when used.
    `outputs` is time-major, or None without `return_sequences`.
    """
    d = direction
    steps = tf.shape(sequence)[0]
    batch = tf.shape(sequence)[1]
    read = tf.TensorArray(sequence.dtype, size=steps).unstack(sequence).read if tensor_lists else None
    if tensor_lists:
        # Always written: tf2onnx's rewriters look for the write even when only the last output is used.
        outputs = tf.TensorArray(tf.float32, size=steps, element_shape=tf.TensorShape([None, d.units]))
    elif d.return_sequences:
        outputs = tf.zeros(tf.stack([steps, batch, d.units]))
    else:
        outputs = None

    def body(t, states, *outputs):
        x_t = read(t) if tensor_lists else tf.gather(sequence, t)
        new_states = step(x_t, list(states))
        output = new_states[0]
        if mask is not None:
            keep = tf.expand_dims(tf.gather(mask, t), -1)
            new_states = [tf.where(keep, new, old) for new, old in zip(new_states, states, strict=True)]
            output = (
                tf.where(keep, new_states[0], tf.zeros_like(output))
                if d.zero_output_for_mask
                else new_states[0]
            )
        if tensor_lists:
            outputs = (outputs[0].write(t, output),)
        elif outputs:
            outputs = (xla.dynamic_update_slice(outputs[0], tf.expand_dims(output, 0), tf.stack([t, 0, 0])),)
        return (t + 1, tuple(new_states), *outputs)

    loop_vars = (tf.constant(0), tuple(states)) + ((outputs,) if outputs is not None else ())
    result = tf.while_loop(lambda t, *_: t < steps, body, loop_vars)
    states, outputs = list(result[1]), (result[2] if len(result) > 2 else None)
    if tensor_lists:
        outputs = outputs.stack() if d.return_sequences else None
    last = states[0]
    if mask is not None and d.zero_output_for_mask:
        last = tf.where(tf.expand_dims(mask[-1], -1), last, tf.zeros_like(last))
    return last, outputs, states


def time_major(x, mask, go_backwards):
    """Batch-major `x` `(batch, time, width)` and `mask` `(batch, time)` as time-major, reversed in time for a
    backward direction."""
    x = tf.transpose(x, (1, 0, 2))
    mask = None if mask is None else tf.transpose(mask, (1, 0))
    if go_backwards:
        x = tf.reverse(x, [0])
        mask = None if mask is None else tf.reverse(mask, [0])
    return x, mask


def zero_states(direction, batch):
    """The direction's initial states (`[h, c]` for an LSTM, `[h]` otherwise), zeros of `(batch, units)`."""
    shape = tf.stack([batch, direction.units]) if isinstance(batch, tf.Tensor) else (batch, direction.units)
    return [tf.zeros(shape) for _ in range(direction.num_states)]


def batch_major(last, outputs, direction):
    """What the layer returns from a `time_loop` result: every output batch-major, or the last one."""
    return tf.transpose(outputs, (1, 0, 2)) if direction.return_sequences else last


def run_lean_loop(direction, x, mask, tensor_lists=False):
    """A direction's output over batch-major `x` in the lean form (hoisted projection, permuted gates)."""
    weights = LeanWeights.of(direction)
    # Reversing and transposing the (narrower) inputs is cheaper than doing it to the projection.
    sequence, mask = time_major(x, mask, direction.go_backwards)
    states = zero_states(direction, tf.shape(x)[0])
    last, outputs, _ = time_loop(
        weights.step_function(), weights.project(sequence), states, mask, direction, tensor_lists
    )
    return batch_major(last, outputs, direction)
