import keras
import numpy as np
import pytest
from layers.conv.conv_testing import (
    check_identity_shortcut_with_zero_convs_outputs_relu_of_input,
    images,
    zero_conv_kernels,
)
from testing_utils import run_layer_test

from keras_nn.errors import ShapeError
from keras_nn.layers import ResidualBlock


def test_shared_layer_checks():
    kwargs = {"filters": 8, "strides": 2, "shortcut": "zero_pad"}
    run_layer_test(ResidualBlock, kwargs, images((4, 8, 8, 4)), (4, 4, 4, 8))


def test_identity_shortcut_with_zero_convs_outputs_relu_of_input():
    check_identity_shortcut_with_zero_convs_outputs_relu_of_input(ResidualBlock(6))


def test_zero_pad_shortcut_is_option_a():
    x = images((2, 6, 6, 4))
    block = ResidualBlock(8, strides=2, shortcut="zero_pad")
    block(x)
    assert block.projection is None  # no parameters in the shortcut
    zero_conv_kernels(block)
    expected = np.pad(x[:, ::2, ::2, :], [(0, 0), (0, 0), (0, 0), (2, 2)])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(block(x, training=False)), np.maximum(expected, 0),
                               atol=1e-6)
    with pytest.raises(ShapeError, match="zero-padding shortcut cannot go from 8 to 4"):
        ResidualBlock(4, shortcut="zero_pad")(images((1, 4, 4, 8)))


def test_projection_appears_when_the_shape_changes():
    basic = ResidualBlock(8, strides=2, name="b")
    basic(images((1, 8, 8, 8)))
    assert basic.projection is not None and basic.projection.conv.strides == (2, 2)
    same_shape = ResidualBlock(8)
    same_shape(images((1, 8, 8, 8)))
    assert same_shape.projection is None
    # Parameters of a basic block: two 3x3 convs and BNs, plus the 1x1 projection and its BN.
    assert basic.count_params() == 9 * 8 * 8 * 2 + 8 * 8 + 3 * 4 * 8
