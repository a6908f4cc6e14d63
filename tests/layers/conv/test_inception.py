import keras
import numpy as np
from layers.conv.conv_testing import images, zero_conv_kernels
from testing_utils import run_layer_test

from keras_nn.layers import InceptionBlock


def test_shared_layer_checks():
    kwargs = {"filters_1x1": 4, "filters_3x3_reduce": 3, "filters_3x3": 5, "filters_5x5_reduce": 2,
              "filters_5x5": 3, "filters_pool_proj": 2}
    run_layer_test(InceptionBlock, kwargs, images((4, 6, 6, 5)), (4, 6, 6, 14))


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
