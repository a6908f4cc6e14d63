"""What the recurrent layers share: the cell base class, the time loop and the sequence-layer base class.

`RecurrentCell` holds the variables of the Keras built-in cells (`kernel`, `recurrent_kernel`, `bias`, same
shapes and gate order), so `ours.set_weights(keras_layer.get_weights())` gives the same outputs; a cell
(`SimpleRNNCell`, `LSTMCell`, `GRUCell`) adds its gate arithmetic in `step`. `RecurrentSequence` runs a cell
over time (`SimpleRNN`, `LSTM`, `GRU` name their cell class); `run_time_loop` is its export-friendly loop.

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
(with `reset_after=True`): the weights transfer both ways with `set_weights`. `use_cudnn` is accepted (and kept in
the config) for drop-in compatibility, and changes nothing: see `check_use_cudnn`.
"""

import inspect
import warnings

import keras
from keras import ops

# The per-backend RNN loop behind keras.layers.RNN (no public alias); used for the training pass only.
from keras.src import backend as _keras_backend

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers.validation import check_positive_int, check_rate


def _serialize(getter_module, value):
    return getter_module.serialize(value) if value is not None else None


# Keywords of the sequence layer itself; the rest of a sequence layer's keywords configure its cell.
_LAYER_ARGUMENTS = ("name", "dtype", "trainable", "activity_regularizer", "autocast")

# Keras's `implementation`: 1 computes each gate with its own matmul and its own dropout masks; 2 (the default)
# fuses the gates, with one dropout mask. 0 is the Keras 1 value that old saved configs still carry; Keras 3
# treats it as 2.
IMPLEMENTATIONS = (0, 1, 2)
USE_CUDNN_VALUES = ("auto", True, False)


def check_implementation(owner, implementation, recurrent_dropout):
    """The effective `implementation` of a gated cell, as Keras sets it: 1 whenever `recurrent_dropout > 0`.

    Only the dropout masks depend on it (one per gate with 1, one shared with 0 or 2): without dropout both give
    the same numbers, so keras-nn keeps its one fused input projection either way.
    """
    if isinstance(implementation, bool) or implementation not in IMPLEMENTATIONS:
        raise ConfigError(
            f"{owner}: implementation={implementation!r} is not allowed; choose one of: "
            f"{', '.join(map(str, IMPLEMENTATIONS))}"
        )
    return 1 if recurrent_dropout > 0 else int(implementation)


def check_use_cudnn(owner, use_cudnn):
    """Checks Keras's `use_cudnn` ("auto", True or False); keras-nn's layers run their own loop whatever it is.

    keras-nn's loop is the one that exports (TFLite builtins, ONNX) and runs on every backend; it has no cuDNN
    kernel. "auto" and False therefore behave as in Keras on a machine without cuDNN. True (Keras: cuDNN or an
    error) warns that it runs the generic loop too, rather than fail a model written for `keras.layers`.
    """
    if use_cudnn not in USE_CUDNN_VALUES or not isinstance(use_cudnn, (str, bool)):
        raise ConfigError(
            f"{owner}: use_cudnn={use_cudnn!r} is not allowed; choose one of: 'auto', True, False"
        )
    if use_cudnn is True:
        warnings.warn(
            f"{owner}: use_cudnn=True has no effect: keras-nn's layers have no cuDNN kernel and run their generic "
            f"loop; for cuDNN use keras.layers.{owner} (set_weights transfers the weights both ways)",
            stacklevel=3,
        )
    return use_cudnn


def forward_arguments(arguments, to=None):
    """An `__init__`'s `locals()` as the keywords of its base class's `__init__`: flat (`**kwargs` spread).

    Lets the layers and cells spell out their Keras counterpart's signature (same names, order and defaults)
    without repeating every name in the call to the base. With `to` (the base's `__init__`), only the names `to`
    declares are kept: the subclass handles the others itself.
    """
    arguments = {key: value for key, value in arguments.items() if key not in ("self", "__class__")}
    extra = arguments.pop("kwargs", {})
    if to is not None:
        declared = inspect.signature(to).parameters
        arguments = {key: value for key, value in arguments.items() if key in declared}
    return {**arguments, **extra}


def cell_attribute(name):
    """A read-only property of a sequence layer that reads its cell's `name`, as the Keras layers expose them."""
    return property(lambda self: getattr(self.cell, name), doc=f"The cell's `{name}` (read-only).")


class RecurrentCell(keras.layers.Layer):
    """The base of the recurrent cells: variables, the hoisted input projection, sequence-fixed dropout masks.

    A cell splits one Keras-style step `call(inputs, states)` into `project_inputs` (the part without
    recurrence, which a sequence layer runs on all steps at once) and `step` (the recurrent part). A subclass
    sets `_num_gates` (the width of `kernel` is `_num_gates * units`), `state_size` if it is not `units`, and
    implements `step`; it may override `_bias_shape`, `_bias_initializer` and `_input_bias` (GRU's two bias rows
    do).

    Args:
        units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint, recurrent_constraint,
        bias_constraint, dropout, recurrent_dropout, seed: as for `SimpleRNNCell`.
        **kwargs: `name`, `dtype`, `trainable`, ...
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
        check_positive_int(type(self).__name__, "units", units)
        check_rate(type(self).__name__, "dropout", dropout)
        check_rate(type(self).__name__, "recurrent_dropout", recurrent_dropout)
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
        # One state of `units`; LSTMCell has two.
        self.state_size = units

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
        does). With `implementation=1` (which `recurrent_dropout > 0` implies) every gate gets its own masks, as
        in Keras.

        Args:
            inputs: one step of inputs, `(batch, features)`.
            state: the first state, `(batch, units)`.
            training: whether dropout applies.
        """
        if not training:
            return None, None
        count = self._num_gates if getattr(self, "implementation", 2) == 1 else 1
        input_masks = recurrent_masks = None
        if self.dropout > 0:
            input_masks = self._draw_masks(inputs, self.dropout, count)
        if self.recurrent_dropout > 0:
            recurrent_masks = self._draw_masks(state, self.recurrent_dropout, count)
        return input_masks, recurrent_masks

    def _draw_masks(self, like, rate, count):
        # One draw of `like`'s shape per mask, inputs before states, as Keras's DropoutRNNCell draws them: with
        # the same seed, the masks are Keras's.
        ones = ops.ones_like(like)
        return ops.stack(
            [keras.random.dropout(ones, rate, seed=self.seed_generator) for _ in range(count)], axis=1
        )

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


def run_time_loop(
    step, projected, states, time_mask, output_size, return_sequences, zero_output_for_mask, unroll
):
    """Runs `step` over time-major `projected` `(time, batch, width)`; returns `(last_output, outputs, states)`.

    The inference loop of `RecurrentSequence`: a `while_loop` (`fori_loop` on JAX) without tensor lists, or a
    Python loop with `unroll`. Masked steps follow Keras (`keras.src.backend.*.rnn`): the states keep their
    previous values and the output is the previous step's output (zeros before the first unmasked step), or
    zeros with `zero_output_for_mask`.

    Args:
        step: `step(x_t, states) -> (output, new_states)`, `x_t` one time step of `projected`.
        projected: `(time, batch, width)` inputs of every step (a cell's `project_inputs`).
        states: the initial states, a list of `(batch, size)` tensors.
        time_mask: optional `(time, batch)` booleans, False at masked steps.
        output_size: width of `step`'s output.
        return_sequences: also collect the output of every step.
        zero_output_for_mask: masked steps output zeros instead of the previous output.
        unroll: a Python loop over the (static) time axis instead of a graph loop.

    Returns:
        `(last_output, outputs, states)`: `outputs` is `(time, batch, output_size)` time-major, or None
        without `return_sequences`; `states` is a list.
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


class RecurrentSequence(keras.layers.Layer):
    """Runs a cell over the time axis: the base of `SimpleRNN`, `LSTM` and `GRU`.

    A subclass names its cell: `_cell_class` (a `RecurrentCell`) and `_cell_name` (the cell's layer name is
    `{_cell_name}_cell`, as in Keras), and spells out the Keras layer's signature (`forward_arguments`).
    Arguments, call arguments and returns: see `LSTM`. The cell's arguments are also read-only properties of the
    layer (`layer.dropout` is `layer.cell.dropout`), as on the Keras layers.
    """

    _cell_class = None
    _cell_name = None
    _takes_use_cudnn = False

    activation = cell_attribute("activation")
    use_bias = cell_attribute("use_bias")
    kernel_initializer = cell_attribute("kernel_initializer")
    recurrent_initializer = cell_attribute("recurrent_initializer")
    bias_initializer = cell_attribute("bias_initializer")
    kernel_regularizer = cell_attribute("kernel_regularizer")
    recurrent_regularizer = cell_attribute("recurrent_regularizer")
    bias_regularizer = cell_attribute("bias_regularizer")
    kernel_constraint = cell_attribute("kernel_constraint")
    recurrent_constraint = cell_attribute("recurrent_constraint")
    bias_constraint = cell_attribute("bias_constraint")
    dropout = cell_attribute("dropout")
    recurrent_dropout = cell_attribute("recurrent_dropout")
    seed = cell_attribute("seed")

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
        if self._takes_use_cudnn:
            # Only the layers whose Keras counterpart takes it (LSTM, GRU) have it, so Bidirectional's
            # `hasattr(layer, "use_cudnn")` and the config match Keras's; elsewhere the cell rejects it, as Keras.
            self.use_cudnn = check_use_cudnn(type(self).__name__, kwargs.pop("use_cudnn", "auto"))
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
            last_output, outputs, states = run_time_loop(
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
            **({"use_cudnn": self.use_cudnn} if hasattr(self, "use_cudnn") else {}),
        }
