"""ONNX export through tf2onnx's `from_function` on the model's inference graph."""

import dataclasses
import logging
from pathlib import Path

from keras_nn.config.vocabulary import ONNX_RNN_FORMS
from keras_nn.errors import ConfigError, ExportError
from keras_nn.export.rnn_forms import ExportForms, export_form_model
from keras_nn.export.signature import (
    has_recurrent_layers,
    inference_function,
    input_spec,
    model_input_signature,
)
from keras_nn.files import atomic_write_bytes

DEFAULT_OPSET = 17


def _erfc_as_one_minus_erf(ctx, node, **kwargs):
    """erfc(x) = 1 - erf(x) in ONNX, which has `Erf` (opset 9) but no `Erfc`."""
    import numpy as np
    from tf2onnx import utils

    dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
    one = ctx.make_const(utils.make_name(f"{node.name}_one"), np.array(1, dtype))
    erf = ctx.make_node("Erf", [node.input[0]], op_name_scope=node.name)
    output, shapes, dtypes = node.output[0], node.output_shapes, node.output_dtypes
    ctx.remove_node(node.name)
    ctx.make_node("Sub", [one.output[0], erf.output[0]], outputs=[output], name=node.name, shapes=shapes, dtypes=dtypes)


def _register_tf2onnx_handlers():
    """Teaches tf2onnx TensorFlow ops it lacks. TensorFlow computes Keras' exact GELU (`"gelu"`, the erf form of
    ViT, BERT and GPT-2's MLPs) as `0.5 x erfc(-x / sqrt(2))`, and tf2onnx 1.17 has no `Erfc` handler: it logs an
    error and writes a file no runtime loads."""
    from tf2onnx import constants
    from tf2onnx.handler import tf_op

    tf_op.register_handler(_erfc_as_one_minus_erf, 9, ["Erfc"], constants.ONNX_DOMAIN, {})  # idempotent


@dataclasses.dataclass
class ONNXExport:
    """What `convert_onnx` wrote: the file, the recurrent form asked for and the form each layer took."""

    path: Path
    rnn_form: str | None
    batch_size: int | None
    layers: list = dataclasses.field(default_factory=list)


def convert_onnx(model, path, opset=None, batch_size=None, rnn_form="auto"):
    """`to_onnx` that also says which recurrent form each layer took: returns an `ONNXExport`."""
    import tf2onnx

    if rnn_form not in ONNX_RNN_FORMS:
        raise ConfigError(
            f"rnn_form={rnn_form!r} is not allowed for ONNX; choose one of: {', '.join(ONNX_RNN_FORMS)}"
        )
    model_input_signature(model)  # one input of known shape, checked before the model is cloned for its forms
    if batch_size is not None and (
        not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1
    ):
        raise ConfigError(
            f"batch_size={batch_size!r} must be a positive integer, or None for a dynamic batch"
        )
    # tf2onnx logs its graph rewrites as warnings; they are not the user's concern.
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    _register_tf2onnx_handlers()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    form = rnn_form if has_recurrent_layers(model) else None
    export_model, forms = model, ExportForms()
    if form in ("auto", "native"):
        form = "native"
        export_model, forms = export_form_model(model, "onnx", "native", batch_size)
    function = inference_function(export_model, batch_size)
    try:
        model_proto, _ = tf2onnx.convert.from_function(
            function, input_signature=[input_spec(model, batch_size)], opset=opset or DEFAULT_OPSET
        )
    except Exception as error:  # tf2onnx raises many types from its rewriters and handlers
        raise ExportError(f"ONNX conversion of {model.name!r} failed: {error}") from error
    atomic_write_bytes(path, model_proto.SerializeToString())
    return ONNXExport(path, form, batch_size, [record.as_dict() for record in forms.records()])


def to_onnx(model, path, opset=None, batch_size=None, rnn_form="auto"):
    """Converts `model` to an ONNX file.

    tf2onnx's `from_keras` fails on Keras 3 Sequential models, so this converts the model's inference
    `tf.function` (`training=False`) with `from_function`, which takes Sequential, functional and subclassed
    models alike. LSTM and GRU layers (Keras or keras-nn, bidirectional and stacked) become the native ONNX
    `LSTM`/`GRU` operators at any batch: their export form (`keras_nn.export.rnn_forms`) is a loop in the
    shape tf2onnx's rewriters turn into the native node, one per (bidirectional) layer. Masked inputs,
    SimpleRNN and GRU with `reset_after=False` become an ONNX `Loop`.

    Args:
        model: a built Keras model with one input.
        path: the `.onnx` file to write.
        opset: the ONNX opset (default 17, which every current onnxruntime runs).
        batch_size: None for a dynamic batch, or a fixed batch size.
        rnn_form: `"auto"` or `"native"` (native LSTM/GRU nodes where the layer allows it) or `"layer"` (each
            layer's own graph as Keras traces it: what tf2onnx makes of a model as it is).

    Returns:
        The path written.

    Example:
    >>> keras_nn.export.to_onnx(model, "model.onnx")
    """
    return convert_onnx(model, path, opset=opset, batch_size=batch_size, rnn_form=rnn_form).path


def function_to_onnx(function, path, what):
    """Converts a `tf.function` with an input signature to an ONNX file; returns the path.

    For graphs that are not one model call (a greedy decoder, a detector with its NMS). A failure raises
    `ExportError` naming `what`.
    """
    import tf2onnx

    # tf2onnx logs its graph rewrites as warnings; they are not the user's concern.
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    try:
        tf2onnx.convert.from_function(
            function, input_signature=function.input_signature, opset=DEFAULT_OPSET, output_path=str(path)
        )
    except Exception as error:  # tf2onnx raises many types from its rewriters and handlers
        raise ExportError(f"ONNX conversion of {what} failed: {error}") from error
    return Path(path)
