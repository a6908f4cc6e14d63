"""`ClassToken`: a learned token put in front of a token sequence (ViT's [class], DeiT's distillation token)."""

import keras
from keras import ops

from keras_nn.layers.validation import known_width


@keras.saving.register_keras_serializable(package="keras_nn")
class ClassToken(keras.layers.Layer):
    """Prepends one learned vector to every sequence of the batch.

    ViT reads the image class from this token after the encoder (Dosovitskiy et al. 2021); DeiT adds a second
    one, the distillation token, whose output is trained to match a teacher (Touvron et al. 2021). A DeiT
    sequence is `[class, distillation, patch_1 ... patch_N]`: apply the distillation token's layer first, then
    the class token's.

    Args:
        initializer: initializer of the `[1, 1, D]` token (`token`); timm's DeiT uses a truncated normal of
            standard deviation 0.02.
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        inputs: `[batch, T, D]` tokens.

    Returns:
        `[batch, T + 1, D]`: the learned token, then `inputs`.

    Example:
    >>> keras_nn.layers.ClassToken()(np.zeros((2, 16, 32), "float32")).shape
    (2, 17, 32)

    References:
        Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021, https://arxiv.org/abs/2010.11929;
        Touvron et al., "Training data-efficient image transformers & distillation through attention", ICML
        2021, https://arxiv.org/abs/2012.12877.
    """

    def __init__(self, initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer or keras.initializers.TruncatedNormal(stddev=0.02))

    def build(self, inputs_shape):
        width = known_width(type(self).__name__, inputs_shape)
        self.token = self.add_weight(shape=(1, 1, width), initializer=self.initializer, name="token")

    def call(self, inputs):
        token = ops.cast(ops.convert_to_tensor(self.token), inputs.dtype)
        tokens = ops.broadcast_to(token, (ops.shape(inputs)[0], 1, inputs.shape[-1]))
        return ops.concatenate([tokens, inputs], axis=1)

    def compute_output_shape(self, inputs_shape):
        length = None if inputs_shape[1] is None else inputs_shape[1] + 1
        return (inputs_shape[0], length, inputs_shape[2])

    def get_config(self):
        return {**super().get_config(), "initializer": keras.initializers.serialize(self.initializer)}
