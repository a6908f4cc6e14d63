"""Parity: run an exported file in its real runtime and compare it with the Keras model."""

import numpy as np

from keras_nn.edge.contract import format_of, runtime_of
from keras_nn.edge.operators import flex_operators, operators
from keras_nn.export.runtimes import load_runner
from keras_nn.export.signature import check_inputs


def file_operators(path):
    """Operator name -> count of a `.tflite` or `.onnx` file (every subgraph); None for a SavedModel."""
    return None if format_of(path) == "savedmodel" else operators(str(path))


def _streaming_outputs(runner, inputs, reference):
    """The streaming model's outputs comparable with the whole-sequence `reference`."""
    stepped = runner.run(inputs)
    # A classifier's prediction is the output after the last step; a tagger's is the output of every step.
    return stepped if stepped.ndim == reference.ndim else stepped[:, -1]


def verify(model, exported_path, inputs, labels=None, runs=2, reference=None):
    """Runs `exported_path` in its runtime (ai-edge-litert, onnxruntime, TensorFlow) and compares it with Keras.

    Every file runs `runs` (at least 2) times over the inputs: a runtime that keeps state between calls
    (TFLite's fused LSTM) would make the second pass differ, and `repeat_max_abs_diff` shows it. A streaming
    file (`*.stream.tflite`, `*.stream.onnx`) is fed every sequence step by step and compared after the last
    step (every step for a sequence tagger).

    Args:
        model: the Keras model the file was exported from.
        exported_path: a `.tflite` or `.onnx` file or a SavedModel directory.
        inputs: a batch of inputs (checked against the model's input shape).
        labels: optional class ids, for the file's own accuracy.
        runs: passes over `inputs` (at least 2).
        reference: the Keras outputs for `inputs`, if already computed.

    Returns:
        A dict: `path`, `format`, `runtime`, `samples`, `max_abs_error`, `mean_abs_error`, `top1_agreement`
        (share of examples whose argmax matches Keras), `accuracy` (with labels), `repeat_max_abs_diff`,
        `operators` (operator name -> count, every subgraph; None for a SavedModel) and `flex_operators`
        (those that need TensorFlow's Flex delegate; empty for builtin-only files).
    """
    inputs = check_inputs(model, inputs)
    if reference is None:
        reference = np.asarray(model.predict(inputs, verbose=0, batch_size=256))
    runner = load_runner(exported_path)
    streaming = format_of(exported_path).endswith("-stream")
    outputs = [
        np.asarray(
            _streaming_outputs(runner, inputs, reference) if streaming else runner.run(inputs),
            dtype=np.float32,
        )
        for _ in range(max(runs, 2))
    ]
    first = outputs[0].reshape(reference.shape)
    error = np.abs(first - reference)
    counts = file_operators(exported_path)
    report = {
        "path": str(exported_path),
        "format": format_of(exported_path),
        "runtime": runtime_of(exported_path),
        "samples": int(len(inputs)),
        "max_abs_error": float(error.max()),
        "mean_abs_error": float(error.mean()),
        "repeat_max_abs_diff": float(max(np.abs(o.reshape(first.shape) - first).max() for o in outputs[1:])),
        "operators": counts,
        "flex_operators": flex_operators(counts) if counts else [],
    }
    if reference.ndim == 2:
        report["top1_agreement"] = float(np.mean(first.argmax(-1) == reference.argmax(-1)))
        if labels is not None:
            report["accuracy"] = float(np.mean(first.argmax(-1) == np.asarray(labels)))
    return report
