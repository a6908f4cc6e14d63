"""`DropPath`: stochastic depth, dropping a residual branch for whole examples (Huang et al. 2016)."""

import keras
from keras import ops

from keras_nn.layers.validation import check_rate


@keras.saving.register_keras_serializable(package="keras_nn")
class DropPath(keras.layers.Layer):
    """Stochastic depth: in training, zeroes the whole input of an example with probability `rate` and scales
    the kept examples by `1 / (1 - rate)`; at inference it is the identity.

    Put on a residual branch (`x + DropPath(rate)(branch(x))`), it skips that block for a random subset of the
    batch, which regularizes deep Transformers (DeiT trains with rate 0.1, rising linearly with depth). It is
    timm's `DropPath` and keras-cv's `StochasticDepth` on the branch alone.

    Args:
        rate: probability of dropping an example's branch, in [0, 1).
        seed: seed of the random draws.
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        inputs: a tensor whose first axis is the batch.
        training: drop (True) or pass through (False/None).

    Returns:
        A tensor shaped like `inputs`.

    Example:
    >>> branch = keras.layers.Dense(16)
    >>> y = x + keras_nn.layers.DropPath(0.1)(branch(x), training=True)

    References:
        Huang et al., "Deep Networks with Stochastic Depth", ECCV 2016, https://arxiv.org/abs/1603.09382.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        check_rate("DropPath", "rate", rate)
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        keep = 1.0 - self.rate
        batch = ops.shape(inputs)[0]
        shape = (batch,) + (1,) * (len(inputs.shape) - 1)
        kept = ops.floor(keep + keras.random.uniform(shape, seed=self.seed_generator, dtype=inputs.dtype))
        return inputs * kept / ops.cast(keep, inputs.dtype)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
