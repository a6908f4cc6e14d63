"""Parity: run an exported file in its real runtime and compare it with the Keras model."""

import numpy as np

from keras_nn.export.runtimes import format_of, load_runner, runtime_of
from keras_nn.export.signature import check_inputs


def verify(model, exported_path, inputs, labels=None, runs=2, reference=None):
    """Runs `exported_path` in its runtime (ai-edge-litert, onnxruntime, TensorFlow) and compares it with Keras.

    Every file runs `runs` (at least 2) times over the inputs: a runtime that keeps state between calls
    (TFLite's fused LSTM) would make the second pass differ, and `repeat_max_abs_diff` shows it.

    Args:
        model: the Keras model the file was exported from.
        exported_path: a `.tflite` or `.onnx` file or a SavedModel directory.
        inputs: a batch of float inputs (checked against the model's input shape).
        labels: optional class ids, for the file's own accuracy.
        runs: passes over `inputs` (at least 2).
        reference: the Keras outputs for `inputs`, if already computed.

    Returns:
        A dict: `path`, `format`, `runtime`, `samples`, `max_abs_error`, `mean_abs_error`, `top1_agreement`
        (share of examples whose argmax matches Keras), `accuracy` (with labels), `repeat_max_abs_diff`.
    """
    inputs = check_inputs(model, inputs)
    if reference is None:
        reference = np.asarray(model.predict(inputs, verbose=0, batch_size=256))
    runner = load_runner(exported_path)
    outputs = [np.asarray(runner.run(inputs), dtype=np.float32) for _ in range(max(runs, 2))]
    first = outputs[0].reshape(reference.shape)
    error = np.abs(first - reference)
    report = {
        "path": str(exported_path),
        "format": format_of(exported_path),
        "runtime": runtime_of(exported_path),
        "samples": int(len(inputs)),
        "max_abs_error": float(error.max()),
        "mean_abs_error": float(error.mean()),
        "repeat_max_abs_diff": float(max(np.abs(o.reshape(first.shape) - first).max() for o in outputs[1:])),
    }
    if reference.ndim == 2:
        report["top1_agreement"] = float(np.mean(first.argmax(-1) == reference.argmax(-1)))
        if labels is not None:
            report["accuracy"] = float(np.mean(first.argmax(-1) == np.asarray(labels)))
    return report
