"""Attention rollout (Abnar & Zuidema 2020) against hand-worked and einsum-computed references, and the overlay
figures of rollouts beside Grad-CAM."""

import numpy as np
import pytest
from PIL import Image

import keras_nn
from keras_nn.errors import ConfigError, ShapeError
from keras_nn.viz import attention_rollout, grad_cam, save_explanation_grid, save_rollout_overlays


def _softmax_maps(rng, layers, batch, heads, tokens):
    logits = rng.normal(size=(layers, batch, heads, tokens, tokens)) * 2.0
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return list(weights / weights.sum(axis=-1, keepdims=True))


def _png_size(path):
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()
        return image.size


def test_two_layer_rollout_worked_by_hand():
    # Tokens [class, patch 1, patch 2] on a 1x2 grid. Layer 1: two heads; the class token looks at patch 1 in
    # one and at patch 2 in the other (mean: half each), the patches at themselves. Layer 2 (one head repeated):
    # the class token looks at patch 2, patch 1 at the class token, patch 2 at itself.
    layer1 = np.array([[[0, 1, 0], [0, 1, 0], [0, 0, 1]], [[0, 0, 1], [0, 1, 0], [0, 0, 1]]], float)[None]
    layer2 = np.repeat(np.array([[0, 0, 1], [1, 0, 0], [0, 0, 1]], float)[None, None], 2, axis=1)
    # By hand: A1 = [[0, .5, .5], [0, 1, 0], [0, 0, 1]], Â1 = (A1 + I) / 2 = [[.5, .25, .25], [0, 1, 0], [0, 0, 1]];
    # Â2 = [[.5, 0, .5], [.5, .5, 0], [0, 0, 1]]. Class row of Â2 Â1 = .5 * Â1[0] + .5 * Â1[2] = [.25, .125, .625];
    # patches [.125, .625], divided by the maximum: [.2, 1].
    maps = attention_rollout([layer1, layer2], grid_size=(1, 2))
    assert maps.shape == (1, 1, 2) and maps.dtype == np.float32
    np.testing.assert_allclose(maps[0], [[0.2, 1.0]], atol=1e-7)
    # The other order (Â1 Â2, last layer first) gives [.25, 1]: the product's order matters and is checked.
    np.testing.assert_allclose(attention_rollout([layer2, layer1], grid_size=(1, 2))[0], [[0.25, 1.0]], atol=1e-7)


@pytest.mark.parametrize("prefix, grid", [(1, (2, 3)), (2, (3, 3))])
def test_rollout_equals_an_einsum_reference(prefix, grid):
    rng = np.random.default_rng(prefix)
    tokens = prefix + grid[0] * grid[1]
    layers = _softmax_maps(rng, 3, 2, 4, tokens)
    expected = np.broadcast_to(np.eye(tokens), (2, tokens, tokens))
    for weights in layers:
        fused = np.einsum("bhqk->bqk", weights) / weights.shape[1] + np.eye(tokens)
        fused = fused / np.einsum("bqk->bq", fused)[..., None]
        expected = np.einsum("bqk,bkj->bqj", fused, expected)
    expected = expected[:, 0, prefix:]
    expected = (expected / expected.max(axis=1, keepdims=True)).reshape(2, *grid)
    maps = attention_rollout(layers, num_prefix_tokens=prefix, grid_size=grid)
    np.testing.assert_allclose(maps, expected, rtol=1e-6)
    assert maps.max(axis=(1, 2)) == pytest.approx([1.0, 1.0])
    max_fused = attention_rollout(layers, num_prefix_tokens=prefix, grid_size=grid, head_fusion="max")
    assert max_fused.shape == (2, *grid) and not np.allclose(max_fused, maps)


def test_identity_and_uniform_attention_give_uniform_maps():
    identity = [np.broadcast_to(np.eye(17), (2, 3, 17, 17))] * 2
    np.testing.assert_array_equal(attention_rollout(identity), np.zeros((2, 4, 4)))  # no flow to any patch
    uniform = [np.full((2, 3, 17, 17), 1 / 17)] * 2
    np.testing.assert_allclose(attention_rollout(uniform), np.ones((2, 4, 4)), rtol=1e-6)


def test_attention_on_one_patch_puts_the_maximum_there():
    # DeiT: [class, distillation, 12 patches on a 3x4 grid]; every token in every layer attends to patch 7.
    tokens, patch = 14, 7
    weights = np.zeros((1, 2, tokens, tokens))
    weights[..., 2 + patch] = 1.0
    maps = attention_rollout([weights] * 3, num_prefix_tokens=2, grid_size=(3, 4))
    assert np.unravel_index(maps[0].argmax(), (3, 4)) == (1, 3)
    expected = np.zeros((3, 4))
    expected[1, 3] = 1.0
    np.testing.assert_allclose(maps[0], expected)


def test_rollout_of_a_vision_transformer_and_bad_input():
    for distilled in (False, True):
        model = keras_nn.models.VisionTransformer(
            num_classes=3, input_shape=(16, 16, 3), patch_size=4, hidden_dim=32, depth=2, num_heads=2, mlp_dim=64,
            distilled=distilled, classifier_activation=None,
        )
        images = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
        _, scores = model.encode(images, return_attention_scores=True)
        assert len(scores) == 2 and tuple(scores[0].shape) == (2, 2, 16 + model.num_prefix_tokens, 16 + model.num_prefix_tokens)
        maps = attention_rollout(scores, num_prefix_tokens=model.num_prefix_tokens, grid_size=model.grid_size)
        assert maps.shape == (2, 4, 4) and maps.min() >= 0.0
        np.testing.assert_allclose(maps.max(axis=(1, 2)), 1.0, rtol=1e-6)

    with pytest.raises(ShapeError, match="no attention maps"):
        attention_rollout([])
    with pytest.raises(ShapeError, match=r"\[batch, heads, tokens, tokens\]"):
        attention_rollout([np.ones((2, 5, 5))])
    with pytest.raises(ShapeError, match="do not form a square grid"):
        attention_rollout([np.ones((1, 1, 7, 7)) / 7])
    with pytest.raises(ShapeError, match="holds 6 patches, the attention maps 16"):
        attention_rollout([np.ones((1, 1, 17, 17)) / 17], grid_size=(2, 3))
    with pytest.raises(ConfigError, match="head_fusion='median'"):
        attention_rollout([np.ones((1, 1, 5, 5)) / 5], head_fusion="median")


def test_rollout_and_explanation_pngs(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((2, 16, 16, 1), dtype=np.float32)
    rollouts = attention_rollout(_softmax_maps(rng, 2, 2, 2, 17))

    path = save_rollout_overlays(images, rollouts, tmp_path / "rollout.png", titles=["a", "b"], title="rollout")
    # One image column and one overlay column, 2.3 inches each plus the colorbar, at 110 dpi.
    assert _png_size(path) == pytest.approx((round(5.5 * 110), round(5.1 * 110)), abs=1)

    cnn = keras_nn.create_model("simple_cnn", num_classes=3, input_shape=(16, 16, 1), filters=(8, 16))
    columns = {"Grad-CAM (simple_cnn)": grad_cam(cnn, images), "ViT rollout": rollouts, "DeiT rollout": rollouts[::-1]}
    path = save_explanation_grid(images, columns, tmp_path / "explain.png", title="what each model looked at")
    assert _png_size(path) == pytest.approx((round(10.1 * 110), round(5.1 * 110)), abs=1)

    with pytest.raises(ConfigError, match="hold 1 maps for 2 images"):
        save_explanation_grid(images, {"ViT rollout": rollouts[:1]}, tmp_path / "bad.png", title="bad")
    with pytest.raises(ConfigError, match="got no heatmaps"):
        save_explanation_grid(images, {}, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()
