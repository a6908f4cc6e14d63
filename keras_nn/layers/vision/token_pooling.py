"""`TokenPooling`: one vector per image from a ViT's output tokens (the class token, the distillation token, or
the mean of the patch tokens)."""

import keras
from keras import ops

from keras_nn.errors import ConfigError, ShapeError

TOKEN_POOLINGS = ("token", "distillation_token", "avg")


@keras.saving.register_keras_serializable(package="keras_nn")
class TokenPooling(keras.layers.Layer):
    """Reduces `[batch, T, D]` encoder outputs to `[batch, D]`: the class token (position 0, ViT's default),
    the distillation token (position 1, DeiT's second head), or the mean over the patch tokens (timm's
    `global_pool="avg"`, which skips the `num_prefix_tokens` class/distillation tokens).

    Args:
        pooling: `"token"`, `"distillation_token"` or `"avg"`.
        num_prefix_tokens: class/distillation tokens in front of the patches.
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        inputs: `[batch, T, D]`.

    Returns:
        `[batch, D]`.

    Example:
    >>> keras_nn.layers.TokenPooling("avg", num_prefix_tokens=1)(np.ones((2, 17, 8), "float32")).shape
    (2, 8)

    References:
        Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021, https://arxiv.org/abs/2010.11929
        (appendix D.3 compares class-token and average pooling).
    """

    def __init__(self, pooling="token", num_prefix_tokens=1, **kwargs):
        super().__init__(**kwargs)
        if pooling not in TOKEN_POOLINGS:
            raise ConfigError(f"pooling={pooling!r} is not allowed; choose one of: {', '.join(TOKEN_POOLINGS)}")
        needed = 2 if pooling == "distillation_token" else 1 if pooling == "token" else 0
        if num_prefix_tokens < needed:
            raise ConfigError(
                f"TokenPooling: pooling={pooling!r} needs {needed} prefix token(s); num_prefix_tokens={num_prefix_tokens}"
            )
        self.pooling = pooling
        self.num_prefix_tokens = num_prefix_tokens

    def call(self, inputs):
        if len(inputs.shape) != 3:
            raise ShapeError(f"TokenPooling: inputs must be [batch, tokens, width]; got shape {inputs.shape}")
        if self.pooling == "token":
            return inputs[:, 0]
        if self.pooling == "distillation_token":
            return inputs[:, 1]
        return ops.mean(inputs[:, self.num_prefix_tokens :], axis=1)

    def compute_output_shape(self, inputs_shape):
        return (inputs_shape[0], inputs_shape[-1])

    def get_config(self):
        return {**super().get_config(), "pooling": self.pooling, "num_prefix_tokens": self.num_prefix_tokens}
