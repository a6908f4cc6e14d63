"""Streaming export: a single-step model that a real-time device feeds one sample at a time.

`streaming_model(model)` turns a recurrent model into a model of one time step: it takes the step's input
`step` and every recurrent state (`state_00`, `state_01`, ... in layer order, h then c for an LSTM) and returns
`output` (the model's output after this step) and the new states (`new_state_00`, ...). Feeding a sequence step
by step, each new state fed back, gives what the whole-sequence model gives: for a classifier (the last layer
returns its last output) the output after the last step equals the model's prediction; for a sequence tagger
(the last layer returns every step) the output after step t equals the model's output at t. Every layer
before and after the recurrent layers must work step by step (embeddings, masking, dense layers on each
step); `streaming_model` checks the equality on a random sequence and raises `ExportError` otherwise.

`to_streaming_tflite` and `to_streaming_onnx` write the step model with builtin TFLite ops / plain ONNX ops
(no loop at all). The edge kit's `run_streaming.py` runs them on a device.
"""

import logging
import os
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_nn.edge.contract import STEP_INPUT, STEP_OUTPUT, new_state_name, state_name
from keras_nn.errors import ConfigError, ExportError
from keras_nn.export.rnn_forms import (
    LeanWeights,
    UnsupportedRecurrentLayer,
    describe_recurrent_layer,
    is_recurrent_layer,
    recurrent_layers,
)
from keras_nn.files import atomic_write_bytes

logger = logging.getLogger(__name__)

# The tensor names are the edge kit's contract (keras_nn.edge.contract); STEP_INPUT, state_name and
# new_state_name stay importable from here, and OUTPUT is this module's earlier name for STEP_OUTPUT.
OUTPUT = STEP_OUTPUT
STREAMING_TOLERANCE = 1e-4


class StepRecurrent(keras.layers.Layer):
    """One time step of a recurrent layer, with the states in and out.

    Call arguments:
        inputs: the step as a one-step sequence `(batch, 1, features)`.
        states: the layer's states, each `(batch, units)` (h, then c for an LSTM).
        mask: optional `(batch, 1)` booleans; a masked step keeps the states and repeats the previous output.

    Returns:
        `[output, *new_states]`: output `(batch, 1, units)` when the layer returns sequences, else
        `(batch, units)`.
    """

    def __init__(self, original, **kwargs):
        try:
            spec = describe_recurrent_layer(original)
        except UnsupportedRecurrentLayer as reason:
            raise ConfigError(f"layer {original.name!r} cannot stream: {reason}") from None
        if len(spec.directions) != 1 or spec.directions[0].go_backwards:
            raise ConfigError(
                f"layer {original.name!r} runs backwards in time, which needs the whole sequence first; a streaming "
                "model takes forward (unidirectional) recurrent layers only"
            )
        super().__init__(name=original.name, **kwargs)
        self.direction = spec.directions[0]
        self.supports_masking = True

    @property
    def state_sizes(self):
        return [self.direction.units] * self.direction.num_states

    def compute_output_spec(self, inputs, states, mask=None):
        batch, units = inputs.shape[0], self.direction.units
        shape = (batch, 1, units) if self.direction.return_sequences else (batch, units)
        states = [keras.KerasTensor((batch, units), dtype="float32") for _ in self.state_sizes]
        return [keras.KerasTensor(shape, dtype=self.compute_dtype), *states]

    def compute_mask(self, inputs, states, mask=None):
        return [mask if self.direction.return_sequences else None] + [None] * len(self.state_sizes)

    def call(self, inputs, states, mask=None):
        d = self.direction
        weights = LeanWeights.of(d)
        states = [tf.cast(state, tf.float32) for state in states]
        new_states = weights.step_function()(weights.project(tf.cast(inputs[:, 0], tf.float32)), states)
        output = new_states[0]
        if mask is not None:
            keep = tf.cast(mask, tf.bool)[:, :1]
            new_states = [tf.where(keep, new, old) for new, old in zip(new_states, states, strict=True)]
            output = (
                tf.where(keep, new_states[0], tf.zeros_like(output))
                if d.zero_output_for_mask
                else new_states[0]
            )
        output = tf.cast(output, self.compute_dtype)
        return [tf.expand_dims(output, 1) if d.return_sequences else output, *new_states]


def _per_step_shape(model):
    if len(model.inputs) != 1:
        raise ConfigError(
            f"model {model.name!r} has {len(model.inputs)} inputs; streaming takes single-input models"
        )
    shape = tuple(model.inputs[0].shape)
    if len(shape) < 2:
        raise ConfigError(
            f"model {model.name!r} takes inputs of shape {shape}; streaming needs (batch, time, ...)"
        )
    return shape[2:], model.inputs[0].dtype


def streaming_model(model, check=True, check_inputs=None):
    """The single-step model of a recurrent `model` (functional or Sequential), with its states in and out.

    Args:
        model: a model with forward recurrent layers (Keras or keras-nn LSTM, GRU, SimpleRNN).
        check: step through a sequence and compare with the whole-sequence model (raises `ExportError` on a
            difference above 1e-4, which means a layer mixes time steps).
        check_inputs: a batch of sequences for the check (default: random ones).

    Returns:
        A Keras model: inputs `step` `(batch, *features)` and `state_00`, ... `(batch, units)`; outputs a dict
        `{"output": ..., "new_state_00": ..., ...}`.

    Example:
    >>> step = keras_nn.export.streaming_model(model)
    >>> states = {name: np.zeros((1, units)) for name in step.input_names[1:]}
    """
    layers = recurrent_layers(model)
    if not layers:
        raise ConfigError(f"model {model.name!r} has no recurrent layer; there is nothing to stream")
    step_layers = {id(layer): StepRecurrent(layer) for layer in layers}
    feature_shape, dtype = _per_step_shape(model)
    step_input = keras.Input(shape=feature_shape, dtype=dtype, name=STEP_INPUT)
    state_inputs, new_states, index = [], [], 0
    for layer in layers:
        for size in step_layers[id(layer)].state_sizes:
            state_inputs.append(keras.Input(shape=(size,), name=state_name(index)))
            index += 1
    states_of = {}
    start = 0
    for layer in layers:
        count = len(step_layers[id(layer)].state_sizes)
        states_of[id(layer)] = state_inputs[start : start + count]
        start += count

    def run_step(layer):
        def call(sequence, *args, mask=None, **kwargs):
            # Without an explicit mask, Keras passes the step's own (from Masking or Embedding(mask_zero)).
            extra = {} if mask is None else {"mask": mask}
            output, *states = step_layers[id(layer)](sequence, states_of[id(layer)], **extra)
            new_states.extend(states)
            return output

        return call

    sequence = keras.layers.Reshape((1, *feature_shape), name="as_one_step")(step_input)
    if isinstance(model, keras.Sequential):
        x = sequence
        for layer in model.layers:
            x = run_step(layer)(x) if is_recurrent_layer(layer) else layer(x)
        output = x
    elif hasattr(model, "_run_through_graph") and getattr(model, "_nodes_by_depth", None) is not None:
        if any(not is_recurrent_layer(layer) and isinstance(layer, keras.Model) for layer in model.layers):
            raise ConfigError(f"model {model.name!r} nests a model; streaming takes flat functional models")
        output = model._run_through_graph(
            [sequence], operation_fn=lambda op: run_step(op) if is_recurrent_layer(op) else op
        )
        output = keras.tree.flatten(output)[0]
    else:
        raise ConfigError(
            f"model {model.name!r} is subclassed; streaming takes functional or Sequential models"
        )
    if len(output.shape) >= 3 and output.shape[1] == 1:
        output = keras.layers.Reshape(tuple(output.shape[2:]), name="step_output")(output)
    outputs = {
        STEP_OUTPUT: output,
        **{new_state_name(state_name(i)): state for i, state in enumerate(new_states)},
    }
    step_model = keras.Model([step_input, *state_inputs], outputs, name=f"{model.name}_step")
    if check:
        check_streaming(model, step_model, check_inputs)
    return step_model


def zero_states(step_model, batch=1):
    """A dict of zero states for `step_model`, keyed by input name."""
    return {tensor.name: np.zeros((batch, *tensor.shape[1:]), np.float32) for tensor in step_model.inputs[1:]}


def run_streaming(step_model, sequences):
    """Steps `step_model` through batch-major `sequences`; returns the outputs of every step `(batch, time, ...)`."""
    sequences = np.asarray(sequences)
    states = zero_states(step_model, len(sequences))
    outputs = []
    for t in range(sequences.shape[1]):
        result = step_model({STEP_INPUT: sequences[:, t], **states}, training=False)
        outputs.append(keras.ops.convert_to_numpy(result[STEP_OUTPUT]))
        states = {name: keras.ops.convert_to_numpy(result[new_state_name(name)]) for name in states}
    return np.stack(outputs, axis=1)


def _check_sequences(model, check_inputs):
    if check_inputs is not None:
        return np.asarray(check_inputs)[:4]
    shape = tuple(model.inputs[0].shape[1:])
    shape = (8 if shape[0] is None else shape[0], *shape[1:])
    rng = np.random.default_rng(0)
    if "int" in str(model.inputs[0].dtype):
        vocabulary = min(
            [
                layer.input_dim
                for layer in model._flatten_layers()
                if isinstance(layer, keras.layers.Embedding)
            ]
            or [2]
        )
        return rng.integers(1, max(vocabulary, 2), (2, *shape)).astype(model.inputs[0].dtype)
    return rng.random((2, *shape), dtype=np.float32)


def check_streaming(model, step_model, check_inputs=None):
    """Raises `ExportError` unless stepping `step_model` through sequences reproduces `model` (max abs 1e-4)."""
    sequences = _check_sequences(model, check_inputs)
    whole = keras.ops.convert_to_numpy(model(sequences, training=False))
    stepped = run_streaming(step_model, sequences)
    compared = stepped if whole.ndim == stepped.ndim else stepped[:, -1]
    error = float(np.abs(compared.reshape(whole.shape) - whole).max())
    if error > STREAMING_TOLERANCE:
        raise ExportError(
            f"stepping {model.name!r} one sample at a time differs from running whole sequences by {error:.2e}; a "
            "layer outside the recurrent layers mixes time steps (pooling, flatten, attention), so the model cannot "
            "stream"
        )
    return error


def _step_signature(step_model, batch_size):
    return [
        tf.TensorSpec((batch_size, *tensor.shape[1:]), tf.as_dtype(tensor.dtype), name=tensor.name)
        for tensor in step_model.inputs
    ]


def _step_function(step_model, batch_size):
    names = [tensor.name for tensor in step_model.inputs]

    @tf.function(input_signature=_step_signature(step_model, batch_size))
    def step(*inputs):
        return step_model(dict(zip(names, inputs, strict=True)), training=False)

    return step


def to_streaming_tflite(model, path, batch_size=None, check=True):
    """Writes the single-step model of `model` as a `.tflite` file (builtin ops only, no loop).

    Args:
        model: a recurrent model `streaming_model` takes.
        path: the `.tflite` file to write.
        batch_size: None for a dynamic batch (a device usually feeds 1), or a fixed size.
        check: compare stepping with whole sequences in Keras first (see `streaming_model`).

    Returns:
        The path written. Its `serving_default` signature takes `step` and `state_NN` and returns `output` and
        `new_state_NN`; the edge kit's `StreamingRunner` feeds it.
    """
    from keras_nn.export.tflite import run_converter

    step_model = streaming_model(model, check=check)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="keras-nn-stream-") as staging:
        archive = keras.export.ExportArchive()
        archive.track(step_model)
        archive.add_endpoint("serve", _step_function(step_model, batch_size))
        archive.write_out(os.path.join(staging, "saved_model"), verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(os.path.join(staging, "saved_model"))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        flatbuffer = run_converter(converter, f"the step model of {model.name!r}")
        staged = Path(staging) / path.name
        staged.write_bytes(flatbuffer)
        os.replace(staged, path)
    return path


def _rename_onnx_outputs(model_proto, names):
    renames = {output.name: name for output, name in zip(model_proto.graph.output, names, strict=True)}
    for node in model_proto.graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
    for output in model_proto.graph.output:
        output.name = renames[output.name]


def to_streaming_onnx(model, path, batch_size=None, opset=None, check=True):
    """Writes the single-step model of `model` as an ONNX file (plain MatMul/Sigmoid/Tanh ops, no loop).

    Inputs are `step` and `state_NN`; outputs `output` and `new_state_NN`, as for `to_streaming_tflite`.
    """
    import tf2onnx

    from keras_nn.export.onnx import DEFAULT_OPSET

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    step_model = streaming_model(model, check=check)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    signature = _step_signature(step_model, batch_size)
    try:
        model_proto, _ = tf2onnx.convert.from_function(
            _step_function(step_model, batch_size), input_signature=signature, opset=opset or DEFAULT_OPSET
        )
    except Exception as error:  # tf2onnx raises many types from its rewriters and handlers
        raise ExportError(f"ONNX conversion of the step model of {model.name!r} failed: {error}") from error
    # The function returns a dict: its outputs come in sorted key order ("new_state_00" < ... < "output").
    _rename_onnx_outputs(model_proto, sorted(step_model.output))
    atomic_write_bytes(path, model_proto.SerializeToString())
    return path
