"""`PatchEmbedding`: an image cut into `p x p` patches, each projected to a token (Dosovitskiy et al. 2021)."""

import keras
from keras import ops

from keras_nn.errors import ShapeError
from keras_nn.layers.validation import check_positive_int


@keras.saving.register_keras_serializable(package="keras_nn")
class PatchEmbedding(keras.layers.Layer):
    """Splits images into non-overlapping `patch_size x patch_size` patches and projects each one linearly to
    `hidden_dim`: a convolution with kernel and stride `patch_size`, then the grid flattened row by row into a
    sequence (timm's and keras-hub's `PatchEmbed`/`ViTPatchingAndEmbedding` without the tokens and positions,
    which are `ClassToken` and `PatchPositionEmbedding`).

    Args:
        patch_size: side of each square patch, `p`. The image height and width must be multiples of it.
        hidden_dim: token width `D`.
        use_bias: bias of the projection.
        kernel_initializer, bias_initializer: initializers of the projection.
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        images: `[batch, height, width, channels]`.

    Returns:
        `[batch, (height / p) * (width / p), hidden_dim]`, patches in row-major order.

    Example:
    >>> tokens = keras_nn.layers.PatchEmbedding(patch_size=4, hidden_dim=32)(np.zeros((2, 16, 16, 3)))
    >>> tokens.shape
    (2, 16, 32)

    References:
        Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale",
        ICLR 2021, https://arxiv.org/abs/2010.11929 (equation 1).
    """

    def __init__(
        self,
        patch_size,
        hidden_dim,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("PatchEmbedding", "patch_size", patch_size)
        check_positive_int("PatchEmbedding", "hidden_dim", hidden_dim)
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def grid_size(self, images_shape):
        """`(rows, columns)` of the patch grid for images of `images_shape`; `ShapeError` if they do not divide."""
        if len(images_shape) != 4 or images_shape[1] is None or images_shape[2] is None:
            raise ShapeError(
                f"PatchEmbedding: images must be [batch, height, width, channels] with a known height and width; "
                f"got shape {tuple(images_shape)}"
            )
        height, width = int(images_shape[1]), int(images_shape[2])
        if height % self.patch_size or width % self.patch_size:
            raise ShapeError(
                f"image size {height}x{width} is not divisible by patch_size={self.patch_size}; resize the images "
                f"(data.image_size) to a multiple of {self.patch_size} or choose a patch size that divides both sides"
            )
        return height // self.patch_size, width // self.patch_size

    def build(self, images_shape):
        self.grid_size(images_shape)
        self.projection = keras.layers.Conv2D(
            self.hidden_dim,
            self.patch_size,
            strides=self.patch_size,
            padding="valid",
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name="projection",
        )
        self.projection.build(images_shape)

    def call(self, images):
        rows, columns = self.grid_size(images.shape)
        patches = self.projection(images)
        return ops.reshape(patches, (-1, rows * columns, self.hidden_dim))

    def compute_output_shape(self, images_shape):
        rows, columns = self.grid_size(images_shape)
        return (images_shape[0], rows * columns, self.hidden_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "patch_size": self.patch_size,
            "hidden_dim": self.hidden_dim,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
