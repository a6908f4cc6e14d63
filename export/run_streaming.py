"""Run a streaming (single-step) model one sample at a time, with numpy and LiteRT or onnxruntime only.

keras-nn's streaming export (``model.stream.tflite``, ``model.stream.onnx``) is a model of one time step: it
takes the step's input ``step`` and the recurrent states ``state_00``, ``state_01``, ... and returns ``output``
and the new states ``new_state_00``, ... A real-time device feeds each sample as it arrives and keeps the
states between calls; ``StreamingRunner`` does that bookkeeping.

Usage on a device::

    python run_streaming.py model.stream.tflite sequences.npy [--output out.npy] [--threads N]

``sequences.npy`` holds a batch of sequences ``(N, T, ...)`` or one sequence without the batch dim. Each is fed
step by step from zero states; one line per sequence shows the output after its last step (top-1 class and
score for a vector). ``--output`` saves the outputs of every step, ``(N, T, ...)``. Exit codes: 0 ok, 2 for a
missing file, an input of the wrong shape or a file that is not a streaming model.
"""

from __future__ import annotations

import os
import sys

import numpy as np

# The kit's own modules: from the package when this file runs inside one (installed as keras_nn.edge, or a
# copied folder run with `python -m kit.run_streaming`), else from this folder, which Python puts first on
# sys.path for a plain script (`python run_streaming.py`).
if __package__:
    from . import contract, edge_common, run_onnx, run_tflite
else:
    import contract
    import edge_common
    import run_onnx
    import run_tflite

# Kept importable from here, where it was first defined.
is_streaming_model = contract.is_streaming_model


class _TFLiteStep:
    """A TFLite step model called through its signature (inputs and outputs by name)."""

    def __init__(self, path, num_threads):
        try:
            self.interpreter = run_tflite.interpreter_class()(model_path=path, num_threads=num_threads)
        except (ValueError, RuntimeError) as err:
            raise edge_common.ModelLoadError(f"cannot load {path} as a TFLite model: {err}") from err
        signatures = self.interpreter.get_signature_list()
        if len(signatures) != 1:
            raise edge_common.ModelLoadError(
                f"{path} has {len(signatures)} signatures; a streaming model has one"
            )
        key = next(iter(signatures))
        self.runner = self.interpreter.get_signature_runner(key)
        details = self.runner.get_input_details()
        self.inputs = {
            name: (tuple(int(d) for d in info["shape_signature"]), np.dtype(info["dtype"]))
            for name, info in details.items()
        }

    def __call__(self, feed):
        return self.runner(**feed)


class _ONNXStep:
    """An ONNX step model in onnxruntime (inputs and outputs by name); idle threads do not spin."""

    def __init__(self, path, num_threads):
        self.session = run_onnx.onnx_session(path, num_threads)
        self.inputs = {
            arg.name: (run_onnx.onnx_shape(arg.shape), run_onnx.onnx_dtype(arg.type))
            for arg in self.session.get_inputs()
        }
        self.output_names = [arg.name for arg in self.session.get_outputs()]

    def __call__(self, feed):
        return dict(zip(self.output_names, self.session.run(self.output_names, feed), strict=True))


class StreamingRunner:
    """Feeds a streaming model one time step at a time and carries its states.

    Args:
        path: a ``.tflite`` or ``.onnx`` streaming model (inputs ``step`` and ``state_NN``).
        num_threads: CPU threads for the runtime; None keeps its default.

    Example:
        >>> runner = StreamingRunner("model.stream.tflite")
        >>> runner.reset()
        >>> for sample in live_samples:          # each (features,)
        ...     scores = runner.step(sample[None])  # (1, num_classes): the prediction so far
    """

    def __init__(self, path: str, num_threads: int | None = None):
        edge_common.ensure_file(path, "model file")
        self.path = path
        ext = os.path.splitext(path)[1].lower()
        if ext not in (".tflite", ".onnx"):
            raise edge_common.EdgeKitUsageError(
                f"unsupported model extension {ext or '(none)'!r} for {path}: use .onnx or .tflite"
            )
        self._model = _TFLiteStep(path, num_threads) if ext == ".tflite" else _ONNXStep(path, num_threads)
        inputs = self._model.inputs
        if contract.STEP_INPUT not in inputs:
            raise edge_common.ModelLoadError(
                f"{path} is not a streaming model: its inputs are {sorted(inputs)}, without {contract.STEP_INPUT!r}"
            )
        self.state_names = sorted(name for name in inputs if contract.is_state_name(name))
        self._step_shape, self._step_dtype = inputs[contract.STEP_INPUT]
        self.states = {}
        self.reset()

    @property
    def input_shape(self) -> tuple:
        """The shape of one step's input, -1 for a dynamic batch."""
        return self._step_shape

    def reset(self, batch: int = 1) -> None:
        """Zero the states for a new stream of ``batch`` sequences."""
        self.states = {
            name: np.zeros((batch, *self._model.inputs[name][0][1:]), np.float32) for name in self.state_names
        }

    def _feed(self, x_t, states):
        x_t = np.asarray(x_t)
        if x_t.ndim != len(self._step_shape) or any(
            w >= 0 and g != w for w, g in zip(self._step_shape[1:], x_t.shape[1:], strict=False)
        ):
            raise edge_common.InputShapeError(
                f"step input shape {tuple(x_t.shape)} does not match the model's step input {self._step_shape}"
            )
        return {contract.STEP_INPUT: np.ascontiguousarray(x_t.astype(self._step_dtype, copy=False)), **states}

    def step(self, x_t: np.ndarray) -> np.ndarray:
        """Feed one step ``(batch, ...)``; returns the output after it (float32) and keeps the new states."""
        x_t = np.asarray(x_t)
        if x_t.shape[0] != next(iter(self.states.values())).shape[0]:
            self.reset(x_t.shape[0])
        result = self._model(self._feed(x_t, self.states))
        self.states = {
            name: np.asarray(result[contract.new_state_name(name)], np.float32) for name in self.state_names
        }
        return np.asarray(result[contract.STEP_OUTPUT]).astype(np.float32, copy=False)

    def run(self, sequences: np.ndarray) -> np.ndarray:
        """Feed whole sequences ``(batch, time, ...)`` step by step from zero states; outputs of every step."""
        sequences = np.asarray(sequences)
        if sequences.ndim != len(self._step_shape) + 1:
            raise edge_common.InputShapeError(
                f"sequences of shape {tuple(sequences.shape)} do not match the step input {self._step_shape}: "
                "expected (batch, time, ...)"
            )
        self.reset(sequences.shape[0])
        return np.stack([self.step(sequences[:, t]) for t in range(sequences.shape[1])], axis=1)

    # The benchmark interface (bench_device.time_runners): one step from zero states, latency per sample.
    def prepare(self, x1: np.ndarray) -> dict:
        x1 = np.asarray(x1)
        step = x1[:, 0] if x1.ndim == len(self._step_shape) + 1 else x1
        states = {
            name: np.zeros((1, *self._model.inputs[name][0][1:]), np.float32) for name in self.state_names
        }
        return self._feed(step[:1], states)

    def invoke_prepared(self, prepared: dict):
        return self._model(prepared)[contract.STEP_OUTPUT]


def _as_sequences(x, runner, source):
    """One sequence ``(T, ...)`` gets the batch dim; ``run`` checks the rest."""
    return x[None] if x.ndim == len(runner.input_shape) else x


def main(argv=None) -> int:
    return edge_common.runner_cli(
        argv,
        prog="run_streaming.py",
        description="Feed sequences step by step to a streaming model (no TensorFlow).",
        runner_factory=StreamingRunner,
        model_suffix=".stream.tflite or .stream.onnx",
        input_help="a .npy array: sequences (N, T, ...) or one sequence (T, ...)",
        as_input=_as_sequences,
        shown=lambda outputs: outputs[:, -1],  # the prediction after the last step
    )


if __name__ == "__main__":
    sys.exit(main())
