"""`PatchPositionEmbedding`: ViT's learned position embedding over a patch grid, and its resampling to another
grid (another image size), as timm's `resample_abs_pos_embed`."""

import keras
from keras import ops

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers.validation import check_positive_int, known_width

INTERPOLATIONS = ("bicubic", "bilinear", "nearest")


def _grid(name, grid_size):
    if isinstance(grid_size, int):
        grid_size = (grid_size, grid_size)
    grid_size = tuple(grid_size)
    if len(grid_size) != 2:
        raise ConfigError(f"{name}={grid_size!r} must be (rows, columns) of the patch grid")
    for size in grid_size:
        check_positive_int("PatchPositionEmbedding", name, size)
    return grid_size


def resample_position_embedding(
    table, grid_size, new_grid_size, num_prefix_tokens=1, interpolation="bicubic", antialias=True
):
    """A ViT position-embedding table resampled from one patch grid to another.

    The rows of the prefix tokens (class, distillation) are kept; the grid rows are reshaped to the grid,
    interpolated to `new_grid_size` and flattened again, row-major. This is what timm's
    `resample_abs_pos_embed` does when a model trained at 224x224 is fine-tuned at 384x384 (Dosovitskiy et al.
    2021, section 3.2: "2D interpolation of the pre-trained position embeddings"). The same grid returns the
    table unchanged.

    Args:
        table: `[num_prefix_tokens + rows * columns, D]` (numpy or tensor).
        grid_size: `(rows, columns)` of `table`'s grid (an int for a square grid).
        new_grid_size: the grid to resample to.
        num_prefix_tokens: leading rows that belong to class/distillation tokens, not to patches.
        interpolation: `"bicubic"` (timm's default), `"bilinear"` or `"nearest"`.
        antialias: low-pass filter when shrinking the grid (timm's default, True).

    Returns:
        A `[num_prefix_tokens + new_rows * new_columns, D]` tensor of the table's dtype.
    """
    grid_size = _grid("grid_size", grid_size)
    new_grid_size = _grid("new_grid_size", new_grid_size)
    if interpolation not in INTERPOLATIONS:
        raise ConfigError(f"interpolation={interpolation!r} is not allowed; choose one of: {', '.join(INTERPOLATIONS)}")
    table = ops.convert_to_tensor(table)
    expected = num_prefix_tokens + grid_size[0] * grid_size[1]
    if table.shape[0] != expected:
        raise ShapeError(
            f"position table has {table.shape[0]} rows; a {grid_size[0]}x{grid_size[1]} grid with "
            f"{num_prefix_tokens} prefix token(s) needs {expected}"
        )
    if grid_size == new_grid_size:
        return table
    prefix, patches = table[:num_prefix_tokens], table[num_prefix_tokens:]
    dtype = table.dtype
    grid = ops.reshape(ops.cast(patches, "float32"), (1, grid_size[0], grid_size[1], table.shape[-1]))
    resized = ops.image.resize(
        grid, new_grid_size, interpolation=interpolation, antialias=antialias, data_format="channels_last"
    )
    resized = ops.cast(ops.reshape(resized, (new_grid_size[0] * new_grid_size[1], table.shape[-1])), dtype)
    return ops.concatenate([prefix, resized], axis=0)


@keras.saving.register_keras_serializable(package="keras_nn")
class PatchPositionEmbedding(keras.layers.Layer):
    """A learned position embedding for `num_prefix_tokens` tokens followed by a `rows x columns` patch grid
    (ViT, DeiT): one trained vector per position, added by the caller to the token sequence.

    Args:
        grid_size: `(rows, columns)` of the patch grid (an int for a square grid), `image_size / patch_size`.
        num_prefix_tokens: tokens before the patches (1 for ViT's class token, 2 for DeiT's class and
            distillation tokens).
        initializer: initializer of the table (`embeddings`); timm uses a truncated normal of standard
            deviation 0.02.
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        inputs: `[batch, num_prefix_tokens + rows * columns, D]` tokens; only their shape and dtype are used.

    Returns:
        The table `[num_prefix_tokens + rows * columns, D]` broadcast to the shape of `inputs`.

    Example:
    >>> tokens = keras_nn.layers.ClassToken()(keras_nn.layers.PatchEmbedding(4, 32)(images))  # 16x16 images
    >>> tokens = tokens + keras_nn.layers.PatchPositionEmbedding(grid_size=4)(tokens)

    To run a trained model at another image size, build it at that size and load the table resampled with
    `resampled(new_grid_size)` (`VisionTransformer`'s `weights=PATH` does so).

    References:
        Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale",
        ICLR 2021, https://arxiv.org/abs/2010.11929 (equation 1 and section 3.2).
    """

    def __init__(self, grid_size, num_prefix_tokens=1, initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.grid_size = _grid("grid_size", grid_size)
        if not isinstance(num_prefix_tokens, int) or isinstance(num_prefix_tokens, bool) or num_prefix_tokens < 0:
            raise ConfigError(f"PatchPositionEmbedding: num_prefix_tokens={num_prefix_tokens!r} must be an int >= 0")
        self.num_prefix_tokens = num_prefix_tokens
        self.initializer = keras.initializers.get(initializer or keras.initializers.TruncatedNormal(stddev=0.02))

    @property
    def sequence_length(self):
        return self.num_prefix_tokens + self.grid_size[0] * self.grid_size[1]

    def build(self, inputs_shape):
        width = known_width(type(self).__name__, inputs_shape)
        self.embeddings = self.add_weight(
            shape=(self.sequence_length, width), initializer=self.initializer, name="embeddings"
        )

    def call(self, inputs):
        length = inputs.shape[-2]
        if length is not None and length != self.sequence_length:
            raise ShapeError(
                f"PatchPositionEmbedding: {length} tokens, but the table holds {self.num_prefix_tokens} prefix "
                f"token(s) and a {self.grid_size[0]}x{self.grid_size[1]} grid ({self.sequence_length}); build it "
                "for this grid and load a resampled table (resample_position_embedding)"
            )
        table = ops.cast(ops.convert_to_tensor(self.embeddings), inputs.dtype)
        return ops.broadcast_to(table, ops.shape(inputs))

    def resampled(self, new_grid_size, interpolation="bicubic", antialias=True):
        """This layer's table resampled to `new_grid_size` (see `resample_position_embedding`)."""
        return resample_position_embedding(
            self.embeddings, self.grid_size, new_grid_size, self.num_prefix_tokens, interpolation, antialias
        )

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        return {
            **super().get_config(),
            "grid_size": list(self.grid_size),
            "num_prefix_tokens": self.num_prefix_tokens,
            "initializer": keras.initializers.serialize(self.initializer),
        }
