"""The file and tensor-name contract between keras-nn's exporters and the edge kit.

keras-nn's exporters write these names and the kit's runners read them; both import them from here, so what a
device can rely on is written once:

- An export folder holds ``saved_model/`` (TensorFlow only), ``model.tflite`` (float32) and one
  ``model.<mode>.tflite`` per quantize mode (``float16``, ``dynamic``, ``int8``), ``model.onnx``, and, for
  recurrent models exported with streaming, ``model.stream.tflite`` / ``model.stream.onnx``; for a GPT decoder
  exported with streaming, its cached step ``model.cached_step.tflite`` / ``model.cached_step.onnx`` (below). A seq2seq run adds
  its greedy decoder (``greedy_decoder.tflite`` / ``.onnx``), a translator run its encoder (``encoder.tflite`` /
  ``.onnx``). ``parity.json`` holds the parity reports, ``latency.json`` the latency table, ``NOTES.md`` notes
  on files that need them.
- A streaming model takes ``step`` (one sample, ``(batch, features...)``) and the states ``state_00``,
  ``state_01``, ... (layer by layer, h then c for an LSTM; sorted names keep that order), and returns
  ``output`` (the prediction after this step) and ``new_state_00``, ... to feed back as the states of the
  next step.
- A detector export (``model.tflite``, ``model.int8.tflite``, ``model.onnx``) takes ONE image ``image``
  (float32 ``[1, H, W, 3]`` RGB in [0, 1]) and returns ``boxes`` ``[1, max_detections, 4]`` (x1, y1, x2, y2,
  normalized), ``scores`` ``[1, max_detections]``, ``classes`` ``[1, max_detections]`` (int32) and ``count``
  ``[1]`` (int32), decoding and non-max suppression inside; ``labels.txt`` beside it names the classes, one a
  line, in id order.
- ``format_of(path)`` names a file's format from its name (as the exporters write it) and ``runtime_of(path)``
  the runtime that runs it.

Standard library only: the kit runs where neither TensorFlow nor keras_nn is installed.
"""

from __future__ import annotations

import os
import re

QUANTIZE_MODES = ("float16", "dynamic", "int8")

SAVED_MODEL_DIR = "saved_model"
ONNX_FILE = "model.onnx"
STREAMING_FILES = {"tflite": "model.stream.tflite", "onnx": "model.stream.onnx"}
DECODER_FILES = {"tflite": "greedy_decoder.tflite", "onnx": "greedy_decoder.onnx"}
ENCODER_FILES = {"tflite": "encoder.tflite", "onnx": "encoder.onnx"}
PARITY_FILE = "parity.json"
LATENCY_FILE = "latency.json"
NOTES_FILE = "NOTES.md"

DETECTOR_INPUT = "image"
DETECTOR_OUTPUTS = ("boxes", "scores", "classes", "count")
LABELS_FILE = "labels.txt"

STEP_INPUT = "step"
STEP_OUTPUT = "output"
STATE_PREFIX = "state_"
NEW_STATE_PREFIX = "new_"


def tflite_file(quantize: str | None = None) -> str:
    """The TFLite file name for a quantize mode: ``model.tflite`` for None (float32), else ``model.<mode>.tflite``.

    Raises:
        ValueError: for a mode not in ``QUANTIZE_MODES``, naming it and the allowed ones.
    """
    if quantize is None:
        return "model.tflite"
    if quantize not in QUANTIZE_MODES:
        raise ValueError(
            f"quantize={quantize!r} has no TFLite file; use None (float32) or one of {', '.join(QUANTIZE_MODES)}"
        )
    return f"model.{quantize}.tflite"


def state_name(index: int) -> str:
    """The name of the ``index``-th state input of a streaming model: ``state_00``, ``state_01``, ...

    Two digits, so sorting the names keeps the layer order.
    """
    return f"{STATE_PREFIX}{index:02d}"


def new_state_name(name: str) -> str:
    """The output that carries the next value of state input ``name`` (ONNX forbids one name for both)."""
    return f"{NEW_STATE_PREFIX}{name}"


def is_state_name(name: str) -> bool:
    """Whether an input name is one of a streaming model's states (``state_NN``)."""
    return name.startswith(STATE_PREFIX)


def is_streaming_model(path) -> bool:
    """Whether ``path`` names a streaming export (``*.stream.tflite``, ``*.stream.onnx``)."""
    return ".stream." in os.path.basename(os.fspath(path))


def format_of(path) -> str:
    """The format of an exported file, from its name.

    Returns:
        ``savedmodel`` for a directory; ``tflite-stream`` / ``onnx-stream`` for a streaming export;
        ``tflite-cached-step`` / ``onnx-cached-step`` for a decoder's cached step;
        ``tflite-float16``, ``tflite-dynamic`` or ``tflite-int8`` for a ``.tflite`` file whose name holds the
        quantize mode as a word (``model.int8.tflite``), else ``tflite-float32``; ``onnx`` for ``.onnx``; any
        other extension without its dot.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        return "savedmodel"
    stem, suffix = os.path.splitext(os.path.basename(path))
    suffix = suffix.lstrip(".")
    if is_streaming_model(path):
        return f"{suffix}-stream"
    if is_cached_step_model(path):
        return f"{suffix}-cached-step"
    if suffix == "tflite":
        words = set(re.split(r"[._-]", stem))
        variant = next((mode for mode in QUANTIZE_MODES if mode in words), "float32")
        return f"tflite-{variant}"
    return suffix


def runtime_of(path) -> str:
    """The runtime that runs an exported file: ``tensorflow``, ``ai-edge-litert`` or ``onnxruntime``."""
    fmt = format_of(path)
    if fmt == "savedmodel":
        return "tensorflow"
    if fmt.startswith("onnx"):
        return "onnxruntime"
    return "ai-edge-litert"


# A GPT decoder's cached step (keras_nn.export.cached_decoder): ONE token and the key/value cache in, the next
# token's logits and the updated cache out. Inputs ``token_ids`` (int32 ``[B, 1]``), ``cache`` (float32 ``[B,
# num_layers, 2, max_length, num_heads, head_dim]``, zeros at first) and ``cache_index`` (int32 ``[1]``, the
# token's position); outputs ``logits`` ``[B, vocab]`` and ``new_cache``, fed back as ``cache`` at the next index.
CACHED_STEP_FILES = {"tflite": "model.cached_step.tflite", "onnx": "model.cached_step.onnx"}
TOKEN_INPUT = "token_ids"
CACHE_INPUT = "cache"
CACHE_INDEX_INPUT = "cache_index"
CACHED_STEP_OUTPUTS = ("logits", "new_cache")


def is_cached_step_model(path) -> bool:
    """Whether ``path`` names a decoder's cached-step export (``*.cached_step.tflite``, ``*.cached_step.onnx``)."""
    return ".cached_step." in os.path.basename(os.fspath(path))
