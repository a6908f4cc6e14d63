"""Helpers shared by the edge kit's runners and command-line scripts.

This module needs only numpy. It is imported as ``keras_nn.edge.edge_common`` from the library and as plain
``edge_common`` when the ``export/`` folder is copied onto a device and its scripts are run directly.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

import numpy as np


class EdgeKitUsageError(ValueError):
    """A bad input from the user (wrong shape, unreadable ``.npy``); the scripts exit 2 on it."""


class InputShapeError(EdgeKitUsageError):
    """An input array whose shape does not fit the model's input."""


class ModelLoadError(EdgeKitUsageError):
    """A model file the runtime cannot load (not a model, or made for another runtime)."""


def describe_shape(shape: Sequence[int]) -> str:
    """Show a model shape with ``N`` for a dynamic batch and ``?`` for other dynamic dims."""
    dims = []
    for i, d in enumerate(shape):
        if d is None or d < 0:
            dims.append("N" if i == 0 else "?")
        else:
            dims.append(str(int(d)))
    return "(" + ", ".join(dims) + (",)" if len(dims) == 1 else ")")


def check_batch_shape(shape: Sequence[int], expected: Sequence[int]) -> None:
    """Raise InputShapeError unless a batch of ``shape`` can be fed to a model input of ``expected``.

    A batch dim of -1 or 1 in the model accepts any batch size, because the runners feed a batch-1 model
    one example at a time.
    """
    shape = tuple(int(d) for d in shape)
    ok = len(shape) == len(expected)
    if ok:
        for i, (got, want) in enumerate(zip(shape, expected, strict=True)):
            if i == 0 and want in (-1, 1):
                continue
            if want >= 0 and got != want:
                ok = False
                break
    if not ok:
        raise InputShapeError(
            f"input shape {shape} does not match the model input: expected {describe_shape(expected)}"
        )


def as_batch(x: np.ndarray, expected: Sequence[int]) -> np.ndarray:
    """Add the batch dim to a single example (one dim fewer than the model input); leave a batch alone."""
    if x.ndim == len(expected) - 1:
        return x[None, ...]
    return x


def checked_batch(x: np.ndarray, expected: Sequence[int], source: str) -> np.ndarray:
    """``x`` as a batch for a model input of ``expected``: a batch, or one example that gets the batch dim.

    Raises:
        InputShapeError: naming the shape as given (not after adding a batch dim) and both accepted forms.
    """
    try:
        batch = as_batch(x, expected)
        check_batch_shape(batch.shape, expected)
        return batch
    except InputShapeError:
        example = describe_shape(expected[1:]) if len(expected) > 1 else "()"
        raise InputShapeError(
            f"input shape {tuple(x.shape)} from {source} does not match the model input: expected a batch "
            f"{describe_shape(expected)} or one example {example}"
        ) from None


def batch_is_dynamic(expected: Sequence[int]) -> bool:
    return len(expected) > 0 and expected[0] < 0


def run_per_example(invoke_one: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """Run ``invoke_one`` on each batch-1 slice of ``x`` and stack the outputs along the batch axis."""
    outs = [invoke_one(x[i : i + 1]) for i in range(x.shape[0])]
    if not outs:
        raise EdgeKitUsageError("input batch is empty (shape[0] == 0)")
    if all(o.ndim > 0 and o.shape[0] == 1 for o in outs):
        return np.concatenate(outs, axis=0)
    # A model that drops the batch dim in its output: give each example its own row.
    return np.stack(outs, axis=0)


def ensure_file(path: str, what: str) -> None:
    """Raise FileNotFoundError naming ``what`` and ``path`` when the file is missing."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: {path}")


def load_npy(path: str) -> np.ndarray:
    """Load an input array from ``.npy`` with a one-line error for a missing or unreadable file."""
    ensure_file(path, "input file")
    try:
        # allow_pickle=False: an input file copied from elsewhere must not run code when loaded.
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        raise EdgeKitUsageError(f"cannot read {path} as a .npy array: {err}") from err


def format_prediction(index: int, output: np.ndarray) -> str:
    """One line per example: top-1 class and score for a vector, the value for a scalar, else the shape."""
    if output.ndim == 0:
        return f"{index}\tvalue {float(output):.4f}"
    if output.ndim == 1 and output.size > 0:
        top = int(np.argmax(output))
        return f"{index}\tclass {top}\tscore {float(output[top]):.4f}"
    return f"{index}\toutput shape {tuple(output.shape)}"


def print_predictions(outputs: np.ndarray, stream=None) -> None:
    stream = stream or sys.stdout
    for i in range(outputs.shape[0]):
        print(format_prediction(i, outputs[i]), file=stream)


def fail(prog: str, message: str, code: int = 2) -> int:
    """Print a one-line error to stderr the way argparse does and return the exit code."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def runner_cli(
    argv,
    prog: str,
    description: str,
    runner_factory,
    model_suffix: str,
    input_help: str = "a .npy array: a batch (N, ...) or one example without the batch dim",
    as_input=None,
    shown=None,
) -> int:
    """The command line shared by run_tflite.py, run_onnx.py and run_streaming.py.

    ``runner_factory(path, num_threads)`` builds the runner. ``as_input(x, runner, source)`` turns the loaded
    array into what ``runner.run`` takes (default: a checked batch), and ``shown(outputs)`` picks what is
    printed (default: the outputs); ``--output`` saves all of them. Returns the exit code: 0 ok, 2 for a
    missing file, a bad input or a model that cannot be loaded.
    """
    import argparse

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("model", help=f"the exported model ({model_suffix})")
    parser.add_argument("input", help=input_help)
    parser.add_argument("--output", help="save the float32 outputs to this .npy file")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for the runtime")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        return fail(prog, f"--threads must be >= 1, got {args.threads}")

    try:
        ensure_file(args.model, "model file")
        x = load_npy(args.input)
        runner = runner_factory(args.model, args.threads)
        if as_input is None:
            x = checked_batch(x, runner.input_shape, args.input)
        else:
            x = as_input(x, runner, args.input)
        outputs = runner.run(x)
    except (FileNotFoundError, EdgeKitUsageError, ImportError) as err:
        return fail(prog, str(err))

    print_predictions(outputs if shown is None else shown(outputs))
    if args.output:
        np.save(args.output, outputs)
    return 0
