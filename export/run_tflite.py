"""Run a TFLite model with numpy and the LiteRT interpreter only (no TensorFlow).

Usage on a device::

    python run_tflite.py model.tflite input.npy [--output out.npy] [--threads N]

``input.npy`` holds a batch ``(N, ...)`` or one example without the batch dim. One line is printed per example
(index, top-1 class and its score for a vector output). Exit codes: 0 ok, 2 for a missing file, an input of the
wrong shape or a file that is not a TFLite model.
"""

from __future__ import annotations

import sys

import numpy as np

# The kit's own modules: from the package when this file runs inside one (installed as keras_nn.edge, or a
# copied folder run with `python -m kit.run_tflite`), else from this folder, which Python puts first on
# sys.path for a plain script (`python run_tflite.py`).
if __package__:
    from . import edge_common
else:
    import edge_common


def interpreter_class():
    """The TFLite interpreter class: ai-edge-litert, else the older tflite-runtime wheel."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    except ImportError:
        pass
    try:
        # Older boards (and Python versions ai-edge-litert has no wheel for) still ship tflite-runtime.
        from tflite_runtime.interpreter import Interpreter

        return Interpreter
    except ImportError as err:
        raise ImportError(
            "no TFLite interpreter installed: pip install ai-edge-litert (or tflite-runtime on older devices)"
        ) from err


class TFLiteRunner:
    """Runs a single-input TFLite model on float32 batches, one example at a time.

    Args:
        path: the ``.tflite`` file.
        num_threads: CPU threads for the interpreter (and its XNNPACK delegate); None keeps the runtime's
            default.

    Float inputs are quantized with the input tensor's ``(scale, zero_point)`` when the model takes int8/uint8,
    and quantized outputs are dequantized, so callers always pass and get float32. When a model has several
    outputs, the first one is returned.

    Example:
        >>> runner = TFLiteRunner("model.tflite", num_threads=2)
        >>> probs = runner.run(np.zeros((4, 28, 28, 1), np.float32))  # (4, num_classes)
    """

    def __init__(self, path: str, num_threads: int | None = None):
        edge_common.ensure_file(path, "model file")
        self.path = path
        interpreter = interpreter_class()
        try:
            self.interpreter = interpreter(model_path=path, num_threads=num_threads)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise edge_common.ModelLoadError(f"cannot load {path} as a TFLite model: {err}") from err
        inputs = self.interpreter.get_input_details()
        if len(inputs) != 1:
            raise edge_common.ModelLoadError(
                f"{path} has {len(inputs)} inputs; TFLiteRunner runs single-input models (a streaming model, "
                "with its states as inputs, runs with run_streaming.py)"
            )
        self._input = inputs[0]
        self._output = self.interpreter.get_output_details()[0]

    @property
    def input_shape(self) -> tuple:
        """The model's input shape, -1 for a dynamic dim (from ``shape_signature``)."""
        signature = self._input.get("shape_signature")
        shape = signature if signature is not None and len(signature) else self._input["shape"]
        return tuple(int(d) for d in shape)

    @property
    def input_dtype(self) -> np.dtype:
        """The input tensor's element type (int8/uint8 for a fully quantized TFLite model)."""
        return np.dtype(self._input["dtype"])

    @property
    def output_dtype(self) -> np.dtype:
        """The raw output's element type; ``run`` returns float32 whatever it is."""
        return np.dtype(self._output["dtype"])

    def _quantize(self, x: np.ndarray) -> np.ndarray:
        dtype = self.input_dtype
        scale, zero_point = self._input["quantization"]
        if np.issubdtype(dtype, np.integer) and scale != 0:
            info = np.iinfo(dtype)
            q = np.round(x.astype(np.float32) / np.float32(scale)) + zero_point
            return np.clip(q, info.min, info.max).astype(dtype)
        # Float models, and integer inputs that are not quantized (token ids), take the values as they are.
        return x.astype(dtype, copy=False)

    def _dequantize(self, y: np.ndarray) -> np.ndarray:
        scale, zero_point = self._output["quantization"]
        if np.issubdtype(y.dtype, np.integer) and scale != 0:
            return ((y.astype(np.float32) - zero_point) * np.float32(scale)).astype(np.float32)
        return y.astype(np.float32, copy=False)

    def prepare(self, x1: np.ndarray) -> np.ndarray:
        """Quantize or cast one batch-1 example ahead of timing, resizing a dynamic input to fit it."""
        x1 = np.asarray(x1)
        edge_common.check_batch_shape(x1.shape, self.input_shape)
        prepared = np.ascontiguousarray(self._quantize(x1))
        current = tuple(int(d) for d in self.interpreter.get_input_details()[0]["shape"])
        if prepared.shape != current:
            # A dynamic dim (other than a batch of 1) must be fixed before invoke; resizing reallocates.
            self.interpreter.resize_tensor_input(self._input["index"], list(prepared.shape), strict=True)
            self.interpreter.allocate_tensors()
        return prepared

    def invoke_prepared(self, prepared: np.ndarray) -> np.ndarray:
        """Reset state, set the input, invoke, read the raw output: the part a latency benchmark times."""
        # A fused TFLite LSTM (UNIDIRECTIONAL_SEQUENCE_LSTM) keeps its h/c state in variable tensors between
        # invokes, so without the reset a second call on the same input gives a different answer.
        self.interpreter.reset_all_variables()
        self.interpreter.set_tensor(self._input["index"], prepared)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._output["index"])

    def _run_one(self, x1: np.ndarray) -> np.ndarray:
        return self._dequantize(self.invoke_prepared(self.prepare(x1)))

    def run(self, x: np.ndarray) -> np.ndarray:
        """Run a batch ``(N, ...)`` and return float32 outputs ``(N, ...)``.

        Examples are invoked one at a time with batch 1, as on a device: recurrent models converted with
        single-batch tensor-list ops fail at a larger batch, and per-example latency is what a device sees.
        A model with a fixed batch larger than 1 gets the whole batch in one invoke.
        """
        x = np.asarray(x)
        expected = self.input_shape
        edge_common.check_batch_shape(x.shape, expected)
        if expected and expected[0] > 1:
            return self._run_one(x)
        return edge_common.run_per_example(self._run_one, x)


def main(argv=None) -> int:
    return edge_common.runner_cli(
        argv,
        prog="run_tflite.py",
        description="Run a .tflite model on a .npy input with the LiteRT interpreter (no TensorFlow).",
        runner_factory=TFLiteRunner,
        model_suffix=".tflite",
    )


if __name__ == "__main__":
    sys.exit(main())
