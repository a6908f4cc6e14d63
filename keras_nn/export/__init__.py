"""Export to SavedModel, TFLite (float32, float16, dynamic-range, int8) and ONNX, parity checks in the real
runtimes, and batch-1 latency benchmarks. Recurrent layers take export-time forms (fused TFLite LSTM, lean
loops, native ONNX LSTM/GRU) and stream as single-step models. Every export, whichever exporter writes it, goes
through one staged pipeline (`run_export`) and returns an `ExportReport`. TensorFlow-only code lives here."""

from keras_nn.export.benchmark import benchmark
from keras_nn.export.onnx import ONNXExport, convert_onnx, to_onnx
from keras_nn.export.pipeline import export_model, run_export
from keras_nn.export.report import ExportReport
from keras_nn.export.rnn_forms import export_form_model
from keras_nn.export.savedmodel import to_saved_model
from keras_nn.export.settings import ExportSettings
from keras_nn.export.streaming import streaming_model, to_streaming_onnx, to_streaming_tflite
from keras_nn.export.tflite import TFLiteExport, choose_rnn_form, convert_tflite, to_tflite
from keras_nn.export.verify import file_operators, verify

__all__ = [
    "ExportReport",
    "ExportSettings",
    "ONNXExport",
    "TFLiteExport",
    "benchmark",
    "choose_rnn_form",
    "convert_onnx",
    "convert_tflite",
    "export_form_model",
    "export_model",
    "file_operators",
    "run_export",
    "streaming_model",
    "to_onnx",
    "to_saved_model",
    "to_streaming_onnx",
    "to_streaming_tflite",
    "to_tflite",
    "verify",
]
