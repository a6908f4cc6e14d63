import keras
import numpy as np
import pytest
from layers.conv.conv_testing import RNG, images
from testing_utils import run_layer_test

from keras_nn.errors import ConfigError
from keras_nn.layers import ConvBNAct


def test_shared_layer_checks():
    # Build, output shape, config and .keras round trip, training, mixed precision, XLA.
    kwargs = {"filters": 6, "kernel_size": 3, "dilation_rate": 2, "activation": "relu6"}
    run_layer_test(ConvBNAct, kwargs, images((4, 8, 8, 3)), (4, 8, 8, 6))


def test_conv_bn_act_names_follow_keras_applications():
    layer = ConvBNAct(8, 7, strides=2, padding=3, name="conv1")
    layer(images((1, 16, 16, 3)))
    assert [w.path for w in layer.weights][:2] == ["conv1/conv1_conv/kernel", "conv1/conv1_bn/gamma"]
    assert layer.pad is not None and layer.conv.padding == "valid"
    # Stride 1 with k // 2 pixels is what "same" does: no padding layer.
    assert ConvBNAct(8, 3, padding=1).pad is None


def test_explicit_padding_is_symmetric_unlike_same():
    x = images((1, 8, 8, 1))
    layer = ConvBNAct(1, 3, strides=2, padding=1, batch_norm=False, use_bias=False, activation=None)
    layer.build(x.shape)
    kernel = np.zeros((3, 3, 1, 1), "float32")
    kernel[0, 0] = 1.0  # picks the top-left pixel of each window
    layer.conv.kernel.assign(kernel)
    out = keras.ops.convert_to_numpy(layer(x))[0, :, :, 0]
    # One pixel of padding on top/left: window (i, j) starts at (2i - 1, 2j - 1).
    padded = np.pad(x[0, :, :, 0], 1)
    np.testing.assert_allclose(out, padded[0:8:2, 0:8:2], atol=1e-6)


@pytest.mark.parametrize("dilation", [1, 2, 3])
def test_dilation_grows_the_receptive_field_as_computed(dilation):
    # A single impulse spreads over (k - 1) * d + 1 pixels per side after one k x k conv with dilation d.
    x = np.zeros((1, 15, 15, 1), "float32")
    x[0, 7, 7, 0] = 1.0
    layer = ConvBNAct(1, 3, dilation_rate=dilation, batch_norm=False, use_bias=False, activation=None,
                      kernel_initializer="ones")
    out = keras.ops.convert_to_numpy(layer(x))[0, :, :, 0]
    rows, cols = np.nonzero(out)
    extent = 2 * dilation + 1
    assert rows.max() - rows.min() + 1 == extent and cols.max() - cols.min() + 1 == extent
    assert np.count_nonzero(out) == 9  # a dilated kernel touches 9 pixels, spaced d apart


def test_conv_bn_act_inference_is_conv_then_batch_norm_then_activation():
    x = images((2, 6, 6, 3))
    layer = ConvBNAct(4, 3, activation="relu")
    layer.build(x.shape)
    bn = layer.bn
    bn.set_weights([RNG.uniform(0.5, 1.5, 4), RNG.normal(size=4), RNG.normal(size=4), RNG.uniform(0.5, 2, 4)])
    gamma, beta, mean, var = bn.get_weights()
    conv = keras.ops.convert_to_numpy(layer.conv(x))
    expected = np.maximum(gamma * (conv - mean) / np.sqrt(var + bn.epsilon) + beta, 0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x, training=False)), expected, atol=1e-5)
    assert not ConvBNAct(4, batch_norm=False).bn and ConvBNAct(4, batch_norm=False).use_bias


def test_bad_padding_is_named():
    with pytest.raises(ConfigError, match="padding='full'"):
        ConvBNAct(4, padding="full")
