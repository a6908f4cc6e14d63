"""Run an ONNX model with numpy and onnxruntime only (no TensorFlow).

Usage on a device::

    python run_onnx.py model.onnx input.npy [--output out.npy] [--threads N]

``input.npy`` holds a batch ``(N, ...)`` or one example without the batch dim. One line is printed per example
(index, top-1 class and its score for a vector output). Exit codes: 0 ok, 2 for a missing file, an input of the
wrong shape or a file that is not an ONNX model.
"""

from __future__ import annotations

import sys

import numpy as np

# The kit's own modules: from the package when this file runs inside one (installed as keras_nn.edge, or a
# copied folder run with `python -m kit.run_onnx`), else from this folder, which Python puts first on
# sys.path for a plain script (`python run_onnx.py`).
if __package__:
    from . import edge_common
else:
    import edge_common

# onnxruntime names element types as strings in its NodeArg metadata.
_ONNX_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(int16)": np.int16,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(bool)": np.bool_,
}


def onnx_dtype(type_name: str) -> np.dtype:
    """The numpy type of an onnxruntime type string (``tensor(int8)`` -> int8); float32 for any other."""
    return np.dtype(_ONNX_DTYPES.get(type_name, np.float32))


def onnx_shape(dims) -> tuple:
    """An onnxruntime NodeArg shape with -1 for every dynamic dim (named or unknown)."""
    return tuple(d if isinstance(d, int) and d >= 0 else -1 for d in dims)


def _load_errors(ort) -> tuple:
    """onnxruntime's exceptions for a file it cannot load (pybind types, not ValueError subclasses)."""
    state = ort.capi.onnxruntime_pybind11_state
    names = ("InvalidProtobuf", "InvalidGraph", "InvalidArgument", "Fail", "NoSuchFile", "NotImplemented")
    return tuple(getattr(state, n) for n in names if hasattr(state, n)) + (RuntimeError,)


def onnx_session(path: str, num_threads: int | None = None, allow_spinning: bool = False):
    """An onnxruntime session on the CPU provider (see ``ONNXRunner`` for the arguments).

    Raises:
        ImportError: onnxruntime is not installed, with the command that installs it.
        ModelLoadError: the file is not an ONNX model onnxruntime can load.
    """
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise ImportError("onnxruntime is not installed: pip install onnxruntime") from err
    options = ort.SessionOptions()
    if num_threads is not None:
        options.intra_op_num_threads = int(num_threads)
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if allow_spinning else "0")
    try:
        return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
    except _load_errors(ort) as err:
        raise edge_common.ModelLoadError(f"cannot load {path} as an ONNX model: {err}") from err


class ONNXRunner:
    """Runs a single-input ONNX model on float32 batches with onnxruntime's CPU provider.

    Args:
        path: the ``.onnx`` file.
        num_threads: ``intra_op_num_threads`` for the session; None keeps onnxruntime's default (one thread
            per physical core).
        allow_spinning: let idle intra-op threads busy-wait for the next run. Off by default: spinning threads
            burn a device's CPU and battery between calls, and in an interleaved benchmark they steal the
            cores of the runtime timed next (a 2-thread TFLite model measured 2x slower beside a spinning
            session, while onnxruntime's own latency did not change without spinning).

    A model with a dynamic batch dim gets the whole batch in one call; a fixed batch of 1 is fed one example
    at a time. Outputs come back as float32; with several outputs, the first one is returned.

    Example:
        >>> runner = ONNXRunner("model.onnx", num_threads=2)
        >>> probs = runner.run(np.zeros((4, 28, 28, 1), np.float32))  # (4, num_classes)
    """

    def __init__(self, path: str, num_threads: int | None = None, allow_spinning: bool = False):
        edge_common.ensure_file(path, "model file")
        self.path = path
        self.session = onnx_session(path, num_threads, allow_spinning)
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise edge_common.ModelLoadError(
                f"{path} has {len(inputs)} inputs; ONNXRunner runs single-input models (a streaming model, "
                "with its states as inputs, runs with run_streaming.py)"
            )
        self._input = inputs[0]
        self._output = self.session.get_outputs()[0]

    @property
    def input_shape(self) -> tuple:
        """The model's input shape, -1 for a dynamic dim (a named or unknown ONNX dim)."""
        return onnx_shape(self._input.shape)

    @property
    def input_dtype(self) -> np.dtype:
        """The input's element type; inputs are cast to it."""
        return onnx_dtype(self._input.type)

    @property
    def output_dtype(self) -> np.dtype:
        """The raw output's element type; ``run`` returns float32 whatever it is."""
        return onnx_dtype(self._output.type)

    def prepare(self, x1: np.ndarray) -> dict:
        """Cast one batch-1 example to the model's input type ahead of timing; returns the feed dict."""
        x1 = np.asarray(x1)
        edge_common.check_batch_shape(x1.shape, self.input_shape)
        return {self._input.name: np.ascontiguousarray(x1.astype(self.input_dtype, copy=False))}

    def invoke_prepared(self, prepared: dict) -> np.ndarray:
        """One session run on a prepared feed: the part a latency benchmark times."""
        return self.session.run([self._output.name], prepared)[0]

    def _run_feed(self, x: np.ndarray) -> np.ndarray:
        feed = {self._input.name: np.ascontiguousarray(x.astype(self.input_dtype, copy=False))}
        return np.asarray(self.session.run([self._output.name], feed)[0]).astype(np.float32, copy=False)

    def run(self, x: np.ndarray) -> np.ndarray:
        """Run a batch ``(N, ...)`` and return float32 outputs ``(N, ...)``."""
        x = np.asarray(x)
        expected = self.input_shape
        edge_common.check_batch_shape(x.shape, expected)
        if edge_common.batch_is_dynamic(expected) or (expected and expected[0] > 1):
            return self._run_feed(x)
        return edge_common.run_per_example(self._run_feed, x)


def main(argv=None) -> int:
    return edge_common.runner_cli(
        argv,
        prog="run_onnx.py",
        description="Run a .onnx model on a .npy input with onnxruntime (no TensorFlow).",
        runner_factory=ONNXRunner,
        model_suffix=".onnx",
    )


if __name__ == "__main__":
    sys.exit(main())
