import keras
import numpy as np
import pytest
import tensorflow as tf
from testing_utils import run_model_test

import keras_nn
from keras_nn.errors import ConfigError, ShapeError
from keras_nn.models import AlexNet
from keras_nn.models.alexnet import LocalResponseNormalization

RNG = np.random.default_rng(0)


def test_parameter_counts():
    assert keras_nn.create_model("alexnet").count_params() == 61_100_840  # torchvision alexnet
    keras.backend.clear_session()
    # The 2012 paper's widths without its two-GPU grouping.
    paper = keras_nn.create_model("alexnet", filters=(96, 256, 384, 384, 256), local_response_norm=True)
    assert paper.count_params() == 62_378_344


def test_feature_map_sizes_follow_torchvision():
    model = keras_nn.create_model("alexnet", include_top=False)
    sizes = {name: model.get_layer(name).output.shape[1] for name in ("conv1", "pool1", "pool2", "pool5")}
    assert sizes == {"conv1": 55, "pool1": 27, "pool2": 13, "pool5": 6}


def test_shared_model_checks():
    inputs = RNG.random((4, 63, 63, 3), dtype="float32")
    run_model_test(
        lambda: AlexNet(num_classes=5, input_shape=(63, 63, 3), filters=(8, 12, 16, 16, 12), fc_units=32,
                        local_response_norm=True),
        inputs,
        expected_output_shape=(4, 5),
    )


def test_local_response_normalization_is_the_papers_formula():
    x = RNG.normal(size=(2, 3, 3, 9)).astype("float32") * 10
    ours = keras.ops.convert_to_numpy(LocalResponseNormalization()(x))
    # TensorFlow's op sums over depth_radius on each side without dividing alpha by n, as the paper.
    reference = tf.nn.local_response_normalization(x, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75).numpy()
    np.testing.assert_allclose(ours, reference, rtol=1e-5)
    layer = LocalResponseNormalization(size=3, alpha=0.5, beta=1.0, bias=1.0)
    assert LocalResponseNormalization.from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.raises(ConfigError, match="odd"):
        LocalResponseNormalization(size=4)


def test_other_input_sizes_and_feature_extractor():
    small = AlexNet(num_classes=3, input_shape=(95, 127, 3), filters=(4, 4, 4, 4, 4), fc_units=8)
    assert small(RNG.random((2, 95, 127, 3), dtype="float32")).shape == (2, 3)
    assert small.get_layer("fc6").kernel.shape == (2 * 3 * 4, 8)  # the flattened 2x3 pool5 map
    features = AlexNet(include_top=False, pooling="max", input_shape=(None, None, 3), filters=(4, 4, 4, 4, 4))
    assert features(RNG.random((1, 80, 64, 3), dtype="float32")).shape == (1, 4)


def test_input_too_small_and_bad_values():
    with pytest.raises(ShapeError, match=r"too small .* at least 63"):
        keras_nn.create_model("alexnet", input_shape=(62, 224, 3))
    with pytest.raises(ConfigError, match="five convolutions"):
        keras_nn.create_model("alexnet", filters=(64, 192))
    with pytest.raises(ConfigError, match="dropout"):
        keras_nn.create_model("alexnet", dropout=1.0)


def test_weights_round_trip(tmp_path):
    model = AlexNet(num_classes=4, input_shape=(63, 63, 3), filters=(4, 8, 8, 8, 4), fc_units=16)
    path = tmp_path / "alexnet.weights.h5"
    model.save_weights(path)
    loaded = AlexNet(num_classes=4, input_shape=(63, 63, 3), filters=(4, 8, 8, 8, 4), fc_units=16, weights=str(path))
    x = RNG.random((2, 63, 63, 3), dtype="float32")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
