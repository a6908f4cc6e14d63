"""One runner interface over every exported format: the edge kit's TFLite, ONNX and streaming runners and TF
for SavedModel. A runner has `input_shape`, `run(batch) -> float32 outputs`, and `prepare`/`invoke_prepared`
for latency timing (a streaming runner times one step)."""

import re
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_nn.edge.bench_device import load_runner as load_edge_runner
from keras_nn.edge.run_streaming import StreamingRunner, is_streaming_model
from keras_nn.errors import MissingPathError


class SavedModelRunner:
    """Runs a SavedModel's `serving_default` signature in TensorFlow on float32 batches."""

    def __init__(self, path, num_threads=None):
        del num_threads  # TF's thread pools are process-wide; set them with tf.config.threading instead.
        self.path = str(path)
        loaded = tf.saved_model.load(self.path)
        self._loaded = loaded  # the signature does not keep its variables alive by itself
        self._function = loaded.signatures["serving_default"]
        spec = next(iter(self._function.structured_input_signature[1].values()))
        self._input_name = next(iter(self._function.structured_input_signature[1]))
        self._dtype = spec.dtype
        self.input_shape = tuple(-1 if d is None else int(d) for d in spec.shape)

    def prepare(self, x1):
        return tf.constant(np.asarray(x1), dtype=self._dtype)

    def invoke_prepared(self, prepared):
        outputs = self._function(**{self._input_name: prepared})
        return next(iter(outputs.values()))

    def run(self, x):
        return np.asarray(self.invoke_prepared(self.prepare(x))).astype(np.float32)


def format_of(path):
    """`savedmodel`, `tflite-<variant>`, `onnx`, or `tflite-stream` / `onnx-stream`, from the path the export
    pipeline wrote."""
    path = Path(path)
    if path.is_dir():
        return "savedmodel"
    if is_streaming_model(str(path)):
        return f"{path.suffix.lstrip('.')}-stream"
    if path.suffix == ".tflite":
        words = set(re.split(r"[._-]", path.stem))
        variant = next((mode for mode in ("float16", "dynamic", "int8") if mode in words), "float32")
        return f"tflite-{variant}"
    return path.suffix.lstrip(".")


def runtime_of(path):
    return (
        "onnxruntime"
        if format_of(path).startswith("onnx")
        else {"savedmodel": "tensorflow"}.get(format_of(path), "ai-edge-litert")
    )


def load_runner(path, num_threads=None):
    """The runner for an exported file or SavedModel directory."""
    path = Path(path)
    if not path.exists():
        raise MissingPathError(f"exported model {str(path)!r} does not exist")
    if path.is_dir():
        return SavedModelRunner(path)
    if is_streaming_model(str(path)):
        return StreamingRunner(str(path), num_threads=num_threads)
    return load_edge_runner(str(path), num_threads=num_threads)
