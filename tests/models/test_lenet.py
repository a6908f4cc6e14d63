import keras
import numpy as np
import pytest
from testing_utils import run_model_test

import keras_nn
from keras_nn.errors import ConfigError, ModelFileError, ShapeError
from keras_nn.export import to_onnx, to_tflite, verify
from keras_nn.models import LeNet5
from keras_nn.models.lenet import LENET_C3_TABLE, ConnectionTableConv2D, scaled_tanh

RNG = np.random.default_rng(0)
DIGITS = RNG.random((8, 32, 32, 1), dtype="float32")


def test_parameter_counts():
    # The common variant (full C3): 156 + 2,416 + 48,120 + 10,164 + 850.
    assert keras_nn.create_model("lenet5").count_params() == 61_706
    # The paper's C3 connection table: 60 5x5 filters and 16 biases = 1,516 (section II.B), 60,806 in all.
    paper = keras_nn.create_model("lenet5", c3_connections="paper")
    assert paper.get_layer("c3").count_params() == 1_516
    assert paper.count_params() == 60_806


def test_shared_model_checks():
    run_model_test(
        lambda: keras_nn.create_model("lenet5"), DIGITS, expected_output_shape=(8, 10),
        # Keras' own Conv2D, pooling and Dense layers: the paper-table variant below, the smaller one and the
        # one with a layer of keras-nn's own, runs the mixed-precision and jit_compile checks for the family.
        run_mixed_precision_check=False,
        run_jit_compile_check=False,
    )


def test_shared_model_checks_paper_c3_table():
    # tanh rather than the paper's 1.7159 tanh(2a/3): the shared check's Adam(1e-2) overshoots with the larger
    # activations now and then (1 seed in 6); scaled_tanh itself is checked below.
    run_model_test(
        lambda: LeNet5(num_classes=4, c3_connections="paper"), DIGITS[:4], expected_output_shape=(4, 4),
        learning_rate=1e-3,
    )


def test_c3_table_connects_only_the_listed_maps():
    layer = ConnectionTableConv2D(LENET_C3_TABLE, 5)
    x = np.zeros((1, 14, 14, 6), "float32")
    layer(x)
    for channel in range(6):
        impulse = np.zeros_like(x)
        impulse[0, 7, 7, channel] = 1.0
        response = np.abs(keras.ops.convert_to_numpy(layer(impulse)) - keras.ops.convert_to_numpy(layer(x)))
        reached = {m for m in range(16) if response[..., m].max() > 0}
        assert reached == {m for m, row in enumerate(LENET_C3_TABLE) if channel in row}
    # Table I: 60 connections; map 15 reads all six maps.
    assert sum(map(len, LENET_C3_TABLE)) == 60 and LENET_C3_TABLE[15] == (0, 1, 2, 3, 4, 5)


def test_c3_table_equals_a_dense_conv_with_masked_kernel():
    layer = ConnectionTableConv2D(LENET_C3_TABLE, 5)
    x = RNG.normal(size=(2, 14, 14, 6)).astype("float32")
    out = keras.ops.convert_to_numpy(layer(x))
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    dense = np.zeros((5, 5, 6, 16), "float32")
    position = 0
    for out_map, row in enumerate(LENET_C3_TABLE):
        for channel in row:
            dense[:, :, channel, out_map] = kernel[:, :, position]
            position += 1
    reference = keras.layers.Conv2D(16, 5)
    reference.build(x.shape)
    reference.set_weights([dense, keras.ops.convert_to_numpy(layer.bias)])
    np.testing.assert_allclose(out, keras.ops.convert_to_numpy(reference(x)), atol=1e-5)
    # The paper's initialization: uniform in +-2.4 / fan-in.
    assert np.abs(kernel[:, :, :3]).max() <= 2.4 / 75 and np.abs(kernel[:, :, -6:]).max() <= 2.4 / 150


def test_scaled_tanh_is_the_papers():
    values = keras.ops.convert_to_numpy(scaled_tanh(np.array([-1.0, 0.0, 1.0], "float32")))
    np.testing.assert_allclose(values, [-1.0, 0.0, 1.0], atol=1e-4)  # f(+-1) = +-1 (Appendix A)


def test_shapes_classes_and_feature_extractor():
    model = keras_nn.create_model("lenet5", num_classes=26, input_shape=(36, 40, 3), classifier_activation=None)
    assert model(RNG.random((2, 36, 40, 3), dtype="float32")).shape == (2, 26)
    features = keras_nn.create_model("lenet5", include_top=False)
    assert features(DIGITS).shape == (8, 1, 1, 120)
    assert keras_nn.create_model("lenet5", include_top=False, pooling="avg")(DIGITS).shape == (8, 120)


def test_input_too_small_and_bad_values():
    with pytest.raises(ShapeError, match=r"too small .* at least 32"):
        keras_nn.create_model("lenet5", input_shape=(28, 28, 1))
    with pytest.raises(ConfigError, match="c3_connections='sparse'"):
        keras_nn.create_model("lenet5", c3_connections="sparse")
    with pytest.raises(ShapeError, match="fixed input size"):
        keras_nn.create_model("lenet5", input_shape=(None, None, 1))


def test_weights_round_trip(tmp_path):
    model = keras_nn.create_model("lenet5", c3_connections="paper")
    path = tmp_path / "lenet.weights.h5"
    model.save_weights(path)
    loaded = keras_nn.create_model("lenet5", c3_connections="paper", weights=str(path))
    np.testing.assert_array_equal(np.asarray(loaded(DIGITS)), np.asarray(model(DIGITS)))
    with pytest.raises(ModelFileError, match=r"c3: file \[\(5, 5, 60\), \(16,\)\], model \[\(5, 5, 6, 16\)"):
        keras_nn.create_model("lenet5", weights=str(path))


@pytest.mark.parametrize("c3_connections", ["full", "paper"])
def test_exports_to_tflite_and_onnx_with_parity(tmp_path, c3_connections):
    model = keras_nn.create_model("lenet5", c3_connections=c3_connections)
    for path in (to_tflite(model, tmp_path / "model.tflite"), to_onnx(model, tmp_path / "model.onnx")):
        report = verify(model, path, DIGITS)
        # Measured: at most 3e-8 on these softmax outputs, both files and both C3 layouts.
        assert report["max_abs_error"] < 1e-6 and report["repeat_max_abs_diff"] == 0.0, report
        assert report["top1_agreement"] == 1.0
