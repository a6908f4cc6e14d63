import numpy as np
from keras import ops
from testing_utils import run_layer_test

from keras_nn.layers import YoloHead


def test_activations_follow_the_grid_layout():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 3, 3, 6)).astype("float32")
    head = YoloHead(boxes_per_cell=2, num_classes=3)
    grid = ops.convert_to_numpy(head(features))
    kernel, bias = head.conv.get_weights()
    logits = features @ kernel[0, 0] + bias
    expected_boxes = 1.0 / (1.0 + np.exp(-logits[..., :10]))
    classes = np.exp(logits[..., 10:] - logits[..., 10:].max(-1, keepdims=True))
    np.testing.assert_allclose(grid[..., :10], expected_boxes, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grid[..., 10:], classes / classes.sum(-1, keepdims=True), rtol=1e-5, atol=1e-6)


def test_shared_layer_checks():
    features = np.random.default_rng(1).normal(size=(2, 4, 4, 8)).astype("float32")
    run_layer_test(
        YoloHead, {"boxes_per_cell": 2, "num_classes": 3}, features, (2, 4, 4, 13), run_jit_compile_check=False
    )
