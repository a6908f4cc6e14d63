"""The gated recurrent unit cell and layer: `GRUCell` (one step) and `GRU` (the cell run over time).

Same variables and gate order as `keras.layers.GRUCell` / `keras.layers.GRU` with the same `reset_after`, so
`set_weights` from one gives the same outputs in the other. The time loop and what all recurrent layers share
are in `rnn/base.py`.
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
class GRUCell(RecurrentCell):
    """Gated recurrent unit, in Keras's gate order (update z, reset r, candidate).

        z = s(x W_z + h U_z + b_z)      r = s(x W_r + h U_r + b_r)      h_t = z * h_{t-1} + (1 - z) * n
        reset_after=True  (Keras default, cuDNN): n = tanh(x W_n + b_n + r * (h U_n + b'_n))
        reset_after=False (Cho et al. 2014):      n = tanh(x W_n + b_n + (r * h) U_n)

    Same variables as `keras.layers.GRUCell`: `kernel (features, 3 units)`, `recurrent_kernel (units,
    3 units)`, `bias` `(2, 3 units)` with `reset_after` (row 0 input biases, row 1 recurrent biases) or
    `(3 units,)` without.

    Args:
        units: size of the state and output.
        activation: the candidate nonlinearity (default `"tanh"`).
        recurrent_activation: the gate nonlinearity (default `"sigmoid"`).
        use_bias: add the biases.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers (Keras defaults).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: optional regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: optional constraints.
        dropout: dropout rate on the inputs.
        recurrent_dropout: dropout rate on `h_{t-1}`.
        reset_after: apply the reset gate after the recurrent matmul (True) or before it (False).
        seed: seed of the dropout masks (the same seed draws the same masks as `keras.layers.GRUCell`).
        implementation: Keras's legacy argument: 1 gives every gate its own dropout masks, 2 (default) one mask
            shared by the gates (0, from old saved configs, is 2). `recurrent_dropout > 0` sets 1, as in Keras.
            Without dropout the numbers are the same either way; keras-nn always fuses the gates' matmuls.

    Call arguments:
        inputs: one step, `(batch, features)`.
        states: the previous state; `(batch, units)` or a list of it.
        training: whether dropout applies. Called on its own, a cell draws new dropout masks on every call;
            the sequence layers draw them once per sequence.

    Returns:
        `(output, new_states)`, output `(batch, units)`.

    Differs from `keras.layers.GRUCell` only in naming `implementation` (Keras reads it from `**kwargs`).

    Example:
    >>> cell = keras_nn.layers.GRUCell(4, reset_after=False)
    >>> h, _ = cell(np.zeros((2, 3), "float32"), [np.zeros((2, 4), "float32")])
    >>> h.shape
    (2, 4)

    References:
        Cho et al., "Learning Phrase Representations using RNN Encoder-Decoder for Statistical Machine
        Translation", EMNLP 2014, https://arxiv.org/abs/1406.1078.
    """

    _num_gates = 3

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        reset_after=True,
        seed=None,
        implementation=2,
        **kwargs,
    ):
        super().__init__(**forward_arguments(locals(), to=RecurrentCell.__init__))
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.reset_after = reset_after
        self.implementation = check_implementation(
            type(self).__name__, implementation, self.recurrent_dropout
        )

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        return self.bias[0] if self.reset_after else self.bias

    def step(self, projected, states, recurrent_masks=None):
        h = states[0]
        u = self.units
        x_z, x_r, x_n = ops.split(projected, 3, axis=-1)
        if self.reset_after:
            recurrent = self._masked_matmul(h, recurrent_masks, self.recurrent_kernel)
            if self.use_bias:
                recurrent = recurrent + self.bias[1]
            h_z, h_r, h_n = ops.split(recurrent, 3, axis=-1)
            z = self.recurrent_activation(x_z + h_z)
            r = self.recurrent_activation(x_r + h_r)
            n = self.activation(x_n + r * h_n)
        else:
            zr_masks = None if recurrent_masks is None else recurrent_masks[:, :2, :]
            h_z, h_r = ops.split(
                self._masked_matmul(h, zr_masks, self.recurrent_kernel[:, : 2 * u]), 2, axis=-1
            )
            z = self.recurrent_activation(x_z + h_z)
            r = self.recurrent_activation(x_r + h_r)
            h_n = h if recurrent_masks is None else h * recurrent_masks[:, -1, :]
            n = self.activation(x_n + ops.matmul(r * h_n, self.recurrent_kernel[:, 2 * u :]))
        h = z * h + (1.0 - z) * n
        return h, [h]

    def get_config(self):
        return {
            **super().get_config(),
            "recurrent_activation": keras.activations.serialize(self.recurrent_activation),
            "reset_after": self.reset_after,
            "implementation": self.implementation,
        }


@keras.saving.register_keras_serializable(package="keras_nn")
class GRU(RecurrentSequence):
    """Gated recurrent unit layer: runs `GRUCell` over a sequence.

    Same weights as `keras.layers.GRU` with the same `reset_after` (`kernel`, `recurrent_kernel`, `bias`,
    gates z, r, n): `set_weights` from one gives the same outputs in the other.

    Args:
        units: size of the state and output.
        activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
        recurrent_constraint, bias_constraint, dropout, recurrent_dropout, reset_after, seed: as for
        `GRUCell`.
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
            `GRUCell`.
        learnable_initial_state: start from trainable initial states (zeros at first), broadcast over the
            batch, instead of zeros. `get_weights()` then lists them first, before the cell's variables.
        activity_regularizer: optional regularizer of the output.
        **kwargs: `name`, `dtype`, `trainable`, ...

    Call arguments:
        sequences: `(batch, timesteps, features)`.
        initial_state: optional list of initial state tensors (`(batch, units)` each): `[h]`.
        mask: optional `(batch, timesteps)` booleans, False at padded steps (set by `Embedding(mask_zero=True)`
            or `Masking`). A masked step keeps the previous states and repeats the previous output, exactly as
            the Keras layers do.
        training: whether dropout applies.

    Returns:
        The output (last or every step); with `return_state`, `[output, *final_states]`.

    The input projection `x_t W + b` of all steps is one matmul before the time loop. On GPU this is the
    generic (non-cuDNN) path; for cuDNN use the Keras layer: `set_weights` transfers the weights both ways.

    Differences from `keras.layers.GRU` (deliberate; `tests/layers/test_argument_coverage_rnn.py` pins them):
    `zero_output_for_mask` and `implementation` are named arguments here (Keras reads them from `**kwargs`), and
    `learnable_initial_state` is keras-nn's own; `use_cudnn` is accepted and kept in the config, but the layer
    always runs its generic loop (no cuDNN kernel). Every other Keras argument, the layer-level properties
    (`layer.dropout` is `layer.cell.dropout`), the masks and the config are Keras's; `from_config` loads a Keras
    config.

    Example:
    >>> layer = keras_nn.layers.GRU(8, reset_after=False)
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    (2, 8)

    References:
        Cho et al., "Learning Phrase Representations using RNN Encoder-Decoder for Statistical Machine
        Translation", EMNLP 2014, https://arxiv.org/abs/1406.1078.
    """

    _cell_class = GRUCell
    _cell_name = "gru"
    _takes_use_cudnn = True

    recurrent_activation = cell_attribute("recurrent_activation")
    reset_after = cell_attribute("reset_after")
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
        reset_after=True,
        use_cudnn="auto",
        implementation=2,
        zero_output_for_mask=False,
        learnable_initial_state=False,
        **kwargs,
    ):
        super().__init__(**forward_arguments(locals()))
