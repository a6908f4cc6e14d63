import keras
import numpy as np
from testing_utils import run_layer_test

from keras_nn.layers import ClassToken

TOKENS = np.random.default_rng(0).normal(size=(3, 5, 8)).astype("float32")


def test_the_token_goes_in_front_of_every_sequence():
    layer = ClassToken()
    outputs = keras.ops.convert_to_numpy(layer(TOKENS))
    token = keras.ops.convert_to_numpy(layer.token)
    assert outputs.shape == (3, 6, 8) and token.shape == (1, 1, 8)
    np.testing.assert_array_equal(outputs[:, 1:], TOKENS)
    np.testing.assert_array_equal(outputs[:, 0], np.broadcast_to(token[0], (3, 8)))
    # timm's initialization: a truncated normal of standard deviation 0.02 (nothing beyond two deviations).
    assert 0 < np.abs(token).max() <= 0.04


def test_deit_order_class_then_distillation():
    class_token, distillation_token = ClassToken(), ClassToken()
    outputs = keras.ops.convert_to_numpy(class_token(distillation_token(TOKENS)))
    np.testing.assert_array_equal(outputs[:, 0], np.broadcast_to(keras.ops.convert_to_numpy(class_token.token)[0], (3, 8)))
    np.testing.assert_array_equal(
        outputs[:, 1], np.broadcast_to(keras.ops.convert_to_numpy(distillation_token.token)[0], (3, 8))
    )
    np.testing.assert_array_equal(outputs[:, 2:], TOKENS)


def test_class_token_shared_checks():
    run_layer_test(ClassToken, {}, TOKENS, expected_output_shape=(3, 6, 8))
