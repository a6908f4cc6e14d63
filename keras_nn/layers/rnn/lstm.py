"""The long short-term memory cell and layer: `LSTMCell` (one step) and `LSTM` (the cell run over time).

Same variables and gate order as `keras.layers.LSTMCell` / `keras.layers.LSTM`, so `set_weights` from one gives
the same outputs in the other. The time loop and what all recurrent layers share are in `rnn/base.py`.
"""

import keras
from keras import ops

from keras_nn.layers.rnn.base import (
    RecurrentCell,
    RecurrentSequence,
    cell_attribute,
    check_implementation,
    forward_arguments,
)


@keras.saving.register_keras_serializable(package="keras_nn")
class LSTMCell(RecurrentCell):
    """Long short-term memory cell with a forget gate, in Keras's gate order (input, forget, cell, output).

        i = s(x W_i + h U_i + b_i)      f = s(x W_f + h U_f + b_f)      o = s(x W_o + h U_o + b_o)
        c_t = f * c_{t-1} + i * tanh(x W_c + h U_c + b_c)               h_t = o * tanh(c_t)

    with `s` the recurrent activation (sigmoid). Same variables as `keras.layers.LSTMCell`: `kernel
    (features, 4 units)`, `recurrent_kernel (units, 4 units)`, `bias (4 units,)`, gate blocks in the order
    i, f, c, o.

    Args:
        units: size of the state (`h` and `c`) and output.
        activation: the cell and output nonlinearity (default `"tanh"`).
        recurrent_activation: the gate nonlinearity (default `"sigmoid"`).
        use_bias: add the biases.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers (Keras defaults).
        unit_forget_bias: start the forget-gate bias at 1 (Jozefowicz et al. 2015), the others at
            `bias_initializer`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: optional regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: optional constraints.
        dropout: dropout rate on the inputs.
        recurrent_dropout: dropout rate on `h_{t-1}`.
        seed: seed of the dropout masks (the same seed draws the same masks as `keras.layers.LSTMCell`).
        implementation: Keras's legacy argument: 1 gives every gate its own dropout masks, 2 (default) one mask
            shared by the gates (0, from old saved configs, is 2). `recurrent_dropout > 0` sets 1, as in Keras.
            Without dropout the numbers are the same either way; keras-nn always fuses the gates' matmuls.

    Call arguments:
        inputs: one step, `(batch, features)`.
        states: the previous state: `[h, c]`, each `(batch, units)`.
        training: whether dropout applies. Called on its own, a cell draws new dropout masks on every call;
            the sequence layers draw them once per sequence.

    Returns:
        `(output, new_states)`, output `(batch, units)`.

    Differs from `keras.layers.LSTMCell` only in naming `implementation` (Keras reads it from `**kwargs`).

    Example:
    >>> cell = keras_nn.layers.LSTMCell(4)
    >>> h, (h, c) = cell(np.zeros((2, 3), "float32"), [np.zeros((2, 4), "float32")] * 2)
    >>> c.shape
    (2, 4)

    References:
        Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural Computation 1997.
        Gers, Schmidhuber & Cummins, "Learning to Forget: Continual Prediction with LSTM", Neural
        Computation 2000 (the forget gate).
    """

    _num_gates = 4

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        implementation=2,
        **kwargs,
    ):
        super().__init__(**forward_arguments(locals(), to=RecurrentCell.__init__))
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.unit_forget_bias = unit_forget_bias
        self.implementation = check_implementation(
            type(self).__name__, implementation, self.recurrent_dropout
        )
        self.state_size = [units, units]

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, base = self.units, self.bias_initializer

        def initializer(shape, dtype=None):
            return ops.concatenate(
                [
                    base((units,), dtype=dtype),
                    ops.ones((units,), dtype=dtype),
                    base((2 * units,), dtype=dtype),
                ]
            )

        return initializer

    def step(self, projected, states, recurrent_masks=None):
        h, c = states[0], states[1]
        gates = projected + self._masked_matmul(h, recurrent_masks, self.recurrent_kernel)
        i, f, g, o = ops.split(gates, 4, axis=-1)
        c = self.recurrent_activation(f) * c + self.recurrent_activation(i) * self.activation(g)
        h = self.recurrent_activation(o) * self.activation(c)
        return h, [h, c]

    def get_config(self):
        return {
            **super().get_config(),
            "recurrent_activation": keras.activations.serialize(self.recurrent_activation),
            "unit_forget_bias": self.unit_forget_bias,
            "implementation": self.implementation,
        }


@keras.saving.register_keras_serializable(package="keras_nn")
class LSTM(RecurrentSequence):
    """Long short-term memory layer: runs `LSTMCell` over a sequence.

    Same weights as `keras.layers.LSTM` (`kernel`, `recurrent_kernel`, `bias`, gates i, f, c, o):
    `set_weights` from one gives the same outputs in the other.

    Args:
        units: size of the states and output.
        activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, unit_forget_bias, kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed: as for
        `LSTMCell`.
        return_sequences: return the output of every step `(batch, timesteps, units)` instead of the last one.
        return_state: also return the final state(s).
        go_backwards: read the sequence from the end; the returned sequence is in that (reversed) order.
        stateful: carry the final states of a batch over as the initial states of the next one (needs a
            static batch size; `reset_state()` zeroes them).
        unroll: unroll the time loop in the graph (needs a known number of timesteps; faster for short
            sequences, more memory).
        zero_output_for_mask: masked steps output zeros instead of the previous output (`Bidirectional` turns
            it on for sequences, as Keras does).
        use_cudnn: Keras's cuDNN switch (`"auto"`, True, False), accepted and kept in the config; keras-nn has
            no cuDNN kernel, so every value runs the generic loop (True warns). For cuDNN use the Keras layer.
        implementation: Keras's legacy dropout layout (1: a mask per gate, 0 or 2: one shared mask); see
            `LSTMCell`.
        learnable_initial_state: start from trainable initial states (zeros at first), broadcast over the
            batch, instead of zeros. `get_weights()` then lists them first, before the cell's variables.
        activity_regularizer: optional regularizer of the output.
        **kwargs: `name`, `dtype`, `trainable`, ...

    Call arguments:
        sequences: `(batch, timesteps, features)`.
        initial_state: optional list of initial state tensors (`(batch, units)` each): `[h, c]`.
        mask: optional `(batch, timesteps)` booleans, False at padded steps (set by `Embedding(mask_zero=True)`
            or `Masking`). A masked step keeps the previous states and repeats the previous output, exactly as
            the Keras layers do.
        training: whether dropout applies.

    Returns:
        The output (last or every step); with `return_state`, `[output, *final_states]`.

    The input projection `x_t W + b` of all steps is one matmul before the time loop. On GPU this is the
    generic (non-cuDNN) path; for cuDNN use the Keras layer: `set_weights` transfers the weights both ways.

    Differences from `keras.layers.LSTM` (deliberate; `tests/layers/test_argument_coverage_rnn.py` pins them):
    `zero_output_for_mask` and `implementation` are named arguments here (Keras reads them from `**kwargs`), and
    `learnable_initial_state` is keras-nn's own; `use_cudnn` is accepted and kept in the config, but the layer
    always runs its generic loop (no cuDNN kernel). Every other Keras argument, the layer-level properties
    (`layer.dropout` is `layer.cell.dropout`), the masks and the config are Keras's; `from_config` loads a Keras
    config.

    Example:
    >>> layer = keras_nn.layers.LSTM(8, return_state=True)
    >>> output, h, c = layer(np.zeros((2, 5, 3), "float32"))
    >>> output.shape, c.shape
    ((2, 8), (2, 8))

    References:
        Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural Computation 1997.
        Gers, Schmidhuber & Cummins, "Learning to Forget: Continual Prediction with LSTM", Neural
        Computation 2000.
    """

    _cell_class = LSTMCell
    _cell_name = "lstm"
    _takes_use_cudnn = True

    recurrent_activation = cell_attribute("recurrent_activation")
    unit_forget_bias = cell_attribute("unit_forget_bias")
    implementation = cell_attribute("implementation")

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        use_cudnn="auto",
        implementation=2,
        zero_output_for_mask=False,
        learnable_initial_state=False,
        **kwargs,
    ):
        super().__init__(**forward_arguments(locals()))
