"""ONNX export through tf2onnx's `from_function` on the model's inference graph."""

import logging
import os
import tempfile
from pathlib import Path

from keras_nn.errors import ExportError
from keras_nn.export.signature import inference_function, input_spec

DEFAULT_OPSET = 17


def to_onnx(model, path, opset=None):
    """Converts `model` to an ONNX file.

    tf2onnx's `from_keras` fails on Keras 3 Sequential models, so this converts the model's inference
    `tf.function` (`training=False`) with `from_function`, which takes Sequential, functional and subclassed
    models alike. The batch dimension stays dynamic.

    Args:
        model: a built Keras model with one input.
        path: the `.onnx` file to write.
        opset: the ONNX opset (default 17, which every current onnxruntime runs).

    Returns:
        The path written.

    Example:
    >>> keras_nn.export.to_onnx(model, "model.onnx")
    """
    import tf2onnx

    # tf2onnx logs its graph rewrites as warnings; they are not the user's concern.
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    function = inference_function(model)
    try:
        model_proto, _ = tf2onnx.convert.from_function(
            function, input_signature=[input_spec(model)], opset=opset or DEFAULT_OPSET
        )
    except Exception as error:  # tf2onnx raises many types from its rewriters and handlers
        raise ExportError(f"ONNX conversion of {model.name!r} failed: {error}") from error
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".onnx-", suffix=".onnx", delete=False) as staged:
        staged.write(model_proto.SerializeToString())
    os.replace(staged.name, path)
    return path
