import pytest
from layers.conv.conv_testing import check_identity_shortcut_with_zero_convs_outputs_relu_of_input, images
from testing_utils import run_layer_test

from keras_nn.errors import ConfigError
from keras_nn.layers import BottleneckBlock


def test_shared_layer_checks():
    kwargs = {"filters": 4, "strides": 2, "stride_on": "3x3"}
    run_layer_test(BottleneckBlock, kwargs, images((4, 8, 8, 8)), (4, 4, 4, 16))


def test_identity_shortcut_with_zero_convs_outputs_relu_of_input():
    check_identity_shortcut_with_zero_convs_outputs_relu_of_input(BottleneckBlock(2, expansion=3))


def test_projection_appears_when_only_the_channels_change():
    # A bottleneck block changing only the channel count (64 -> 256 in ResNet-50's first block) projects too.
    bottleneck = BottleneckBlock(4)
    bottleneck(images((1, 8, 8, 4)))
    assert bottleneck.projection is not None and bottleneck.projection.conv.strides == (1, 1)


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
