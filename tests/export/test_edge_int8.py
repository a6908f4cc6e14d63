"""Full-integer int8 TFLite with int8, uint8 or float32 input/output, checked against Keras in LiteRT.

The CNN is trained for a few epochs on synthetic 8x8 images (a bright blob in one quadrant; label = quadrant),
so its predictions are confident and top-1 agreement measures the quantization, not ties between random logits.
"""

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

import keras_nn
from keras_nn.edge.run_tflite import TFLiteRunner
from keras_nn.export import file_operators, to_onnx, to_tflite, verify


def blob_images(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    images = rng.normal(0.0, 0.1, (n, 8, 8, 1)).astype(np.float32)
    for image, quadrant in zip(images, labels, strict=True):
        row, column = divmod(int(quadrant), 2)
        image[4 * row : 4 * row + 4, 4 * column : 4 * column + 4, 0] += 1.0
    return images, labels


@pytest.fixture(scope="module")
def trained_cnn():
    keras.utils.set_random_seed(0)
    model = keras_nn.create_model("simple_cnn", num_classes=4, input_shape=(8, 8, 1))
    images, labels = blob_images(512, seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(images, labels, epochs=4, batch_size=32, verbose=0)
    return model


@pytest.mark.parametrize("io_dtype", ["int8", "uint8", "float32"])
def test_full_integer_int8_with_each_io_type(tmp_path, trained_cnn, io_dtype):
    calibration, _ = blob_images(200, seed=1)
    test_images, _ = blob_images(200, seed=2)
    path = to_tflite(
        trained_cnn,
        tmp_path / "model.int8.tflite",
        quantize="int8",
        representative_data=calibration,
        io_dtype=io_dtype,
    )
    runner = TFLiteRunner(str(path))
    assert runner.input_dtype == np.dtype(io_dtype) and runner.output_dtype == np.dtype(io_dtype)
    report = verify(trained_cnn, path, test_images)
    assert report["top1_agreement"] >= 0.98, report
    assert report["flex_operators"] == [] and report["repeat_max_abs_diff"] == 0.0
    operators = report["operators"]
    # int8 in and out needs no conversion at the edges; uint8 and float32 convert there with QUANTIZE/DEQUANTIZE.
    edges = operators.get("QUANTIZE", 0) + operators.get("DEQUANTIZE", 0)
    assert (edges == 0) if io_dtype == "int8" else (edges >= 2), operators
    assert operators.get("CONV_2D", 0) >= 1


def test_onnx_folds_batch_norm_into_the_convolutions(tmp_path):
    model = keras_nn.create_model("resnet20_cifar", num_classes=10, input_shape=(16, 16, 3))
    operators = file_operators(to_onnx(model, tmp_path / "model.onnx"))
    assert operators["Conv"] == 19 and "BatchNormalization" not in operators and "Mul" not in operators, (
        operators
    )


def calibration_images(low, high, seed):
    """Images spread over [low, high], with both ends reached exactly (the calibrator records min and max)."""
    images = np.random.default_rng(seed).uniform(low, high, (32, 8, 8, 1)).astype(np.float32)
    images[0, 0, 0, 0], images[1, 7, 7, 0] = low, high
    return images


@pytest.mark.parametrize("io_dtype", ["int8", "uint8"])
def test_representative_data_sets_the_input_range(tmp_path, io_dtype):
    """The input tensor's (scale, zero point) follow the calibration data's [min, max]: scale = (max - min) / 255
    and the zero point is the integer that min maps to, minus min / scale (the range always holds 0)."""
    model = keras_nn.create_model("simple_cnn", num_classes=4, input_shape=(8, 8, 1), filters=(4, 8, 8), dense_units=8)
    qmin = -128 if io_dtype == "int8" else 0
    for low, high in ((0.0, 1.0), (-1.0, 4.0)):
        path = to_tflite(
            model,
            tmp_path / f"model.{low}.int8.tflite",
            quantize="int8",
            representative_data=calibration_images(low, high, seed=3),
            io_dtype=io_dtype,
        )
        (input_details,) = Interpreter(model_path=str(path)).get_input_details()
        assert input_details["dtype"] == np.dtype(io_dtype)
        scale, zero_point = input_details["quantization"]
        expected_scale = (high - low) / 255
        assert scale == pytest.approx(expected_scale, rel=1e-6), (low, high, scale)
        assert zero_point == qmin + round(-low / expected_scale), (low, high, zero_point)
