"""TFLite export: float32, float16, dynamic-range and full-integer int8, builtin ops only (never Flex)."""

import contextlib
import dataclasses
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_nn.config.vocabulary import QUANTIZE_MODES, TFLITE_RNN_FORMS
from keras_nn.errors import ConfigError, ExportError
from keras_nn.export.rnn_forms import (
    FUSED_CELL_CLIP,
    ExportForms,
    UnsupportedRecurrentLayer,
    describe_recurrent_layer,
    export_form_model,
    fused_cell_peak,
    fused_lstm_eligible,
    recurrent_layers,
)
from keras_nn.export.savedmodel import to_saved_model
from keras_nn.export.signature import check_inputs, has_recurrent_layers, model_input_signature
from keras_nn.files import atomic_write_bytes

logger = logging.getLogger(__name__)

#: What `quantize=` takes: None (float32) or a quantized variant.
QUANTIZE_CHOICES = (None, *QUANTIZE_MODES)
INT8_IO_DTYPES = ("int8", "uint8", "float32")


def _representative_dataset(model, representative_data, samples, batch_size=None):
    data = check_inputs(model, representative_data, what="representative_data")[:samples]
    step = batch_size or 1

    def generate():
        for start in range(0, len(data) - step + 1, step):
            yield [data[start : start + step]]

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


def run_converter(converter, what):
    """`converter.convert()` with its log kept quiet; a failure raises `ExportError` naming `what`."""
    try:
        with _quiet_converter():
            return converter.convert()
    except Exception as error:  # the converter raises ConverterError, ValueError, RuntimeError...
        raise ExportError(
            f"TFLite conversion of {what} failed with builtin ops only: {str(error).strip().splitlines()[0]} "
            "(set KERAS_NN_VERBOSE_EXPORT=1 for the converter log)"
        ) from error


@dataclasses.dataclass
class TFLiteExport:
    """What `convert_tflite` wrote: the file, the recurrent form it used and why.

    `rnn_form` is the form asked for after `auto` was resolved (`fused`, `loop` or `layer`; `None` for a model
    without recurrent layers); `layers` says, per recurrent layer, the form it took (a masked layer asked to be
    fused takes the loop); `timings` holds `auto`'s measured candidates (median ms), if it measured.
    """

    path: Path
    rnn_form: str | None
    batch_size: int | None
    layers: list = dataclasses.field(default_factory=list)
    timings: dict = dataclasses.field(default_factory=dict)


def _check_arguments(model, quantize, representative_data, rnn_form, batch_size, io_dtype):
    model_input_signature(model)  # one input of known shape, checked before the model is cloned for its forms
    if quantize not in QUANTIZE_CHOICES:
        raise ConfigError(
            f"quantize={quantize!r} is not allowed; choose one of: {', '.join(map(str, QUANTIZE_CHOICES))}"
        )
    if rnn_form not in TFLITE_RNN_FORMS:
        raise ConfigError(f"rnn_form={rnn_form!r} is not allowed; choose one of: {', '.join(TFLITE_RNN_FORMS)}")
    if io_dtype not in INT8_IO_DTYPES:
        raise ConfigError(f"io_dtype={io_dtype!r} is not allowed; choose one of: {', '.join(INT8_IO_DTYPES)}")
    if batch_size is not None and (
        not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1
    ):
        raise ConfigError(
            f"batch_size={batch_size!r} must be a positive integer, or None for a dynamic batch"
        )
    if quantize == "int8" and representative_data is None:
        raise ConfigError(
            "quantize='int8' needs representative_data: a batch of training inputs to calibrate ranges"
        )
    if representative_data is not None:
        check_inputs(model, representative_data, what="representative_data")


def fusable_lstms(model):
    """Names of the model's LSTM layers the fused op can take (sigmoid gates, tanh cell)."""
    names = []
    for layer in recurrent_layers(model):
        try:
            spec = describe_recurrent_layer(layer)
        except UnsupportedRecurrentLayer:
            continue
        if any(fused_lstm_eligible(direction) for direction in spec.directions):
            names.append(layer.name)
    return names


def _check_cell_clip(model, representative_data):
    """Raises ExportError when the fused op's cell clip would change the outputs on the given data."""
    peak = fused_cell_peak(model, check_inputs(model, representative_data, what="representative_data"))
    if peak is not None and peak > FUSED_CELL_CLIP:
        raise ExportError(
            f"the LSTM cell state of {model.name!r} reaches |c| = {peak:.1f} on representative_data, but the fused "
            f"TFLite LSTM op clips it at {FUSED_CELL_CLIP:g} (hard-coded by the converter), so its outputs would "
            "differ from Keras; use rnn_form='loop'"
        )


def _convert(model, form, batch_size, quantize, representative_data, representative_samples, io_dtype):
    """The flatbuffer of `model` with recurrent layers in `form`, and the per-layer form records."""
    if form in (None, "layer"):
        export_model, forms = model, ExportForms()
    else:
        export_model, forms = export_form_model(model, "tflite", form, batch_size)
    float_input = model_input_signature(model)[1].is_floating
    with tempfile.TemporaryDirectory(prefix="keras-nn-tflite-") as staging:
        saved_model = to_saved_model(
            export_model, os.path.join(staging, "saved_model"), batch_size=batch_size
        )
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if has_recurrent_layers(model):
            # A layer exported as it is (a Keras RNN's tensor-list loop) converts with builtin ops only when
            # the lists take batch 1; the export forms hold no tensor lists and ignore this.
            converter._experimental_default_to_single_batch_in_tensor_list_ops = True
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        elif quantize == "int8":
            converter.representative_dataset = _representative_dataset(
                model, representative_data, representative_samples, batch_size
            )
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            io_type = {"int8": tf.int8, "uint8": tf.uint8, "float32": tf.float32}[io_dtype]
            if float_input:
                converter.inference_input_type = io_type
            converter.inference_output_type = io_type
        flatbuffer = run_converter(converter, f"{model.name!r} (quantize={quantize}, rnn_form={form})")
    return flatbuffer, [record.as_dict() for record in forms.records()]


def _timing_sample(model, representative_data, batch_size):
    if representative_data is not None:
        sample = check_inputs(model, representative_data, what="representative_data")[:1]
    else:
        shape, dtype, _ = model_input_signature(model)
        shape = tuple(16 if d is None else d for d in shape)
        sample = np.random.default_rng(0).random((1, *shape)).astype(np.float32)
        if not dtype.is_floating:
            sample = np.ones((1, *shape), dtype.as_numpy_dtype)
    return np.repeat(sample, batch_size or 1, axis=0)


def choose_rnn_form(model, batch_size=None, representative_data=None, runs=40, num_threads=1):
    """`auto`'s choice of TFLite form for a recurrent model, by converting the candidates and timing them.

    The candidates are the forms that keep the requested signature and builtin ops: the lean loop always (it
    accepts any batch), and with a fixed `batch_size` the fused LSTM op when the model has an LSTM it can take
    (and whose cell state stays under the op's clip on `representative_data`, when given). With one candidate
    nothing is timed. The timing runs on this machine with the edge kit's runner; on a different device, export
    the forms and compare them there with `bench_device.py`.

    Returns:
        `(form, timings)`: the fastest form and each candidate's median batch-1 latency in ms (empty when
        there was nothing to choose).
    """
    from keras_nn.edge.bench_device import time_runners
    from keras_nn.edge.run_tflite import TFLiteRunner

    if not has_recurrent_layers(model):
        return None, {}
    candidates = ["loop"]
    if batch_size is not None and fusable_lstms(model):
        try:
            if representative_data is not None:
                _check_cell_clip(model, representative_data)
            candidates.append("fused")
        except ExportError as error:
            logger.info("auto leaves out the fused LSTM: %s", error)
    if len(candidates) == 1:
        return candidates[0], {}
    sample = _timing_sample(model, representative_data, batch_size)
    with tempfile.TemporaryDirectory(prefix="keras-nn-rnn-form-") as staging:
        runners = {}
        for form in candidates:
            flatbuffer, _ = _convert(model, form, batch_size, None, None, 0, "int8")
            path = Path(staging) / f"{form}.tflite"
            path.write_bytes(flatbuffer)
            runners[form] = TFLiteRunner(str(path), num_threads=num_threads)
        rows = time_runners(runners, sample[:1], warmup=5, runs=runs)
    timings = {row["name"]: row["median_ms"] for row in rows}
    form = min(timings, key=timings.get)
    logger.info("rnn_form='auto' chose %r for %s (median ms: %s)", form, model.name, timings)
    return form, timings


def convert_tflite(
    model,
    path,
    quantize=None,
    representative_data=None,
    rnn_form="auto",
    representative_samples=200,
    batch_size=None,
    io_dtype="int8",
):
    """`to_tflite` that also says which recurrent form it used: returns a `TFLiteExport`."""
    _check_arguments(model, quantize, representative_data, rnn_form, batch_size, io_dtype)
    timings = {}
    form = rnn_form if has_recurrent_layers(model) else None
    if form == "auto":
        form, timings = choose_rnn_form(model, batch_size, representative_data)
    if form == "fused":
        if not fusable_lstms(model):
            raise ConfigError(
                f"rnn_form='fused' needs an LSTM with sigmoid gates and a tanh cell; {model.name!r} has none "
                "(TFLite has no fused GRU or SimpleRNN op); use rnn_form='auto' or 'loop'"
            )
        if batch_size is None:
            batch_size = 1  # the fused op has static state shapes; a device feeds one example at a time
        if representative_data is not None:
            _check_cell_clip(model, representative_data)
        else:
            logger.warning(
                "rnn_form='fused': the converter clips the LSTM cell state at |c| <= %g; pass representative_data "
                "to check the model stays under it (verify() compares the outputs too)",
                FUSED_CELL_CLIP,
            )

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flatbuffer, layers = _convert(
        model, form, batch_size, quantize, representative_data, representative_samples, io_dtype
    )
    atomic_write_bytes(path, flatbuffer)
    return TFLiteExport(path, form, batch_size, layers, timings)


def to_tflite(
    model,
    path,
    quantize=None,
    representative_data=None,
    rnn_form="auto",
    representative_samples=200,
    batch_size=None,
    io_dtype="int8",
):
    """Converts `model` to a `.tflite` file that uses builtin TFLite ops only (never Flex).

    The model goes through a SavedModel of its inference graph (dropout and augmentation off), which works
    for Sequential, functional and subclassed Keras 3 models alike. Recurrent layers of a functional or
    Sequential model take an export form (`keras_nn.export.rnn_forms`) with the same weights.

    Args:
        model: a built Keras model with one input.
        path: the `.tflite` file to write.
        quantize: None (float32), `"float16"` (float16 weights), `"dynamic"` (int8 weights, float
            activations) or `"int8"` (full integer: int8 weights and activations; needs `representative_data`).
        representative_data: a batch of typical inputs (from the training set) to calibrate int8 ranges; it
            also checks the fused LSTM's cell clip.
        rnn_form: how recurrent layers are lowered: `"loop"` (a lean builtin WHILE loop with the input
            projection hoisted out; any batch size), `"fused"` (TFLite's `UNIDIRECTIONAL_SEQUENCE_LSTM` op for
            LSTM layers, the loop for the others; a fixed batch, 1 unless `batch_size` says otherwise; the
            converter clips the cell state at 10), `"layer"` (each layer's own graph, as Keras traces it) or
            `"auto"` (the fastest of the forms that keep the signature, timed here; with a dynamic batch that
            is the loop).
        representative_samples: at most this many examples of `representative_data` are used.
        batch_size: None for a dynamic batch, or a fixed batch size.
        io_dtype: with `quantize="int8"`, the type of the model's input and output: `"int8"`, `"uint8"` or
            `"float32"` (quantize and dequantize inside the model).

    Returns:
        The path written.

    Example:
    >>> keras_nn.export.to_tflite(model, "model.int8.tflite", quantize="int8", representative_data=x_train)
    """
    return convert_tflite(
        model,
        path,
        quantize=quantize,
        representative_data=representative_data,
        rnn_form=rnn_form,
        representative_samples=representative_samples,
        batch_size=batch_size,
        io_dtype=io_dtype,
    ).path
