"""The Elman recurrent cell and layer: `SimpleRNNCell` (one step) and `SimpleRNN` (the cell run over time).

Same variables as `keras.layers.SimpleRNNCell` / `keras.layers.SimpleRNN`, so `set_weights` from one gives the
same outputs in the other. The time loop and what all recurrent layers share are in `rnn/base.py`.
"""

import keras

from keras_nn.layers.rnn.base import RecurrentCell, RecurrentSequence, forward_arguments


@keras.saving.register_keras_serializable(package="keras_nn")
class SimpleRNNCell(RecurrentCell):
    """Elman recurrent cell: `h_t = activation(x_t W + h_{t-1} U + b)`.

    Same variables as `keras.layers.SimpleRNNCell`: `kernel (features, units)`, `recurrent_kernel
    (units, units)`, `bias (units,)`.

    Args:
        units: size of the state and output.
        activation: the nonlinearity (default `"tanh"`).
        use_bias: add `b`.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers of `W`, `U` and `b`
            (Keras defaults: glorot uniform, orthogonal, zeros).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: optional regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: optional constraints.
        dropout: dropout rate on the inputs `x_t`.
        recurrent_dropout: dropout rate on the previous state `h_{t-1}`.
        seed: seed of the dropout masks.

    Call arguments:
        sequence: one step, `(batch, features)` (Keras's name for it).
        states: the previous state; `(batch, units)` or a list of it.
        training: whether dropout applies. Called on its own, a cell draws new dropout masks on every call;
            the sequence layers draw them once per sequence.

    Returns:
        `(output, new_states)`, output `(batch, units)`.

    Example:
    >>> cell = keras_nn.layers.SimpleRNNCell(4)
    >>> h, _ = cell(np.zeros((2, 3), "float32"), [np.zeros((2, 4), "float32")])
    >>> h.shape
    (2, 4)

    References:
        Elman, "Finding Structure in Time", Cognitive Science 1990.
    """

    def call(self, sequence, states, training=False):
        # Keras's SimpleRNNCell names its step input `sequence` (LSTMCell and GRUCell: `inputs`).
        return super().call(sequence, states, training=training)

    def step(self, projected, states, recurrent_masks=None):
        recurrent = self._masked_matmul(states[0], recurrent_masks, self.recurrent_kernel)
        output = projected + recurrent
        if self.activation is not None:
            output = self.activation(output)
        return output, [output]


@keras.saving.register_keras_serializable(package="keras_nn")
class SimpleRNN(RecurrentSequence):
    """Elman recurrent layer: runs `SimpleRNNCell` over a sequence.

    Same weights as `keras.layers.SimpleRNN` (`kernel`, `recurrent_kernel`, `bias`): `set_weights` from one
    gives the same outputs in the other.

    Args:
        units: size of the state and output.
        activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer, kernel_regularizer,
        recurrent_regularizer, bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint,
        dropout, recurrent_dropout, seed: as for `SimpleRNNCell`.
        return_sequences: return the output of every step `(batch, timesteps, units)` instead of the last one.
        return_state: also return the final state(s).
        go_backwards: read the sequence from the end; the returned sequence is in that (reversed) order.
        stateful: carry the final states of a batch over as the initial states of the next one (needs a
            static batch size; `reset_state()` zeroes them).
        unroll: unroll the time loop in the graph (needs a known number of timesteps; faster for short
            sequences, more memory).
        zero_output_for_mask: masked steps output zeros instead of the previous output (`Bidirectional` turns
            it on for sequences, as Keras does).
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

    Differences from `keras.layers.SimpleRNN` (deliberate; `tests/layers/test_argument_coverage_rnn.py` pins them):
    `zero_output_for_mask` is a named argument here (Keras reads it from `**kwargs`), and
    `learnable_initial_state` is keras-nn's own. Every other Keras argument, the layer-level properties
    (`layer.dropout` is `layer.cell.dropout`), the masks and the config are Keras's; `from_config` loads a Keras
    config.

    Example:
    >>> layer = keras_nn.layers.SimpleRNN(8, return_sequences=True)
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    (2, 5, 8)

    References:
        Elman, "Finding Structure in Time", Cognitive Science 1990.
    """

    _cell_class = SimpleRNNCell
    _cell_name = "simple_rnn"

    def __init__(
        self,
        units,
        activation="tanh",
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
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        seed=None,
        zero_output_for_mask=False,
        learnable_initial_state=False,
        **kwargs,
    ):
        super().__init__(**forward_arguments(locals()))
