"""`SinusoidalPositionEncoding`: the fixed sine/cosine position encoding of the Transformer.

Position information for attention, which by itself ignores order. Like `PositionEmbedding`, it returns the
encoding of the positions of `inputs` (`[batch, T, d]` or `[T, d]`), shaped like `inputs`, for the caller to
add (the keras-hub convention), and takes a `start_index`: the position of the first step, so that a decoder
fed one token at a time with a cache encodes step `t` as position `t`.
"""

import keras
import numpy as np
from keras import ops

from keras_nn.errors import ConfigError
from keras_nn.layers.validation import known_width


@keras.saving.register_keras_serializable(package="keras_nn")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """The fixed position encoding of the Transformer:

        PE(pos, 2i)     = sin(pos / max_wavelength^(2i / d))
        PE(pos, 2i + 1) = cos(pos / max_wavelength^(2i / d))

    with sines on the even features and cosines on the odd ones, interleaved as in the paper's formula. Each
    pair of features is a rotation at its own frequency, so `PE(pos + k)` is a linear function of `PE(pos)`;
    the wavelengths run geometrically from `2 pi` to `max_wavelength * 2 pi`. There are no weights and no
    longest sequence.

    Args:
        max_wavelength: the base, 10000 in the paper.
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        inputs: `[batch, T, d]` (or `[T, d]`) embeddings (or any tensor of that shape); only the shape is used.
        start_index: position of the first step (an int or a scalar tensor), for cached decoding.
        positions: `[T]` or `[batch, T]` positions to encode instead of `start_index ...` (keras-hub's argument).

    Returns:
        The encoding of positions `start_index ... start_index + T - 1` (or `positions`), in the layer's compute
        dtype (as keras-hub's; integer `inputs` still get the float encoding), broadcast to the shape of `inputs`.

    Example:
    >>> embedded = keras.layers.Embedding(100, 16)(token_ids)
    >>> x = embedded + keras_nn.layers.SinusoidalPositionEncoding()(embedded)

    References:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017, section 3.5,
        https://arxiv.org/abs/1706.03762.
    """

    def __init__(self, max_wavelength=10000, **kwargs):
        super().__init__(**kwargs)
        if float(max_wavelength) <= 1.0:
            raise ConfigError(f"SinusoidalPositionEncoding: max_wavelength={max_wavelength!r} must be > 1")
        self.max_wavelength = max_wavelength

    def call(self, inputs, start_index=0, positions=None):
        width = known_width(type(self).__name__, inputs.shape)
        shape = ops.shape(inputs)
        features = np.arange(width)
        # 1 / max_wavelength^(2i / d) for features 2i and 2i + 1: a constant of the graph.
        frequencies = np.power(float(self.max_wavelength), -(features - features % 2) / width).astype(
            "float32"
        )
        if positions is None:
            positions = ops.cast(ops.arange(shape[-2]), "float32") + ops.cast(start_index, "float32")
        # [..., T, 1] * [d]: one row of angles per position, batched when `positions` is.
        angles = ops.expand_dims(ops.cast(positions, "float32"), -1) * ops.convert_to_tensor(frequencies)
        encoding = ops.where(ops.convert_to_tensor(features % 2 == 0), ops.sin(angles), ops.cos(angles))
        return ops.broadcast_to(ops.cast(encoding, self.compute_dtype), shape)

    def get_config(self):
        return {**super().get_config(), "max_wavelength": self.max_wavelength}
