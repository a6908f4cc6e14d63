import keras
import numpy as np
import pytest
from layers.conv.conv_testing import images
from testing_utils import run_layer_test

from keras_nn.layers import DepthwiseSeparableConv


def test_shared_layer_checks():
    kwargs = {"filters": 6, "strides": 2, "padding": 1}
    run_layer_test(DepthwiseSeparableConv, kwargs, images((4, 9, 9, 4)), (4, 5, 5, 6))


@pytest.mark.parametrize("dilation", [1, 2, 3])
def test_dilation_grows_the_receptive_field_as_computed(dilation):
    # A single impulse spreads over (k - 1) * d + 1 pixels per side after one k x k conv with dilation d.
    x = np.zeros((1, 15, 15, 1), "float32")
    x[0, 7, 7, 0] = 1.0
    separable = DepthwiseSeparableConv(1, dilation_rate=dilation, activation=None, kernel_initializer="ones")
    out = keras.ops.convert_to_numpy(separable(x, training=False))[0, :, :, 0]
    rows, cols = np.nonzero(out)
    extent = 2 * dilation + 1
    assert rows.max() - rows.min() + 1 == extent and cols.max() - cols.min() + 1 == extent


def test_depthwise_separable_parameter_count():
    layer = DepthwiseSeparableConv(16, kernel_size=3)
    layer(np.zeros((1, 8, 8, 8), "float32"))
    assert layer.count_params() == 3 * 3 * 8 + 8 * 16 + 4 * 8 + 4 * 16  # depthwise, pointwise, two BNs
    strided = DepthwiseSeparableConv(16, strides=2, padding=1)
    assert tuple(strided(np.zeros((1, 7, 7, 8), "float32")).shape) == (1, 4, 4, 16)
