"""The GPT decoder's cached step as exported files: one token in, next-token logits and the updated key/value
cache out, for on-device generation that costs one position of work per token.

`cached_step_model(gpt)` is a Keras model of `GPTDecoder.call_with_cache` at one token:

- inputs `token_ids` `[B, 1]` int32, `cache` `[B, num_layers, 2, max_length, num_heads, head_dim]` float32 (the
  keys, index 0, and values, index 1, of the tokens before; zeros at first) and `cache_index` `[1]` int32 (the
  position of this token: 0, 1, 2, ...);
- outputs `logits` `[B, vocab]` (the next token's) and `new_cache` (this token's keys and values written at
  `cache_index`), to feed back as `cache` at `cache_index + 1`.

`max_length` is the model's `max_sequence_length`: the cache has a static shape, so one compiled graph serves
every step and the converters see no dynamic shapes. A device reads a prompt of `n` tokens as `n` steps.

`to_cached_step_tflite` writes it with builtin TFLite ops only (no Flex): the dynamic cache write
(`ops.slice_update`, TensorFlow's `XlaDynamicUpdateSlice`) becomes `DYNAMIC_UPDATE_SLICE`, the position lookup a
`SLICE` with a dynamic begin. `to_cached_step_onnx` writes the same step as ONNX (`ScatterND` for the cache
write). The cache index is an int32 tensor of shape `[1]` in both (TFLite signatures and ONNX want a tensor, not
a Python int; int32 because the TFLite kernels take int32 indices). `run_cached_steps` feeds a sequence through
either file step by step; `check_cached_step` compares that with the whole-sequence model at every position.
"""

import os
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_nn.edge.contract import CACHE_INDEX_INPUT, CACHE_INPUT, CACHED_STEP_OUTPUTS, TOKEN_INPUT
from keras_nn.errors import ConfigError, ExportError
from keras_nn.export.onnx import function_to_onnx
from keras_nn.files import atomic_write_bytes

CACHED_STEP_TOLERANCE = 1e-4
SIGNATURE = "serving_default"
#: The `rnn_form` of a cached step's parity row (beside a recurrent model's `streaming`).
CACHED_STEP_FORM = "cached_step"


def is_cached_decoder(model):
    """Whether `model` generates with a key/value cache of a fixed context (a `GPTDecoder`)."""
    return callable(getattr(model, "call_with_cache", None)) and hasattr(model, "max_sequence_length")


class CachedStep(keras.layers.Layer):
    """One token of a cached decoder: `call_with_cache(token_ids, cache, cache_index[0])`.

    Args:
        decoder: a model with `call_with_cache` (a `GPTDecoder`).

    Call arguments:
        token_ids: `[B, 1]` int32 ids.
        cache: `[B, num_layers, 2, max_length, num_heads, head_dim]`.
        cache_index: `[1]` int32, the token's position.

    Returns:
        `{"logits": [B, vocab], "new_cache": the updated cache}`.
    """

    def __init__(self, decoder, **kwargs):
        super().__init__(name=f"{decoder.name}_cached_step", **kwargs)
        self.decoder = decoder

    def call(self, token_ids, cache, cache_index):
        logits, new_cache = self.decoder.call_with_cache(token_ids, cache, cache_index[0])
        return {"logits": logits, "new_cache": new_cache}


def cache_shape(gpt, batch_size=None):
    """`(batch_size, num_layers, 2, max_sequence_length, num_heads, head_dim)` of `gpt`'s exported cache."""
    return (batch_size, len(gpt.blocks), 2, gpt.max_sequence_length, gpt.num_heads, gpt.head_dim)


def cached_step_model(gpt):
    """The Keras model of one cached step of `gpt` (see the module docstring for the inputs and outputs).

    Example:
    >>> step = cached_step_model(gpt)
    >>> cache = np.zeros((1, *step.inputs[1].shape[1:]), "float32")
    >>> out = step({"token_ids": np.array([[5]], "int32"), "cache": cache, "cache_index": np.array([0], "int32")})
    """
    if not is_cached_decoder(gpt):
        raise ConfigError(
            f"model {gpt.name!r} has no key/value cache (call_with_cache); a cached step is exported for "
            "gpt_decoder models"
        )
    token_ids = keras.Input(batch_shape=(None, 1), dtype="int32", name=TOKEN_INPUT)
    cache = keras.Input(batch_shape=cache_shape(gpt), dtype="float32", name=CACHE_INPUT)
    cache_index = keras.Input(batch_shape=(1,), dtype="int32", name=CACHE_INDEX_INPUT)
    outputs = CachedStep(gpt)(token_ids, cache, cache_index)
    return keras.Model([token_ids, cache, cache_index], outputs, name=f"{gpt.name}_cached_step")


def _step_function(gpt, batch_size):
    step = cached_step_model(gpt)
    signature = [
        tf.TensorSpec((batch_size, 1), tf.int32, name=TOKEN_INPUT),
        tf.TensorSpec(cache_shape(gpt, batch_size), tf.float32, name=CACHE_INPUT),
        tf.TensorSpec((1,), tf.int32, name=CACHE_INDEX_INPUT),
    ]

    @tf.function(input_signature=signature)
    def cached_step(token_ids, cache, cache_index):
        return step([token_ids, cache, cache_index], training=False)

    return step, cached_step


def to_cached_step_tflite(gpt, path, batch_size=1):
    """Writes `gpt`'s cached step as a `.tflite` file, builtin ops only; returns the path.

    Its `serving_default` signature takes `token_ids`, `cache`, `cache_index` and returns `logits` and
    `new_cache`. `batch_size` is fixed (1 by default, a device's batch) so the converter sees static shapes.
    """
    from keras_nn.export.tflite import run_converter

    step, function = _step_function(gpt, batch_size)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="keras-nn-cached-step-") as staging:
        archive = keras.export.ExportArchive()
        archive.track(step)
        archive.add_endpoint("serve", function)
        archive.write_out(os.path.join(staging, "saved_model"), verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(os.path.join(staging, "saved_model"))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        flatbuffer = run_converter(converter, f"the cached step of {gpt.name!r}")
    return atomic_write_bytes(path, flatbuffer)


def _dynamic_update_slice_as_scatter(ctx, node, **kwargs):
    """XLA's `DynamicUpdateSlice(data, update, starts)` as ONNX `ScatterND`: the update's element at `i` goes to
    `starts + i`, the starts clamped first so the update fits (XLA's rule)."""
    from tf2onnx import utils
    from tf2onnx.onnx_opset.tensor import TensorProto

    data, update, starts = node.input
    rank = len(ctx.get_shape(update))

    def const(name, value):
        return ctx.make_const(utils.make_name(f"{node.name}_{name}"), np.array(value, np.int64)).output[0]

    def op(kind, inputs, **attr):
        return ctx.make_node(kind, inputs, attr=attr, op_name_scope=node.name).output[0]

    data_shape, update_shape = op("Shape", [data]), op("Shape", [update])
    starts = op("Cast", [starts], to=TensorProto.INT64)
    starts = op("Max", [op("Min", [starts, op("Sub", [data_shape, update_shape])]), const("zero", [0] * rank)])
    columns = []
    for axis in range(rank):
        size = op("Gather", [update_shape, const(f"axis{axis}", axis)], axis=0)
        start = op("Gather", [starts, const(f"axis{axis}", axis)], axis=0)
        positions = op("Add", [op("Range", [const("begin", 0), size, const("delta", 1)]), start])
        along = [1] * rank
        along[axis] = -1
        positions = op("Expand", [op("Reshape", [positions, const(f"along{axis}", along)]), update_shape])
        columns.append(op("Unsqueeze", [positions, const("last", [-1])]))
    indices = op("Concat", columns, axis=-1)
    output, shapes, dtypes = node.output[0], node.output_shapes, node.output_dtypes
    ctx.remove_node(node.name)
    ctx.make_node("ScatterND", [data, indices, update], outputs=[output], name=node.name, shapes=shapes, dtypes=dtypes)


def to_cached_step_onnx(gpt, path, batch_size=1):
    """Writes `gpt`'s cached step as an ONNX file (inputs and outputs named as the TFLite file's); returns the
    path.

    tf2onnx 1.17 has no handler for TensorFlow's `XlaDynamicUpdateSlice` (what `keras.ops.slice_update` traces to,
    the cache write): without one it writes a file onnxruntime refuses to load. This module registers one that
    writes the update as `ScatterND` at the clamped start indices (opset 13 and later).
    """
    from tf2onnx import constants
    from tf2onnx.handler import tf_op

    tf_op.register_handler(
        _dynamic_update_slice_as_scatter, 13, ["XlaDynamicUpdateSlice"], constants.ONNX_DOMAIN, {}
    )  # idempotent
    _, function = _step_function(gpt, batch_size)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".cached-step-") as staging:
        staged = function_to_onnx(function, Path(staging) / path.name, f"the cached step of {gpt.name!r}")
        os.replace(staged, path)
    return path


class CachedStepRunner:
    """Runs an exported cached step (`.tflite` with ai-edge-litert, `.onnx` with onnxruntime) by tensor name:
    `runner(token_ids, cache, cache_index) -> {"logits", "new_cache"}`."""

    def __init__(self, path):
        self.path = str(path)
        if self.path.endswith(".tflite"):
            from ai_edge_litert.interpreter import Interpreter

            self._tflite = Interpreter(model_path=self.path).get_signature_runner(SIGNATURE)
        else:
            import onnxruntime

            self._onnx = onnxruntime.InferenceSession(self.path, providers=["CPUExecutionProvider"])
            self._outputs = [output.name for output in self._onnx.get_outputs()]

    def __call__(self, token_ids, cache, cache_index):
        feed = {TOKEN_INPUT: token_ids, CACHE_INPUT: cache, CACHE_INDEX_INPUT: cache_index}
        if self.path.endswith(".tflite"):
            outputs = self._tflite(**feed)
        else:
            outputs = dict(zip(self._outputs, self._onnx.run(None, feed), strict=True))
            # tf2onnx names a dict's outputs by position; they come in the function's sorted key order.
            if set(outputs) != set(CACHED_STEP_OUTPUTS):
                outputs = dict(zip(CACHED_STEP_OUTPUTS, outputs.values(), strict=True))
        return {name: np.asarray(outputs[name]) for name in CACHED_STEP_OUTPUTS}


def run_cached_steps(path, token_ids, cache_shape_):
    """Feeds `token_ids` `[B, T]` through an exported cached step one position at a time (the cache fed back);
    returns the logits of every position `[B, T, vocab]`."""
    return _stepped(path, token_ids, cache_shape_)[0]


def _stepped(path, token_ids, cache_shape_):
    runner = CachedStepRunner(path)
    token_ids = np.asarray(token_ids, np.int32)
    cache = np.zeros((len(token_ids), *cache_shape_[1:]), np.float32)
    logits, seconds = [], []
    for position in range(token_ids.shape[1]):
        start = time.perf_counter()
        out = runner(token_ids[:, position : position + 1], cache, np.array([position], np.int32))
        seconds.append(time.perf_counter() - start)
        logits.append(out["logits"])
        cache = out["new_cache"]
    return np.stack(logits, axis=1), seconds


def check_cached_step(gpt, path, token_ids=None, seed=0):
    """Parity of an exported cached step: stepping a sequence through the file against the whole-sequence
    model's logits at every position.

    Args:
        gpt: the `GPTDecoder` the file was exported from.
        path: the `.tflite` or `.onnx` cached step (batch 1).
        token_ids: `[1, T]` ids (default: a random sequence as long as the context).
        seed: seed of the random sequence.

    Returns:
        A parity row: `path`, `format`, `runtime`, `samples`, `positions`, `max_abs_error`,
        `greedy_token_agreement` (share of positions whose argmax matches Keras), `median_ms_per_token` (one
        step in the runtime, through the Python bindings, the cache copied in and out), `operators` and
        `flex_operators` (empty for a builtin-only file).

    Raises:
        ExportError: when the error is above 1e-4.
    """
    from keras_nn.edge.contract import format_of, runtime_of
    from keras_nn.edge.operators import flex_operators, operators

    if token_ids is None:
        vocab = gpt.token_embedding.input_dim
        token_ids = np.random.default_rng(seed).integers(1, vocab, (1, gpt.max_sequence_length))
    token_ids = np.asarray(token_ids, np.int32)
    whole = np.asarray(gpt(token_ids, training=False), np.float32)
    stepped, seconds = _stepped(path, token_ids, cache_shape(gpt, 1))
    error = float(np.abs(stepped - whole).max())
    counts = operators(str(path))
    if not error <= CACHED_STEP_TOLERANCE:
        raise ExportError(
            f"the cached step {str(path)!r} fed token by token differs from {gpt.name!r} on the whole sequence by "
            f"{error:.2e}; the converter changed the step's arithmetic"
        )
    return {
        "path": str(path),
        "format": format_of(path),
        "runtime": runtime_of(path),
        "samples": int(len(token_ids)),
        "positions": int(token_ids.shape[1]),
        "max_abs_error": error,
        "greedy_token_agreement": float(np.mean(stepped.argmax(-1) == whole.argmax(-1))),
        # The steps after the first (which pays the runtime's first-call setup), the cache fed in and out.
        "median_ms_per_token": float(np.median(seconds[1:] or seconds) * 1000),
        "operators": counts,
        "flex_operators": flex_operators(counts),
    }
