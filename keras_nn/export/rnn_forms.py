"""Export-time forms of recurrent layers: what a TFLite or ONNX runtime runs fastest, with the same weights.

The Keras models keep their backend-neutral layers (`keras.layers.LSTM`, `keras_nn.layers.GRU`, ...). At export
time `export_form_model` clones a functional or Sequential model and swaps every recurrent layer for an
`ExportRecurrent` layer that holds a snapshot of its weights and builds the TensorFlow graph the converter turns
into the fast operator:

- `"fused"` (TFLite, LSTM): a `tf.function` that carries `api_implements="lstm_<id>"`, the contract of
  tf_keras's `standard_lstm` (six inputs, five outputs of which only the first two may be used). The TFLite
  converter replaces it with one `UNIDIRECTIONAL_SEQUENCE_LSTM` op. It needs a fixed batch (static state shapes)
  and no mask; the converter hard-codes `cell_clip=10` (see `FUSED_CELL_CLIP`); the op keeps its state between
  invocations, so a runtime resets its variables before each call. TFLite has no fused GRU.
- `"loop"` (TFLite, every cell): a lean `while` loop that accepts any batch with builtin ops only. The input
  projection of all steps is one product before the loop, the LSTM gates are reordered to (i, f, o, g) so one
  sigmoid covers three of them, and per-step outputs are written in place with `DYNAMIC_UPDATE_SLICE` only when
  they are used (the stock lowering writes a tensor list with SLICE + CONCATENATION each step, and its
  single-batch option makes a batch larger than 1 fail at run time).
- `"native"` (ONNX, LSTM and GRU): a tensor-list loop whose body has the shape tf2onnx's rewriters match
  (`MatMul(x_t, W) + MatMul(h, R)`, BiasAdd, Split, sigmoid/tanh, `c = f*c + i*g`, `h = o*tanh(c)`; the GRU with
  its two biases outside the loop), so tf2onnx emits the native ONNX `LSTM`/`GRU` operator at any batch, and
  merges a bidirectional pair into one node. Masked inputs, SimpleRNN, GRU with `reset_after=False` and other
  activations take a generic loop (an ONNX `Loop`).

The lean step (`LeanWeights.step_function`) also backs the single-step models of the streaming export
(`keras_nn.export.streaming`).
"""

import dataclasses
import uuid

import keras
import numpy as np
import tensorflow as tf

# XlaDynamicUpdateSlice becomes TFLite's DYNAMIC_UPDATE_SLICE (an in-place write of one step's output) and also
# runs on the CPU without XLA, so the export clone still runs in TensorFlow.
from tensorflow.compiler.tf2xla.python import xla

from keras_nn.errors import ConfigError, ExportError

TFLITE_RNN_FORMS = ("auto", "fused", "loop", "layer")
ONNX_RNN_FORMS = ("auto", "native", "layer")
# The TFLite converter builds the fused LSTM op with cell_clip=10: |c| is clipped to 10 at every step, so a
# model whose cell state grows past it gives different outputs in TFLite than in Keras.
FUSED_CELL_CLIP = 10.0

_ACTIVATIONS = {"tanh": tf.tanh, "sigmoid": tf.sigmoid, "relu": tf.nn.relu, "linear": tf.identity}


class UnsupportedRecurrentLayer(Exception):
    """A recurrent layer that has no export form; it is exported as it is (the reason says why)."""


@dataclasses.dataclass
class Direction:
    """One direction of a recurrent layer: its cell, weights (NumPy snapshots) and what it returns."""

    cell: str  # "lstm", "gru" or "simple_rnn"
    units: int
    kernel: np.ndarray  # (features, gates * units), Keras gate order
    recurrent_kernel: np.ndarray  # (units, gates * units)
    bias: np.ndarray  # (gates * units,), or (2, 3 units) for a GRU with reset_after
    activation: str | object  # a name, or the callable when it has none
    recurrent_activation: str | object | None
    reset_after: bool
    go_backwards: bool
    return_sequences: bool
    zero_output_for_mask: bool

    @property
    def num_states(self):
        return 2 if self.cell == "lstm" else 1

    def default_activations(self):
        """True for sigmoid gates and a tanh cell, the only activations of the fused and native operators."""
        return self.activation == "tanh" and self.recurrent_activation in ("sigmoid", None)


@dataclasses.dataclass
class RecurrentSpec:
    """What an export form needs from a recurrent layer: one or two directions and the merge of the two."""

    name: str
    directions: list
    merge_mode: str | None

    @property
    def return_sequences(self):
        return self.directions[0].return_sequences

    @property
    def output_width(self):
        units = self.directions[0].units
        return 2 * units if self.merge_mode == "concat" else units


def _keras_nn_recurrent():
    # Imported late: keras_nn.layers imports keras_nn.export-free code only, but keep export importable alone.
    from keras_nn import layers

    sequences = tuple(getattr(layers, name) for name in ("SimpleRNN", "LSTM", "GRU") if hasattr(layers, name))
    cells = {
        "lstm": getattr(layers, "LSTMCell", None),
        "gru": getattr(layers, "GRUCell", None),
        "simple_rnn": getattr(layers, "SimpleRNNCell", None),
    }
    return sequences, getattr(layers, "Bidirectional", None), cells


def is_recurrent_layer(layer):
    """True for Keras and keras-nn recurrent layers and their `Bidirectional` wrappers."""
    sequences, bidirectional, _ = _keras_nn_recurrent()
    classes = (keras.layers.RNN, keras.layers.Bidirectional, *sequences) + (
        (bidirectional,) if bidirectional else ()
    )
    return isinstance(layer, classes)


def recurrent_layers(model):
    """Every recurrent layer in `model` (nested models and layers included), outermost wrappers only."""
    found = []

    def visit(layer):
        for child in layer._flatten_layers(include_self=False, recursive=False):
            if is_recurrent_layer(child):
                found.append(child)
            else:
                visit(child)

    visit(model)
    return found


def _activation_name(function):
    if function is None:
        return None
    name = keras.activations.serialize(function)
    return name if isinstance(name, str) and name in _ACTIVATIONS else function


def _cell_type(cell):
    _, _, ours = _keras_nn_recurrent()
    for name, keras_class in (
        ("lstm", keras.layers.LSTMCell),
        ("gru", keras.layers.GRUCell),
        ("simple_rnn", keras.layers.SimpleRNNCell),
    ):
        if isinstance(cell, keras_class) or (ours[name] is not None and isinstance(cell, ours[name])):
            return name
    raise UnsupportedRecurrentLayer(f"cell {type(cell).__name__} is not an LSTM, GRU or SimpleRNN cell")


def _describe_direction(layer):
    for attribute in ("stateful", "return_state", "learnable_initial_state"):
        if getattr(layer, attribute, False):
            raise UnsupportedRecurrentLayer(f"{attribute}=True")
    cell = getattr(layer, "cell", None)
    if cell is None:
        raise UnsupportedRecurrentLayer(f"{type(layer).__name__} has no cell")
    kind = _cell_type(cell)
    if not cell.built:
        raise UnsupportedRecurrentLayer("the layer is not built")
    units = int(cell.units)
    gates = {"lstm": 4, "gru": 3, "simple_rnn": 1}[kind]
    reset_after = bool(getattr(cell, "reset_after", False)) if kind == "gru" else False
    bias = getattr(cell, "bias", None)
    if bias is None:
        bias = np.zeros((2, gates * units) if reset_after else (gates * units,), np.float32)
    return Direction(
        cell=kind,
        units=units,
        kernel=np.asarray(keras.ops.convert_to_numpy(cell.kernel), np.float32),
        recurrent_kernel=np.asarray(keras.ops.convert_to_numpy(cell.recurrent_kernel), np.float32),
        bias=np.asarray(keras.ops.convert_to_numpy(bias), np.float32),
        activation=_activation_name(cell.activation),
        recurrent_activation=_activation_name(getattr(cell, "recurrent_activation", None)),
        reset_after=reset_after,
        go_backwards=bool(layer.go_backwards),
        return_sequences=bool(layer.return_sequences),
        zero_output_for_mask=bool(getattr(layer, "zero_output_for_mask", False)),
    )


def describe_recurrent_layer(layer):
    """The `RecurrentSpec` of a recurrent layer, or `UnsupportedRecurrentLayer` naming why it has none."""
    if hasattr(layer, "forward_layer") and hasattr(layer, "backward_layer"):
        if layer.merge_mode not in ("concat", "sum", "ave", "mul"):
            raise UnsupportedRecurrentLayer(f"merge_mode={layer.merge_mode!r}")
        directions = [_describe_direction(layer.forward_layer), _describe_direction(layer.backward_layer)]
        merge_mode = layer.merge_mode
    else:
        directions, merge_mode = [_describe_direction(layer)], None
    return RecurrentSpec(layer.name, directions, merge_mode)


# ---------------------------------------------------------------------------------------------------------------
# Cell steps. "Lean" steps take the projected inputs (x_t W + b, hoisted out of the loop); the gate order of
# the LSTM weights is (i, f, o, g) there.


def _apply(activation, x):
    return _ACTIVATIONS[activation](x) if isinstance(activation, str) else activation(x)


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
                i, f, o = tf.split(_apply(gate, sigmoid_part), 3, axis=1)
                c = f * c + i * _apply(act, cell_part)
                return [o * _apply(act, c), c]

        elif d.cell == "gru" and d.reset_after:
            recurrent_bias = tf.constant(self.recurrent_bias)

            def step(x_t, states):
                h = states[0]
                x_zr, x_n = tf.split(x_t, [2 * units, units], axis=1)
                h_zr, h_n = tf.split(tf.matmul(h, recurrent) + recurrent_bias, [2 * units, units], axis=1)
                z, r = tf.split(_apply(gate, x_zr + h_zr), 2, axis=1)
                n = _apply(act, x_n + r * h_n)
                return [n + z * (h - n)]

        elif d.cell == "gru":
            recurrent_zr, recurrent_n = (
                tf.constant(self.recurrent_kernel[:, : 2 * units]),
                tf.constant(self.recurrent_kernel[:, 2 * units :]),
            )

            def step(x_t, states):
                h = states[0]
                x_zr, x_n = tf.split(x_t, [2 * units, units], axis=1)
                z, r = tf.split(_apply(gate, x_zr + tf.matmul(h, recurrent_zr)), 2, axis=1)
                n = _apply(act, x_n + tf.matmul(r * h, recurrent_n))
                return [n + z * (h - n)]

        else:

            def step(x_t, states):
                return [_apply(act, x_t + tf.matmul(states[0], recurrent))]

        return step


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
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * _apply(d.activation, g)
            return [tf.sigmoid(o) * _apply(d.activation, c), c]

        return step
    input_bias, recurrent_bias = tf.constant(d.bias[0]), tf.constant(d.bias[1])

    def step(x_t, states):
        h = states[0]
        x_z, x_r, x_n = tf.split(tf.nn.bias_add(tf.matmul(x_t, kernel), input_bias), 3, axis=1)
        h_z, h_r, h_n = tf.split(tf.nn.bias_add(tf.matmul(h, recurrent), recurrent_bias), 3, axis=1)
        z = tf.sigmoid(x_z + h_z)
        r = tf.sigmoid(x_r + h_r)
        n = _apply(d.activation, x_n + r * h_n)
        return [z * h + (1.0 - z) * n]

    return step


def native_onnx_eligible(direction):
    """Whether tf2onnx can turn this direction into a native ONNX LSTM/GRU node."""
    d = direction
    if d.recurrent_activation != "sigmoid" or d.activation not in ("tanh", "relu", "sigmoid"):
        return False
    return d.cell == "lstm" or (d.cell == "gru" and d.reset_after)


# ---------------------------------------------------------------------------------------------------------------
# Loops


def _time_loop(step, sequence, states, mask, direction, tensor_lists):
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


def _time_major(x, mask, go_backwards):
    x = tf.transpose(x, (1, 0, 2))
    mask = None if mask is None else tf.transpose(mask, (1, 0))
    if go_backwards:
        x = tf.reverse(x, [0])
        mask = None if mask is None else tf.reverse(mask, [0])
    return x, mask


def _zero_states(direction, batch):
    shape = tf.stack([batch, direction.units]) if isinstance(batch, tf.Tensor) else (batch, direction.units)
    return [tf.zeros(shape) for _ in range(direction.num_states)]


def _batch_major(last, outputs, direction):
    return tf.transpose(outputs, (1, 0, 2)) if direction.return_sequences else last


def run_lean_loop(direction, x, mask, tensor_lists=False):
    """A direction's output over batch-major `x` in the lean form (hoisted projection, permuted gates)."""
    weights = LeanWeights.of(direction)
    # Reversing and transposing the (narrower) inputs is cheaper than doing it to the projection.
    sequence, mask = _time_major(x, mask, direction.go_backwards)
    states = _zero_states(direction, tf.shape(x)[0])
    last, outputs, _ = _time_loop(
        weights.step_function(), weights.project(sequence), states, mask, direction, tensor_lists
    )
    return _batch_major(last, outputs, direction)


def run_native_onnx(direction, x):
    """A direction in the tensor-list loop that tf2onnx rewrites into one native ONNX LSTM/GRU node."""
    sequence, _ = _time_major(x, None, direction.go_backwards)
    states = _zero_states(direction, tf.shape(x)[0])
    last, outputs, _ = _time_loop(
        _native_onnx_step(direction), sequence, states, None, direction, tensor_lists=True
    )
    return _batch_major(last, outputs, direction)


def fused_lstm_eligible(direction):
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
        sequence, _ = _time_major(inputs, None, d.go_backwards)
        always_sequences = dataclasses.replace(d, return_sequences=True)
        weights = LeanWeights.of(d)
        last, outputs, states = _time_loop(
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


# ---------------------------------------------------------------------------------------------------------------
# The export layer and the model clone


def _merge(outputs, spec):
    if len(outputs) == 1:
        return outputs[0]
    forward, backward = outputs
    if spec.return_sequences:
        backward = tf.reverse(backward, [1])
    if spec.merge_mode == "concat":
        return tf.concat([forward, backward], axis=-1)
    if spec.merge_mode == "sum":
        return forward + backward
    if spec.merge_mode == "ave":
        return (forward + backward) / 2.0
    return forward * backward


class ExportRecurrent(keras.layers.Layer):
    """A recurrent layer's export form: the original layer's weights in the graph a converter runs fastest.

    Built by `export_form_model`; never trained or saved. Inputs with a mask, or an `initial_state`, make a
    form that cannot take them fall back (the fused and native forms to the loop; an initial state to the
    original layer); `used_form` records what the last trace used, for reports.

    Args:
        original: the recurrent layer (`keras.layers.LSTM`, `keras_nn.layers.Bidirectional`, ...).
        target: `"tflite"` or `"onnx"`.
        form: `"fused"` or `"loop"` for TFLite, `"native"` for ONNX.
    """

    def __init__(self, original, target, form, **kwargs):
        self.spec = describe_recurrent_layer(original)
        super().__init__(name=original.name, **kwargs)
        self.original = original
        self.target = target
        self.form = form
        self.used_form = None
        self.supports_masking = True

    def compute_output_shape(self, input_shape, *args, **kwargs):
        batch, steps = input_shape[0], input_shape[1]
        width = self.spec.output_width
        return (batch, steps, width) if self.spec.return_sequences else (batch, width)

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        return mask if self.spec.return_sequences else None

    def _direction_form(self, direction, mask):
        if self.target == "onnx":
            return "native" if mask is None and native_onnx_eligible(direction) else "loop"
        if self.form == "fused" and mask is None and fused_lstm_eligible(direction):
            return "fused"
        return "loop"

    def call(self, inputs, mask=None, training=None, initial_state=None):
        if initial_state is not None:
            self.used_form = "layer"
            return self.original(inputs, mask=mask, initial_state=initial_state, training=False)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        x = tf.cast(inputs, tf.float32)
        mask = None if mask is None else tf.cast(mask, tf.bool)
        outputs, forms = [], []
        for direction in self.spec.directions:
            form = self._direction_form(direction, mask)
            forms.append(form)
            if form == "fused":
                outputs.append(run_fused_lstm(direction, x))
            elif form == "native":
                outputs.append(run_native_onnx(direction, x))
            else:
                outputs.append(run_lean_loop(direction, x, mask, tensor_lists=self.target == "onnx"))
        self.used_form = forms[0] if len(set(forms)) == 1 else "+".join(forms)
        return tf.cast(_merge(outputs, self.spec), self.compute_dtype)


@dataclasses.dataclass
class FormRecord:
    """How one recurrent layer was exported: `form` (`fused`, `loop`, `native`, `layer`) and why, if not asked."""

    layer: str
    form: str
    note: str = ""

    def as_dict(self):
        return dataclasses.asdict(self)


class ExportForms:
    """The recurrent layers swapped in an export clone; `records()` says which form each one took."""

    def __init__(self):
        self.layers = []
        self.kept = []

    def records(self):
        rows = [FormRecord(layer.name, layer.used_form or layer.form) for layer in self.layers]
        rows += [FormRecord(name, "layer", note) for name, note in self.kept]
        return rows


def _clone(model, target, form, forms, batch_size=None):
    def clone_function(layer):
        if is_recurrent_layer(layer):
            try:
                replacement = ExportRecurrent(layer, target, form)
            except UnsupportedRecurrentLayer as reason:
                forms.kept.append((layer.name, f"exported as it is: {reason}"))
                return layer
            forms.layers.append(replacement)
            return replacement
        if isinstance(layer, keras.Model) and recurrent_layers(layer):
            return _clone(layer, target, form, forms)
        return layer

    if not isinstance(model, keras.Sequential) and not _is_functional(model):
        names = ", ".join(layer.name for layer in recurrent_layers(model))
        forms.kept.append((names, "exported as it is: a subclassed model cannot be cloned"))
        return model
    # The clone takes the export's batch size, so every trace of it (Keras traces a default serving signature
    # too) sees the same static shapes.
    inputs = [
        keras.Input(batch_shape=(batch_size, *tensor.shape[1:]), dtype=tensor.dtype, name=tensor.name)
        for tensor in model.inputs
    ]
    return keras.models.clone_model(
        model, input_tensors=inputs[0] if len(inputs) == 1 else inputs, clone_function=clone_function
    )


def _is_functional(model):
    from keras.src.models.functional import Functional

    return isinstance(model, Functional)


def export_form_model(model, target, form, batch_size=None):
    """A clone of `model` whose recurrent layers take their `target` export form; with the swap record.

    Args:
        model: a Keras model (functional or Sequential; a subclassed model is returned as it is).
        target: `"tflite"` or `"onnx"`.
        form: TFLite: `"fused"` or `"loop"`; ONNX: `"native"`.
        batch_size: the batch size of the export signature (None: dynamic); the fused form needs one.

    Returns:
        `(model, forms)`: the model to trace for export (it shares every other layer with `model`) and an
        `ExportForms` whose `records()` (after the model was traced) say which form each layer took.
    """
    if target not in ("tflite", "onnx"):
        raise ConfigError(f"target={target!r} is not allowed; choose tflite or onnx")
    allowed = {"tflite": ("fused", "loop"), "onnx": ("native",)}[target]
    if form not in allowed:
        raise ConfigError(
            f"{target} export form {form!r} is not allowed; choose one of: {', '.join(allowed)}"
        )
    forms = ExportForms()
    if not recurrent_layers(model):
        return model, forms
    return _clone(model, target, form, forms, batch_size), forms


def fused_cell_peak(model, inputs):
    """Largest |c| of any LSTM direction of `model` on `inputs` (functional or Sequential models), or None.

    The fused TFLite op clips |c| at `FUSED_CELL_CLIP`; above it, fused outputs differ from Keras.
    """
    peaks = []
    for layer in recurrent_layers(model):
        try:
            spec = describe_recurrent_layer(layer)
            layer_input = keras.Model(model.inputs[0], layer.input)(inputs, training=False)
        except (UnsupportedRecurrentLayer, ValueError, AttributeError):
            continue
        peaks += [
            lstm_cell_peak(direction, keras.ops.convert_to_numpy(layer_input))
            for direction in spec.directions
        ]
    return max(peaks) if peaks else None
