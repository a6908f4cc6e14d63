"""What the convolutional block tests share: random images and zeroing a block's kernels (which leaves only
the shortcut, the biases and batch norm's beta to see)."""

import keras
import numpy as np

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


def check_identity_shortcut_with_zero_convs_outputs_relu_of_input(block):
    """A block whose shape does not change has an identity shortcut: with zero kernels it outputs relu(x)."""
    x = images((2, 5, 5, 6))
    block(x)
    assert block.projection is None
    zero_conv_kernels(block)
    for training in (False, True):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(block(x, training=training)), np.maximum(x, 0),
                                   atol=1e-6)
