"""One runner interface over every exported format: the edge kit's TFLite, ONNX and streaming runners and TF
for SavedModel. A runner has `input_shape`, `run(batch) -> float32 outputs`, and `prepare`/`invoke_prepared`
for latency timing (a streaming runner times one step)."""

from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_nn.edge.bench_device import load_runner as load_edge_runner
from keras_nn.edge.contract import format_of, runtime_of
from keras_nn.errors import MissingPathError

# format_of and runtime_of belong to the edge kit's contract (keras_nn.edge.contract); importable from here too.
__all__ = ["SavedModelRunner", "format_of", "load_runner", "runtime_of"]


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


def load_runner(path, num_threads=None):
    """The runner for an exported file or SavedModel directory."""
    path = Path(path)
    if not path.exists():
        raise MissingPathError(f"exported model {str(path)!r} does not exist")
    if path.is_dir():
        return SavedModelRunner(path)
    # The kit's load_runner picks the TFLite, ONNX or streaming runner.
    return load_edge_runner(str(path), num_threads=num_threads)
