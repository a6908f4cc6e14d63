import keras
import numpy as np
import pytest
from testing_utils import run_model_test

import keras_nn
from keras_nn.errors import ConfigError, ShapeError
from keras_nn.models import SimpleCNN


def test_shared_model_checks():
    inputs = np.random.default_rng(0).random((4, 8, 8, 1), dtype="float32")
    run_model_test(
        lambda: keras_nn.create_model("simple_cnn", num_classes=5, input_shape=(8, 8, 1), filters=(8, 16, 16)),
        inputs,
        expected_output_shape=(4, 5),
    )


def test_parameter_count_matches_hand_count():
    model = SimpleCNN(num_classes=10, input_shape=(8, 8, 1), filters=(32, 64, 128), dense_units=128)
    conv = 3 * 3 * 1 * 32 + 3 * 3 * 32 * 64 + 3 * 3 * 64 * 128  # no conv bias with batch norm
    batch_norm = 4 * (32 + 64 + 128)  # gamma, beta, moving mean, moving variance
    dense = (128 * 128 + 128) + (128 * 10 + 10)  # 8x8 -> 1x1x128 after three pools
    assert model.count_params() == conv + batch_norm + dense


def test_logits_and_layout_options():
    model = SimpleCNN(
        num_classes=3, input_shape=(16, 12, 3), filters=(4, 8), convs_per_stage=2, batch_norm=False,
        dense_units=0, classifier_activation=None,
    )
    outputs = keras.ops.convert_to_numpy(model(np.ones((2, 16, 12, 3), "float32")))
    assert outputs.shape == (2, 3)
    assert not np.allclose(outputs.sum(-1), 1.0)  # logits, not probabilities
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in model.layers) == 4


def test_rejects_input_too_small_for_downsampling():
    with pytest.raises(ShapeError, match=r"too small .* at least 8"):
        SimpleCNN(input_shape=(4, 4, 1))


def test_rejects_bad_values():
    with pytest.raises(ConfigError, match="dropout"):
        SimpleCNN(input_shape=(8, 8, 1), dropout=1.5)
    with pytest.raises(ConfigError, match="classifier_activation"):
        SimpleCNN(input_shape=(8, 8, 1), classifier_activation="relu")
    with pytest.raises(ShapeError, match="rank 3"):
        SimpleCNN(input_shape=(8, 8))
