"""Export to SavedModel, TFLite (float32, float16, dynamic-range, int8) and ONNX, parity checks in the real
runtimes, and batch-1 latency benchmarks. TensorFlow-only code lives here."""

from keras_nn.export.benchmark import benchmark
from keras_nn.export.onnx import to_onnx
from keras_nn.export.pipeline import ExportReport, export_model, export_run
from keras_nn.export.savedmodel import to_saved_model
from keras_nn.export.tflite import to_tflite
from keras_nn.export.verify import verify

__all__ = [
    "ExportReport",
    "benchmark",
    "export_model",
    "export_run",
    "to_onnx",
    "to_saved_model",
    "to_tflite",
    "verify",
]
