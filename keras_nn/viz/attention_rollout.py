"""Attention rollout: which patches a Vision Transformer's class token drew on, through all of its layers.

One layer's attention weights say where each token looked in the layer below, not in the image. Rollout
(Abnar & Zuidema 2020) follows the attention down to the patches: each layer's heads are fused (averaged), the
identity is added for the residual connection (a token also keeps what it had) and the rows renormalized, and
the layers' matrices are multiplied, first layer first: `R = Â_L ... Â_2 Â_1` with `Â = norm(A + I)`. The class
token's row of `R`, without the class (and distillation) token columns, is the map over the patch grid.

Rollout needs only the attention weights, so it is numpy, for any backend:
`VisionTransformer.encode(images, return_attention_scores=True)[1]` gives them.

Example:
    >>> _, scores = vit.encode(images, return_attention_scores=True)
    >>> maps = attention_rollout(scores, num_prefix_tokens=vit.num_prefix_tokens, grid_size=vit.grid_size)
    >>> save_rollout_overlays(images, maps, "rollout.png", titles=["3", "8"])

References:
    Abnar and Zuidema, "Quantifying Attention Flow in Transformers", ACL 2020, https://arxiv.org/abs/2005.00928.
"""

import math

import numpy as np

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.viz.overlays import save_explanation_grid

HEAD_FUSIONS = ("mean", "max", "min")


def _stack(attention_maps):
    if attention_maps is None or len(attention_maps) == 0:
        raise ShapeError(
            "attention_rollout got no attention maps; pass the list from "
            "VisionTransformer.encode(images, return_attention_scores=True)[1]"
        )
    maps = [np.asarray(layer, dtype=np.float64) for layer in attention_maps]
    first = maps[0].shape
    if len(first) != 4 or first[-1] != first[-2]:
        raise ShapeError(
            f"attention maps must be [batch, heads, tokens, tokens] per layer; got {first}. Pass each block's "
            "attention weights"
        )
    for index, layer in enumerate(maps):
        if layer.shape != first:
            raise ShapeError(f"attention map of layer {index + 1} has shape {layer.shape}, layer 1 {first}; pass one model's maps")
    return maps


def _grid(grid_size, patches):
    if grid_size is None:
        side = math.isqrt(patches)
        if side * side != patches:
            raise ShapeError(
                f"{patches} patch tokens do not form a square grid; pass grid_size=(rows, columns) "
                "(VisionTransformer.grid_size)"
            )
        return side, side
    rows, columns = (grid_size, grid_size) if isinstance(grid_size, int) else tuple(grid_size)
    if rows * columns != patches:
        raise ShapeError(f"grid_size={tuple(grid_size) if not isinstance(grid_size, int) else grid_size} holds "
                         f"{rows * columns} patches, the attention maps {patches}; pass the model's grid_size")
    return rows, columns


def attention_rollout(attention_maps, num_prefix_tokens=1, head_fusion="mean", grid_size=None):
    """Attention rollout maps of the class token over the patch grid, one per image.

    Args:
        attention_maps: a list over the layers, first layer first, of `[batch, heads, T, T]` attention weights
            (rows: the attending token; each row sums to 1), where `T = num_prefix_tokens + rows * columns`.
        num_prefix_tokens: tokens in front of the patches (1: ViT's class token; 2: DeiT's class and
            distillation tokens, `VisionTransformer.num_prefix_tokens`). The map is read from the first (the
            class token's) row, and the prefix tokens' columns are dropped.
        head_fusion: how each layer's heads are fused: `"mean"` (the paper's), `"max"` or `"min"`.
        grid_size: `(rows, columns)` of the patch grid (`VisionTransformer.grid_size`); None for a square grid.

    Returns:
        float32 `[batch, rows, columns]`, each map divided by its maximum (so in [0, 1] with the strongest patch
        at 1, and the ratios between patches kept); a map with no flow to any patch stays all zeros.

    Raises:
        ShapeError: no maps, maps that are not `[batch, heads, T, T]` or differ between layers, or a token count
            that does not fit `num_prefix_tokens` and `grid_size`.
        ConfigError: an unknown `head_fusion` or a `num_prefix_tokens` below 1.

    Example:
    >>> uniform = [np.full((1, 2, 5, 5), 0.2)] * 3          # 1 class token + a 2x2 grid, 3 layers, 2 heads
    >>> attention_rollout(uniform)[0]
    array([[1., 1.],
           [1., 1.]], dtype=float32)
    """
    if head_fusion not in HEAD_FUSIONS:
        raise ConfigError(f"head_fusion={head_fusion!r} is not one of {', '.join(HEAD_FUSIONS)}")
    if isinstance(num_prefix_tokens, bool) or not isinstance(num_prefix_tokens, int) or num_prefix_tokens < 1:
        raise ConfigError(
            f"num_prefix_tokens={num_prefix_tokens!r} must be 1 (a class token) or more (2 for DeiT's class and "
            "distillation tokens)"
        )
    maps = _stack(attention_maps)
    batch, _, tokens, _ = maps[0].shape
    patches = tokens - num_prefix_tokens
    if patches < 1:
        raise ShapeError(f"the attention maps have {tokens} tokens, no patches after {num_prefix_tokens} prefix tokens")
    rows, columns = _grid(grid_size, patches)

    identity = np.eye(tokens)
    rollout = np.broadcast_to(identity, (batch, tokens, tokens))
    for layer in maps:
        fused = getattr(layer, head_fusion)(axis=1)
        # The residual connection carries each token's own value past the attention; with rows summing to 1 this
        # is the paper's 0.5 * A + 0.5 * I.
        fused = fused + identity
        fused = fused / fused.sum(axis=-1, keepdims=True)
        rollout = fused @ rollout
    flow = rollout[:, 0, num_prefix_tokens:]
    peak = flow.max(axis=-1, keepdims=True)
    flow = np.divide(flow, peak, out=np.zeros_like(flow), where=peak > 0)
    return flow.reshape(batch, rows, columns).astype(np.float32)


def is_vision_transformer(model):
    """True for a model that `model_attention_rollout` can explain (a keras-nn `VisionTransformer`: it replays
    its encoder with `encode(images, return_attention_scores=True)`)."""
    return callable(getattr(model, "encode", None)) and hasattr(model, "num_prefix_tokens") and hasattr(model, "grid_size")


def model_attention_rollout(model, images, head_fusion="mean"):
    """`attention_rollout` of a keras-nn `VisionTransformer` on `images` `(N, H, W, C)`: `[N, rows, columns]`."""
    _, scores = model.encode(images, return_attention_scores=True)
    scores = [np.asarray(layer.numpy() if hasattr(layer, "numpy") else layer) for layer in scores]
    return attention_rollout(scores, model.num_prefix_tokens, head_fusion=head_fusion, grid_size=model.grid_size)


def save_rollout_overlays(images, maps, path, titles=None, title=None):
    """Writes a PNG with one row per image: the image, then its attention rollout laid over it, with a colorbar.

    Args:
        images: `(N, H, W, C)` images in [0, 1] for display.
        maps: `(N, rows, columns)` rollouts from `attention_rollout` (stretched over the image), or a mapping
            `{column title: maps}` for several models or heads fusions.
        path: the PNG to write.
        titles: one label per row beside the image (e.g. "true 3, pred 8").
        title: the figure title.

    Returns:
        The path written.
    """
    columns = maps if isinstance(maps, dict) else {"attention rollout": maps}
    return save_explanation_grid(images, columns, path, title=title, titles=titles)
