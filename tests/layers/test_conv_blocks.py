import keras
import numpy as np
import pytest
from testing_utils import run_layer_test

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers import BottleneckBlock, ConvBNAct, DepthwiseSeparableConv, InceptionBlock, ResidualBlock

RNG = np.random.default_rng(0)


def images(shape):
    return RNG.normal(size=shape).astype("float32")


def zero_conv_kernels(layer):
    """Zeroes every convolution kernel (and batch norm beta) inside a block."""
    for sub in layer._flatten_layers(include_self=False):
        if isinstance(sub, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            sub.set_weights([np.zeros_like(w) for w in sub.get_weights()])
        if isinstance(sub, keras.layers.BatchNormalization):
            sub.beta.assign(np.zeros(sub.beta.shape))


# ---------------------------------------------------------------------------------------------------------------
# Shared checks (build, output shape, config and .keras round trip, training, mixed precision, XLA)
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layer_cls", "kwargs", "input_shape", "output_shape"),
    [
        (ConvBNAct, {"filters": 6, "kernel_size": 3, "dilation_rate": 2, "activation": "relu6"}, (4, 8, 8, 3),
         (4, 8, 8, 6)),
        (ResidualBlock, {"filters": 8, "strides": 2, "shortcut": "zero_pad"}, (4, 8, 8, 4), (4, 4, 4, 8)),
        (BottleneckBlock, {"filters": 4, "strides": 2, "stride_on": "3x3"}, (4, 8, 8, 8), (4, 4, 4, 16)),
        (InceptionBlock, {"filters_1x1": 4, "filters_3x3_reduce": 3, "filters_3x3": 5, "filters_5x5_reduce": 2,
                          "filters_5x5": 3, "filters_pool_proj": 2}, (4, 6, 6, 5), (4, 6, 6, 14)),
        (DepthwiseSeparableConv, {"filters": 6, "strides": 2, "padding": 1}, (4, 9, 9, 4), (4, 5, 5, 6)),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_shared_layer_checks(layer_cls, kwargs, input_shape, output_shape):
    run_layer_test(layer_cls, kwargs, images(input_shape), output_shape)


# ---------------------------------------------------------------------------------------------------------------
# ConvBNAct
# ---------------------------------------------------------------------------------------------------------------


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

    separable = DepthwiseSeparableConv(1, dilation_rate=dilation, activation=None, kernel_initializer="ones")
    out = keras.ops.convert_to_numpy(separable(x, training=False))[0, :, :, 0]
    rows, cols = np.nonzero(out)
    assert rows.max() - rows.min() + 1 == extent and cols.max() - cols.min() + 1 == extent


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


# ---------------------------------------------------------------------------------------------------------------
# Residual blocks
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", [ResidualBlock(6), BottleneckBlock(2, expansion=3)], ids=["basic", "bottleneck"])
def test_identity_shortcut_with_zero_convs_outputs_relu_of_input(block):
    x = images((2, 5, 5, 6))
    block(x)
    assert block.projection is None
    zero_conv_kernels(block)
    for training in (False, True):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(block(x, training=training)), np.maximum(x, 0),
                                   atol=1e-6)


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
    # A bottleneck block changing only the channel count (64 -> 256 in ResNet-50's first block) projects too.
    bottleneck = BottleneckBlock(4)
    bottleneck(images((1, 8, 8, 4)))
    assert bottleneck.projection is not None and bottleneck.projection.conv.strides == (1, 1)
    # Parameters of a basic block: two 3x3 convs and BNs, plus the 1x1 projection and its BN.
    assert basic.count_params() == 9 * 8 * 8 * 2 + 8 * 8 + 3 * 4 * 8


def test_bottleneck_stride_position_and_layout():
    v1 = BottleneckBlock(4, strides=2, name="conv3_block1")
    v1(images((1, 8, 8, 8)))
    assert v1.conv1.conv.strides == (2, 2) and v1.conv2.conv.strides == (1, 1)
    v15 = BottleneckBlock(4, strides=2, stride_on="3x3")
    v15(images((1, 8, 8, 8)))
    assert v15.conv1.conv.strides == (1, 1) and v15.conv2.conv.strides == (2, 2)
    assert v1.count_params() == v15.count_params()
    names = {sub.name for sub in v1._flatten_layers(include_self=False)}
    assert {"conv3_block1_0_conv", "conv3_block1_1_conv", "conv3_block1_2_bn", "conv3_block1_3_conv"} <= names
    with pytest.raises(ConfigError, match="stride_on='2x2'"):
        BottleneckBlock(4, stride_on="2x2")


# ---------------------------------------------------------------------------------------------------------------
# Inception and depthwise separable
# ---------------------------------------------------------------------------------------------------------------


def test_inception_concatenates_the_four_branches_in_order():
    x = images((1, 6, 6, 5))
    block = InceptionBlock(2, 3, 4, 1, 3, 5)
    block(x)
    zero_conv_kernels(block)
    # Only the 3x3 branch gets a positive beta: its 4 channels sit after the 2 of the 1x1 branch.
    block.branch_3x3.bn.beta.assign(np.ones(4))
    out = keras.ops.convert_to_numpy(block(x, training=False))
    assert out.shape == (1, 6, 6, 2 + 4 + 3 + 5)
    np.testing.assert_allclose(out[..., 2:6], 1.0)
    assert np.count_nonzero(out[..., :2]) == 0 and np.count_nonzero(out[..., 6:]) == 0


def test_inception_3a_parameter_count_matches_the_paper():
    block = InceptionBlock(64, 96, 128, 16, 32, 32, batch_norm=False)
    block(np.zeros((1, 28, 28, 192), "float32"))
    kernels = sum(int(np.prod(w.shape)) for w in block.weights if len(w.shape) == 4)
    assert kernels // 1024 == 159  # Table 1 of the paper: 159K
    assert tuple(block(np.zeros((1, 28, 28, 192), "float32")).shape) == (1, 28, 28, 256)
    torchvision_style = InceptionBlock(64, 96, 128, 16, 32, 32, kernel_size_5x5=3)
    assert torchvision_style.branch_5x5.conv.kernel_size == (3, 3)


def test_depthwise_separable_parameter_count():
    layer = DepthwiseSeparableConv(16, kernel_size=3)
    layer(np.zeros((1, 8, 8, 8), "float32"))
    assert layer.count_params() == 3 * 3 * 8 + 8 * 16 + 4 * 8 + 4 * 16  # depthwise, pointwise, two BNs
    strided = DepthwiseSeparableConv(16, strides=2, padding=1)
    assert tuple(strided(np.zeros((1, 7, 7, 8), "float32")).shape) == (1, 4, 4, 16)
