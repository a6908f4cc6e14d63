"""A CNN's TFLite and ONNX files take any batch, as the README promises, and give Keras' outputs at each.

The edge runners feed TFLite files one example at a time, so here the interpreter and the onnxruntime session
are driven directly, with the whole batch in one invoke.
"""

import numpy as np
import onnxruntime
import pytest
from ai_edge_litert.interpreter import Interpreter

import keras_nn
from keras_nn.export import to_onnx, to_tflite

BATCH_SIZES = (1, 3, 7)
# Worst error measured over the three batch sizes: 3.0e-08 in TFLite and in ONNX (softmax outputs near 0.2).
TOLERANCE = 2e-7
IMAGES = np.random.default_rng(0).random((7, 8, 8, 1), dtype=np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    directory = tmp_path_factory.mktemp("any_batch")
    model = keras_nn.create_model(
        "simple_cnn", num_classes=5, input_shape=(8, 8, 1), filters=(4, 8, 8), dense_units=8
    )
    # Batch norm with non-trivial statistics, so that a per-batch (training-mode) normalization would show.
    for layer in model.layers:
        if "batch_normalization" in layer.name:
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([gamma * 1.5, beta + 0.1, mean + 0.2, variance * 2.0])
    return {
        "model": model,
        "keras": np.asarray(model.predict(IMAGES, verbose=0)),
        "tflite": to_tflite(model, directory / "model.tflite"),
        "onnx": to_onnx(model, directory / "model.onnx"),
    }


def test_tflite_file_runs_every_batch_in_one_invoke(exported):
    interpreter = Interpreter(model_path=str(exported["tflite"]))
    (input_details,) = interpreter.get_input_details()
    assert list(input_details["shape_signature"]) == [-1, 8, 8, 1]
    for batch in BATCH_SIZES:
        interpreter.resize_tensor_input(input_details["index"], [batch, 8, 8, 1], strict=True)
        interpreter.allocate_tensors()
        interpreter.set_tensor(input_details["index"], IMAGES[:batch])
        interpreter.invoke()
        outputs = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        assert outputs.shape == (batch, 5)
        assert np.abs(outputs - exported["keras"][:batch]).max() < TOLERANCE, batch


def test_onnx_file_runs_every_batch_in_one_call(exported):
    session = onnxruntime.InferenceSession(str(exported["onnx"]), providers=["CPUExecutionProvider"])
    (input_meta,) = session.get_inputs()
    batch_dim = input_meta.shape[0]
    assert batch_dim is None or isinstance(batch_dim, str), input_meta.shape  # a symbolic (dynamic) batch
    for batch in BATCH_SIZES:
        (outputs,) = session.run(None, {input_meta.name: IMAGES[:batch]})
        assert outputs.shape == (batch, 5)
        assert np.abs(outputs - exported["keras"][:batch]).max() < TOLERANCE, batch
