"""TFLite export: float32, float16, dynamic-range and full-integer int8, builtin ops only (never Flex)."""

import contextlib
import logging
import os
import tempfile
from pathlib import Path

import tensorflow as tf

from keras_nn.errors import ConfigError, ExportError
from keras_nn.export.savedmodel import to_saved_model
from keras_nn.export.signature import check_inputs, has_recurrent_layers, model_input_signature

logger = logging.getLogger(__name__)

QUANTIZE_MODES = (None, "float16", "dynamic", "int8")
RNN_FORMS = ("auto", "fused", "loop")


def _representative_dataset(model, representative_data, samples):
    data = check_inputs(model, representative_data, what="representative_data")[:samples]

    def generate():
        for example in data:
            yield [example[None, ...]]

    return generate


@contextlib.contextmanager
def _quiet_converter():
    # The MLIR converter prints hundreds of lines to fd 2; keep them out of the user's terminal unless asked.
    if os.environ.get("KERAS_NN_VERBOSE_EXPORT"):
        yield
        return
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def to_tflite(model, path, quantize=None, representative_data=None, rnn_form="auto", representative_samples=200):
    """Converts `model` to a `.tflite` file that uses builtin TFLite ops only.

    The model goes through a SavedModel of its inference graph (dropout and augmentation off), which works
    for Sequential, functional and subclassed Keras 3 models alike.

    Args:
        model: a built Keras model with one input.
        path: the `.tflite` file to write.
        quantize: None (float32), `"float16"` (float16 weights), `"dynamic"` (int8 weights, float
            activations) or `"int8"` (full integer: int8 weights, activations, input and output; needs
            `representative_data`).
        representative_data: a batch of typical inputs (from the training set) to calibrate int8 ranges.
        rnn_form: how recurrent layers are lowered: `"loop"` (a builtin WHILE loop; the tensor lists take
            batch 1, as on a device) or `"auto"` (the fastest portable form; today the loop). `"fused"`
            (TFLite's fused sequence-LSTM op) is not offered yet.
        representative_samples: at most this many examples of `representative_data` are used.

    Returns:
        The path written.

    Example:
    >>> keras_nn.export.to_tflite(model, "model.int8.tflite", quantize="int8", representative_data=x_train)
    """
    if quantize not in QUANTIZE_MODES:
        raise ConfigError(f"quantize={quantize!r} is not allowed; choose one of: {', '.join(map(str, QUANTIZE_MODES))}")
    if rnn_form not in RNN_FORMS:
        raise ConfigError(f"rnn_form={rnn_form!r} is not allowed; choose one of: {', '.join(RNN_FORMS)}")
    if rnn_form == "fused":
        raise ConfigError("rnn_form='fused' is not available yet; use rnn_form='auto' or 'loop'")
    if quantize == "int8" and representative_data is None:
        raise ConfigError("quantize='int8' needs representative_data: a batch of training inputs to calibrate ranges")
    if representative_data is not None:
        check_inputs(model, representative_data, what="representative_data")

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    float_input = model_input_signature(model)[1].is_floating
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".tflite-") as staging:
        saved_model = to_saved_model(model, os.path.join(staging, "saved_model"))
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if has_recurrent_layers(model):
            # Lowers the RNN's tensor-list loop to builtin ops with batch-1 lists instead of asking for Flex.
            converter._experimental_default_to_single_batch_in_tensor_list_ops = True
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        elif quantize == "int8":
            converter.representative_dataset = _representative_dataset(model, representative_data, representative_samples)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if float_input:
                converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        try:
            with _quiet_converter():
                flatbuffer = converter.convert()
        except Exception as error:  # the converter raises ConverterError, ValueError, RuntimeError...
            raise ExportError(
                f"TFLite conversion of {model.name!r} (quantize={quantize}) failed with builtin ops only: "
                f"{str(error).strip().splitlines()[0]} (set KERAS_NN_VERBOSE_EXPORT=1 for the converter log)"
            ) from error
        staged = Path(staging) / path.name
        staged.write_bytes(flatbuffer)
        os.replace(staged, path)
    return path
