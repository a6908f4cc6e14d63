"""Recurrent cells and sequence layers written from their equations with `keras.ops`.

`SimpleRNNCell`, `LSTMCell` and `GRUCell` hold the same variables as the Keras built-ins (`kernel`,
`recurrent_kernel`, `bias`, same shapes and gate order), so `ours.set_weights(keras_layer.get_weights())` gives
the same outputs. `SimpleRNN`, `LSTM` and `GRU` run a cell over time; `Bidirectional` runs a layer both ways;
`stacked_rnn` builds a stack of them.

The input projection `x_t @ kernel + bias` of every step is hoisted out of the time loop: one matmul over the
whole sequence, so the loop body holds only the recurrent matmul `h @ recurrent_kernel` and the gate arithmetic.
The loop itself takes one of two forms, with the same numbers (both are tested against the Keras layers):

- inference (`training=False`: predict, evaluate, export) runs `keras.ops.while_loop` (with
  `maximum_iterations`, which XLA needs to compile a gradient; `keras.ops.fori_loop` on JAX, whose `while_loop`
  has no reverse-mode gradient) and writes per-step outputs into a `(time, batch, units)` buffer with
  `keras.ops.scatter_update` (only with `return_sequences=True`). The TensorFlow graph holds no tensor-list
  ops, so it converts to TFLite with builtin ops only (WHILE, GATHER, FULLY_CONNECTED, SCATTER_ND) at any batch
  size, without the converter's single-batch tensor-list option, and to ONNX (Loop, Gather, MatMul, ScatterND).
- training (`training=True`, not unrolled) runs the loop behind `keras.layers.RNN` (`keras.src.backend.rnn`:
  a TensorArray loop on TensorFlow, `lax.scan` on JAX), whose gradient costs O(1) per step; the gather above
  has a gradient TensorFlow accumulates densely over the sequence at every step outside XLA.

On a GPU these layers take this generic path. For the cuDNN kernel use `keras.layers.LSTM` / `keras.layers.GRU`
(with `reset_after=True`): the weights transfer both ways with `set_weights`.
"""

import keras
from keras import ops

# The per-backend RNN loop behind keras.layers.RNN (no public alias); used for the training pass only.
from keras.src import backend as _keras_backend

from keras_nn.errors import ConfigError, ShapeError

CELL_TYPES = ("simple_rnn", "lstm", "gru")
MERGE_MODES = ("concat", "sum", "ave", "mul", None)


def _check_units(owner, units):
    if not isinstance(units, int) or isinstance(units, bool) or units < 1:
        raise ConfigError(f"{owner}: units={units!r} must be a positive integer")


def _check_rate(owner, name, value):
    if not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"{owner}: {name}={value!r} must be in [0, 1)")


def _serialize(getter_module, value):
    return getter_module.serialize(value) if value is not None else None


# Keywords of the sequence layer itself; the rest of a sequence layer's keywords configure its cell.
_LAYER_ARGUMENTS = ("name", "dtype", "trainable", "activity_regularizer", "autocast")


class _RecurrentCell(keras.layers.Layer):
    """What the three cells share: variables, the hoisted input projection and sequence-fixed dropout masks.

    A cell splits one Keras-style step `call(inputs, states)` into `project_inputs` (the part without
    recurrence, which a sequence layer runs on all steps at once) and `step` (the recurrent part).
    """

    _num_gates = 1

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
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        _check_units(type(self).__name__, units)
        _check_rate(type(self).__name__, "dropout", dropout)
        _check_rate(type(self).__name__, "recurrent_dropout", recurrent_dropout)
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    @property
    def output_size(self):
        return self.units

    @property
    def state_sizes(self):
        """`state_size` as a list (one entry per state tensor)."""
        return list(self.state_size) if isinstance(self.state_size, (list, tuple)) else [self.state_size]

    def _bias_shape(self):
        return (self._num_gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ShapeError(
                f"{self.name}: the feature (last) dimension of the inputs must be known; got {input_shape}"
            )
        width = self._num_gates * self.units
        self.kernel = self.add_weight(
            shape=(input_dim, width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=self._bias_shape(),
                name="bias",
                initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None

    def _input_bias(self):
        return self.bias

    def _masked_matmul(self, x, masks, kernel):
        """`x @ kernel`, with `x` multiplied by one dropout mask per gate (`masks`: `(batch, n, features)`).

        One mask (`n == 1`) is shared by every gate; with `n` masks, each gate's columns of `kernel` see their
        own, as in Keras when `recurrent_dropout > 0` (its `implementation=1`). `x` may have leading time axes.
        """
        if masks is None:
            return ops.matmul(x, kernel)
        if masks.shape[1] == 1:
            return ops.matmul(x * masks[:, 0, :], kernel)
        gates = kernel.shape[-1] // self.units
        return ops.concatenate(
            [
                ops.matmul(x * masks[:, i, :], kernel[:, i * self.units : (i + 1) * self.units])
                for i in range(gates)
            ],
            axis=-1,
        )

    def project_inputs(self, inputs, input_masks=None):
        """The recurrence-free part of every gate: `inputs @ kernel + input bias`.

        Args:
            inputs: `(..., batch, features)`: one step, or all steps time-major.
            input_masks: dropout masks `(batch, n, features)` from `dropout_masks`, or None.

        Returns:
            `(..., batch, gates * units)`.
        """
        projected = self._masked_matmul(inputs, input_masks, self.kernel)
        if self.use_bias:
            projected = projected + self._input_bias()
        return projected

    def dropout_masks(self, inputs, state, training=False):
        """Dropout masks for one sequence: `(input_masks, recurrent_masks)`, each None when not used.

        They are drawn once and reused at every step (variational dropout, Gal & Ghahramani 2016, as Keras
        does). With `recurrent_dropout > 0` every gate gets its own masks, as in Keras.

        Args:
            inputs: one step of inputs, `(batch, features)`.
            state: the first state, `(batch, units)`.
            training: whether dropout applies.
        """
        if not training:
            return None, None
        count = self._num_gates if self.recurrent_dropout > 0 else 1
        input_masks = recurrent_masks = None
        if self.dropout > 0:
            ones = ops.ones((ops.shape(inputs)[0], count, inputs.shape[-1]), dtype=inputs.dtype)
            input_masks = keras.random.dropout(ones, self.dropout, seed=self.seed_generator)
        if self.recurrent_dropout > 0:
            ones = ops.ones((ops.shape(state)[0], count, self.units), dtype=state.dtype)
            recurrent_masks = keras.random.dropout(ones, self.recurrent_dropout, seed=self.seed_generator)
        return input_masks, recurrent_masks

    def step(self, projected, states, recurrent_masks=None):
        """One step from projected inputs: returns `(output, new_states)` (a list)."""
        raise NotImplementedError

    def call(self, inputs, states, training=False):
        nested = isinstance(states, (list, tuple))
        states = list(states) if nested else [states]
        input_masks, recurrent_masks = self.dropout_masks(inputs, states[0], training)
        output, new_states = self.step(self.project_inputs(inputs, input_masks), states, recurrent_masks)
        return output, (new_states if nested else new_states[0])

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_sizes]

    def get_config(self):
        config = {
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": _serialize(keras.regularizers, self.kernel_regularizer),
            "recurrent_regularizer": _serialize(keras.regularizers, self.recurrent_regularizer),
            "bias_regularizer": _serialize(keras.regularizers, self.bias_regularizer),
            "kernel_constraint": _serialize(keras.constraints, self.kernel_constraint),
            "recurrent_constraint": _serialize(keras.constraints, self.recurrent_constraint),
            "bias_constraint": _serialize(keras.constraints, self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="keras_nn")
class SimpleRNNCell(_RecurrentCell):
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
        inputs: one step, `(batch, features)`.
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

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.state_size = units

    def step(self, projected, states, recurrent_masks=None):
        recurrent = self._masked_matmul(states[0], recurrent_masks, self.recurrent_kernel)
        output = projected + recurrent
        if self.activation is not None:
            output = self.activation(output)
        return output, [output]


@keras.saving.register_keras_serializable(package="keras_nn")
class LSTMCell(_RecurrentCell):
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
        seed: seed of the dropout masks.

    Call arguments:
        inputs: one step, `(batch, features)`.
        states: the previous state: `[h, c]`, each `(batch, units)`.
        training: whether dropout applies. Called on its own, a cell draws new dropout masks on every call;
            the sequence layers draw them once per sequence.

    Returns:
        `(output, new_states)`, output `(batch, units)`.

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
        self, units, activation="tanh", recurrent_activation="sigmoid", unit_forget_bias=True, **kwargs
    ):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.unit_forget_bias = unit_forget_bias
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
        }


@keras.saving.register_keras_serializable(package="keras_nn")
class GRUCell(_RecurrentCell):
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
        seed: seed of the dropout masks.

    Call arguments:
        inputs: one step, `(batch, features)`.
        states: the previous state; `(batch, units)` or a list of it.
        training: whether dropout applies. Called on its own, a cell draws new dropout masks on every call;
            the sequence layers draw them once per sequence.

    Returns:
        `(output, new_states)`, output `(batch, units)`.

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

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", reset_after=True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.reset_after = reset_after
        self.state_size = units

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
        }


def _run_time_loop(
    step, projected, states, time_mask, output_size, return_sequences, zero_output_for_mask, unroll
):
    """Runs `step` over time-major `projected` `(time, batch, width)`; returns `(last_output, outputs, states)`.

    Masked steps follow Keras (`keras.src.backend.*.rnn`): the states keep their previous values and the output
    is the previous step's output (zeros before the first unmasked step), or zeros with `zero_output_for_mask`.
    `outputs` is `(time, batch, units)` time-major, or None without `return_sequences`.
    """
    dtype = projected.dtype
    batch = ops.shape(projected)[1]
    static_steps = projected.shape[0]
    num_steps = static_steps if static_steps is not None else ops.shape(projected)[0]
    zero_output = ops.zeros((batch, output_size), dtype=dtype)

    def advance(x_t, mask_t, states, previous_output):
        output, new_states = step(x_t, states)
        if mask_t is not None:
            keep = ops.expand_dims(mask_t, -1)
            output = ops.where(keep, output, zero_output if zero_output_for_mask else previous_output)
            new_states = [ops.where(keep, new, old) for new, old in zip(new_states, states, strict=True)]
        return output, list(new_states)

    if unroll:
        outputs = []
        output = zero_output
        for t in range(static_steps):
            output, states = advance(
                projected[t], None if time_mask is None else time_mask[t], states, output
            )
            outputs.append(output)
        return output, (ops.stack(outputs, axis=0) if return_sequences else None), states

    def body(t, carry):
        # carry: (states, previous output[, output buffer]); TensorFlow loop variables cannot be None.
        states, output = list(carry[0]), carry[1]
        mask_t = None if time_mask is None else ops.take(time_mask, t, axis=0)
        output, states = advance(ops.take(projected, t, axis=0), mask_t, states, output)
        if not return_sequences:
            return tuple(states), output
        buffer = ops.scatter_update(carry[2], ops.reshape(t, (1, 1)), ops.expand_dims(output, 0))
        return tuple(states), output, buffer

    carry = (tuple(states), zero_output)
    if return_sequences:
        carry += (ops.zeros((num_steps, batch, output_size), dtype=dtype),)
    if keras.backend.backend() == "jax":
        # jax.lax.while_loop has no reverse-mode gradient; fori_loop with static bounds lowers to lax.scan.
        carry = ops.fori_loop(0, num_steps, body, carry)
    else:
        # TensorFlow needs maximum_iterations to size the gradient's accumulators under XLA (jit_compile).
        _, carry = ops.while_loop(
            lambda t, carry: t < num_steps,
            lambda t, carry: (t + 1, body(t, carry)),
            (0, carry),
            maximum_iterations=num_steps,
        )
    states, output = carry[0], carry[1]
    buffer = carry[2] if return_sequences else None
    return output, buffer, list(states)


class _RecurrentSequence(keras.layers.Layer):
    """Runs a cell over the time axis: the base of `SimpleRNN`, `LSTM` and `GRU`."""

    _cell_class = None
    _cell_name = None

    def __init__(
        self,
        units,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        learnable_initial_state=False,
        **kwargs,
    ):
        layer_kwargs = {key: kwargs.pop(key) for key in _LAYER_ARGUMENTS if key in kwargs}
        super().__init__(**layer_kwargs)
        # Every other keyword (activation, initializers, dropout, unit_forget_bias, reset_after, ...) belongs
        # to the cell, which checks it: one place defines each cell argument and its default.
        self.cell = self._cell_class(
            units,
            dtype=layer_kwargs.get("dtype"),
            trainable=layer_kwargs.get("trainable", True),
            name=f"{self._cell_name}_cell",
            **kwargs,
        )
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = stateful
        self.unroll = unroll
        self.zero_output_for_mask = zero_output_for_mask
        self.learnable_initial_state = learnable_initial_state
        self.supports_masking = True
        self.state_size = self.cell.state_sizes
        self.initial_state_weights = None
        # Stateful states are kept out of the tracked weights (as Keras does), so get_weights/set_weights
        # match the Keras layer's.
        object.__setattr__(self, "_state_variables", None)

    @property
    def units(self):
        return self.cell.units

    @property
    def states(self):
        """The carried states of a stateful layer (None otherwise)."""
        return self._state_variables

    def build(self, sequences_shape, initial_state_shape=None):
        if len(sequences_shape) != 3:
            raise ShapeError(
                f"{self.name} takes sequences of shape (batch, timesteps, features); got {tuple(sequences_shape)}"
            )
        if self.unroll and sequences_shape[1] is None:
            raise ShapeError(
                f"{self.name}: unroll=True needs a known number of timesteps; got {tuple(sequences_shape)}"
            )
        if not self.cell.built:
            self.cell.build((sequences_shape[0], sequences_shape[-1]))
        if self.learnable_initial_state:
            names = ["initial_h", "initial_c"] if len(self.state_size) == 2 else ["initial_h"]
            self.initial_state_weights = [
                self.add_weight(shape=(size,), name=name, initializer="zeros")
                for name, size in zip(names, self.state_size, strict=True)
            ]
        if self.stateful:
            if sequences_shape[0] is None:
                raise ShapeError(
                    f"{self.name}: stateful=True needs a static batch size; build with keras.Input(batch_size=...)"
                )
            variables = [
                keras.Variable(
                    ops.zeros((sequences_shape[0], size)),
                    trainable=False,
                    dtype=self.variable_dtype,
                    name=f"state_{i}",
                )
                for i, size in enumerate(self.state_size)
            ]
            object.__setattr__(self, "_state_variables", variables)

    def reset_state(self):
        """Zeroes the carried states of a stateful layer."""
        for variable in self._state_variables or []:
            variable.assign(ops.zeros_like(variable.value))

    def reset_states(self):
        self.reset_state()

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch = sequences_shape[0]
        if self.return_sequences:
            output_shape = (batch, sequences_shape[1], self.cell.output_size)
        else:
            output_shape = (batch, self.cell.output_size)
        if self.return_state:
            return (output_shape, *[(batch, size) for size in self.state_size])
        return output_shape

    def compute_mask(self, _, mask):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    def _initial_states(self, sequences, initial_state):
        dtype = self.cell.compute_dtype
        batch = ops.shape(sequences)[0]
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(states) != len(self.state_size):
                raise ShapeError(
                    f"{self.name} takes {len(self.state_size)} initial state tensor(s) of sizes {self.state_size}; "
                    f"got {len(states)}"
                )
        elif self.stateful:
            states = [variable.value for variable in self._state_variables]
        elif self.learnable_initial_state:
            states = [
                ops.broadcast_to(ops.expand_dims(ops.cast(weight, dtype), 0), (batch, size))
                for weight, size in zip(self.initial_state_weights, self.state_size, strict=True)
            ]
        else:
            states = self.cell.get_initial_state(batch)
        return [ops.cast(state, dtype) for state in states]

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if self.unroll and sequences.shape[1] is None:
            raise ShapeError(
                f"{self.name}: unroll=True needs a known number of timesteps; got {sequences.shape}"
            )
        states = self._initial_states(sequences, initial_state)
        input_masks, recurrent_masks = self.cell.dropout_masks(sequences[:, 0, :], states[0], training)

        # Time-major from here on: the loop indexes axis 0. Transposing the (narrower) inputs is cheaper than
        # transposing the projection.
        inputs = ops.transpose(sequences, (1, 0, 2))
        time_mask = None
        if mask is not None:
            if isinstance(mask, (list, tuple)):
                mask = mask[0]
            time_mask = ops.transpose(ops.cast(mask, "bool"), (1, 0))
        if self.go_backwards:
            inputs = ops.flip(inputs, axis=0)
            time_mask = None if time_mask is None else ops.flip(time_mask, axis=0)
        projected = self.cell.project_inputs(inputs, input_masks)

        def step(x_t, states):
            return self.cell.step(x_t, list(states), recurrent_masks)

        if training and not self.unroll:
            # Training runs the loop Keras's own RNN layers run (a TensorArray loop on TensorFlow, lax.scan on
            # JAX): its gradient costs O(1) per step. The inference loop below reads steps with a gather,
            # whose gradient TensorFlow accumulates densely over the whole sequence at every step when the
            # graph is not XLA-compiled (training step 12x slower than keras.layers.LSTM at 500 steps).
            last_output, outputs, states = _keras_backend.rnn(
                step,
                projected,
                states,
                mask=time_mask,
                time_major=True,
                input_length=projected.shape[0],
                zero_output_for_mask=self.zero_output_for_mask,
                return_all_outputs=self.return_sequences,
            )
            states = list(states)
        else:
            last_output, outputs, states = _run_time_loop(
                step,
                projected,
                states,
                time_mask,
                self.cell.output_size,
                self.return_sequences,
                self.zero_output_for_mask,
                self.unroll,
            )
        if self.stateful:
            for variable, state in zip(self._state_variables, states, strict=True):
                variable.assign(ops.cast(state, variable.dtype))
        if self.return_sequences:
            output = ops.cast(ops.transpose(outputs, (1, 0, 2)), self.compute_dtype)
        else:
            output = ops.cast(last_output, self.compute_dtype)
        if self.return_state:
            return (output, *[ops.cast(state, self.compute_dtype) for state in states])
        return output

    def get_config(self):
        cell_config = {
            key: value
            for key, value in self.cell.get_config().items()
            if key not in ("name", "trainable", "dtype")
        }
        return {
            **super().get_config(),
            **cell_config,
            "activity_regularizer": _serialize(keras.regularizers, self.activity_regularizer),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
            "learnable_initial_state": self.learnable_initial_state,
        }


@keras.saving.register_keras_serializable(package="keras_nn")
class SimpleRNN(_RecurrentSequence):
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
        **kwargs: `name`, `dtype`, `trainable`, `activity_regularizer`, ...

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

    Example:
    >>> layer = keras_nn.layers.SimpleRNN(8, return_sequences=True)
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    (2, 5, 8)

    References:
        Elman, "Finding Structure in Time", Cognitive Science 1990.
    """

    _cell_class = SimpleRNNCell
    _cell_name = "simple_rnn"


@keras.saving.register_keras_serializable(package="keras_nn")
class LSTM(_RecurrentSequence):
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
        learnable_initial_state: start from trainable initial states (zeros at first), broadcast over the
            batch, instead of zeros. `get_weights()` then lists them first, before the cell's variables.
        **kwargs: `name`, `dtype`, `trainable`, `activity_regularizer`, ...

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


@keras.saving.register_keras_serializable(package="keras_nn")
class GRU(_RecurrentSequence):
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
        learnable_initial_state: start from trainable initial states (zeros at first), broadcast over the
            batch, instead of zeros. `get_weights()` then lists them first, before the cell's variables.
        **kwargs: `name`, `dtype`, `trainable`, `activity_regularizer`, ...

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


def _renamed(layer, prefix, **changes):
    """A fresh copy of `layer` (same config, new weights) named `prefix + name`, with config `changes`."""
    config = keras.saving.serialize_keras_object(layer)
    name = layer.name
    for old in ("forward_", "backward_"):
        if name.startswith(old):
            name = name[len(old) :]
    config["config"]["name"] = f"{prefix}{name}"
    config["config"].update(changes)
    return keras.saving.deserialize_keras_object(config)


@keras.saving.register_keras_serializable(package="keras_nn")
class Bidirectional(keras.layers.Layer):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges the two outputs.

    Works with the keras_nn layers and with Keras recurrent layers alike, and matches
    `keras.layers.Bidirectional` (same weights, in the same order: forward then backward). The backward
    output sequence is flipped back into input order before merging; with a mask, the sequence outputs are
    zero at masked steps (both layers get `zero_output_for_mask = return_sequences`, as in Keras).

    Args:
        layer: a recurrent layer (`keras_nn.layers.LSTM`, `keras.layers.GRU`, ...). It is copied from its
            config (fresh weights) into `forward_layer`.
        merge_mode: `"concat"`, `"sum"`, `"ave"`, `"mul"`, or None for a list `[forward, backward]`.
        backward_layer: an optional layer for the backward direction (`go_backwards=True`, same
            `return_sequences`, `return_state` and `stateful` as `layer`); default: a copy of `layer`.
        **kwargs: `name`, `dtype`, `trainable`, ...

    Call arguments:
        sequences: `(batch, timesteps, features)`.
        initial_state: optional list: the forward layer's initial states then the backward layer's.
        mask: optional `(batch, timesteps)` booleans, False at padded steps.
        training: whether dropout applies.

    Returns:
        The merged output; with `return_state`, followed by the forward then the backward final states.

    Example:
    >>> layer = keras_nn.layers.Bidirectional(keras_nn.layers.LSTM(8, return_sequences=True))
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    (2, 5, 16)

    References:
        Schuster & Paliwal, "Bidirectional Recurrent Neural Networks", IEEE Trans. Signal Processing 1997.
    """

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        if merge_mode not in MERGE_MODES:
            raise ConfigError(
                f"Bidirectional: merge_mode={merge_mode!r} is not allowed; choose one of: "
                f"{', '.join(map(str, MERGE_MODES))}"
            )
        for candidate in (layer, backward_layer):
            if candidate is not None and not (
                isinstance(candidate, keras.layers.Layer) and hasattr(candidate, "go_backwards")
            ):
                raise ConfigError(
                    f"Bidirectional wraps a recurrent layer (with go_backwards, return_sequences); got {candidate!r}"
                )
        super().__init__(**kwargs)
        self.forward_layer = _renamed(layer, "forward_")
        if backward_layer is None:
            self.backward_layer = _renamed(layer, "backward_", go_backwards=True)
        else:
            self.backward_layer = backward_layer
        if self.forward_layer.go_backwards == self.backward_layer.go_backwards:
            raise ConfigError(
                "Bidirectional: the forward and backward layers need different go_backwards; got "
                f"{self.forward_layer.go_backwards} for both"
            )
        for attribute in ("stateful", "return_sequences", "return_state"):
            forward, backward = (
                getattr(self.forward_layer, attribute),
                getattr(self.backward_layer, attribute),
            )
            if forward != backward:
                raise ConfigError(
                    f"Bidirectional: the forward and backward layers need the same {attribute}; got {forward} "
                    f"and {backward}"
                )
        for sublayer in (self.forward_layer, self.backward_layer):
            # Zero outputs at masked steps, so both directions agree on what padding gives (as Keras).
            if getattr(sublayer, "zero_output_for_mask", None) is not None:
                sublayer.zero_output_for_mask = sublayer.return_sequences
        self.merge_mode = merge_mode
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True

    def build(self, sequences_shape, initial_state_shape=None):
        if not self.forward_layer.built:
            self.forward_layer.build(sequences_shape)
        if not self.backward_layer.built:
            self.backward_layer.build(sequences_shape)

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        output_shape = self.forward_layer.compute_output_shape(sequences_shape)
        state_shapes = ()
        if self.return_state:
            output_shape, state_shapes = output_shape[0], tuple(output_shape[1:])
        if self.merge_mode == "concat":
            output_shape = (*output_shape[:-1], output_shape[-1] * 2)
        outputs = (output_shape, output_shape) if self.merge_mode is None else (output_shape,)
        if self.return_state:
            return outputs + state_shapes + state_shapes
        return outputs if self.merge_mode is None else output_shape

    def compute_mask(self, _, mask):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        masks = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            return masks + [None] * (2 * len(_state_count(self.forward_layer)))
        return masks if self.merge_mode is None else output_mask

    def call(self, sequences, initial_state=None, mask=None, training=None):
        kwargs = {"training": training, "mask": mask}
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = list(initial_state[:half]), list(initial_state[half:])
        y = self.forward_layer(sequences, initial_state=forward_state, **kwargs)
        y_reverse = self.backward_layer(sequences, initial_state=backward_state, **kwargs)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_reverse[1:])
            y, y_reverse = y[0], y_reverse[0]
        y = ops.cast(y, self.compute_dtype)
        y_reverse = ops.cast(y_reverse, self.compute_dtype)
        if self.return_sequences:
            y_reverse = ops.flip(y_reverse, axis=1)
        if self.merge_mode == "concat":
            output = ops.concatenate([y, y_reverse], axis=-1)
        elif self.merge_mode == "sum":
            output = y + y_reverse
        elif self.merge_mode == "ave":
            output = (y + y_reverse) / 2
        elif self.merge_mode == "mul":
            output = y * y_reverse
        else:
            output = (y, y_reverse)
        if self.return_state:
            return (output if isinstance(output, tuple) else (output,)) + states
        return output

    @property
    def states(self):
        forward, backward = (
            getattr(self.forward_layer, "states", None),
            getattr(self.backward_layer, "states", None),
        )
        return tuple(forward) + tuple(backward) if forward and backward else None

    def reset_state(self):
        if not self.stateful:
            raise ConfigError(f"{self.name}: reset_state() needs a stateful layer (stateful=True)")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self):
        self.reset_state()

    def get_config(self):
        return {
            **super().get_config(),
            "merge_mode": self.merge_mode,
            "layer": keras.saving.serialize_keras_object(self.forward_layer),
            "backward_layer": keras.saving.serialize_keras_object(self.backward_layer),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(
            config["layer"], custom_objects=custom_objects
        )
        config["backward_layer"] = keras.saving.deserialize_keras_object(
            config["backward_layer"], custom_objects=custom_objects
        )
        return cls(**config)


def _state_count(layer):
    cell = getattr(layer, "cell", None)
    size = getattr(cell, "state_size", getattr(layer, "state_size", 1))
    return list(size) if isinstance(size, (list, tuple)) else [size]


_SEQUENCE_CLASSES = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}


def stacked_rnn(
    cell_type,
    units,
    num_layers=1,
    bidirectional=False,
    return_sequences=False,
    merge_mode="concat",
    name=None,
    **layer_kwargs,
):
    """A stack of recurrent layers, each feeding the next its full output sequence.

    Args:
        cell_type: `"simple_rnn"`, `"lstm"`, `"gru"`, or a layer class taking `units` (`keras_nn.layers.LSTM`,
            `keras.layers.GRU`, ...).
        units: units of every layer, or a list with one entry per layer.
        num_layers: number of layers.
        bidirectional: wrap each layer in `Bidirectional`.
        return_sequences: whether the last layer returns every step (the others always do).
        merge_mode: `Bidirectional` merge mode.
        name: prefix of the layer names: `{name}_1`, `{name}_2`, ... (wrappers `bidirectional_{name}_1`, ...);
            default: Keras's automatic names.
        **layer_kwargs: passed to every layer (`dropout`, `recurrent_dropout`, `learnable_initial_state`,
            `reset_after`, ...).

    Returns:
        A list of layers; call them in order, or pass the list to `keras.Sequential`.

    Example:
    >>> layers = keras_nn.layers.stacked_rnn("lstm", 32, num_layers=2, bidirectional=True)
    >>> keras.Sequential(layers)(np.zeros((2, 5, 3), "float32")).shape
    (2, 64)
    """
    if isinstance(cell_type, str):
        if cell_type not in _SEQUENCE_CLASSES:
            raise ConfigError(
                f"cell_type={cell_type!r} is not allowed; choose one of: {', '.join(CELL_TYPES)}"
            )
        layer_class = _SEQUENCE_CLASSES[cell_type]
    elif isinstance(cell_type, type) and issubclass(cell_type, keras.layers.Layer):
        layer_class = cell_type
    else:
        raise ConfigError(f"cell_type={cell_type!r} must be one of {', '.join(CELL_TYPES)} or a layer class")
    if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 1:
        raise ConfigError(f"num_layers={num_layers!r} must be a positive integer")
    units_list = list(units) if isinstance(units, (list, tuple)) else [units] * num_layers
    if len(units_list) != num_layers:
        raise ConfigError(
            f"units={units!r} has {len(units_list)} entries for num_layers={num_layers}; give one per layer"
        )

    layers = []
    for index, layer_units in enumerate(units_list):
        last = index == num_layers - 1
        layer_name = None if name is None else f"{name}_{index + 1}"
        layer = layer_class(
            layer_units, return_sequences=return_sequences if last else True, name=layer_name, **layer_kwargs
        )
        if bidirectional:
            wrapper_name = None if name is None else f"bidirectional_{name}_{index + 1}"
            layer = Bidirectional(layer, merge_mode=merge_mode, name=wrapper_name)
        layers.append(layer)
    return layers
