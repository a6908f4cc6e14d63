"""`NTXent`: SimCLR's normalized temperature-scaled cross-entropy over the 2N views of a batch."""

import keras
from keras import ops

from keras_nn.errors import ConfigError, ShapeError

# Added to the self-similarity logits so that their softmax weight underflows to exactly 0 in float32.
SELF_SIMILARITY_MASK = -1e9


@keras.saving.register_keras_serializable(package="keras_nn")
class NTXent(keras.losses.Loss):
    """NT-Xent, the contrastive loss of SimCLR (Chen et al. 2020, eq. 1), averaged over the 2N views.

    A batch of N examples gives two augmented views each, `z1[k]` and `z2[k]`. The 2N projections are
    L2-normalised, their cosine similarities divided by `temperature` give a 2N x 2N matrix of logits, each view's
    similarity to itself is excluded, and each view is a 2N-1-way classification whose right answer is the other
    view of the same example:

        l(i, j) = -log( exp(sim(z_i, z_j) / tau) / sum_{k != i} exp(sim(z_i, z_k) / tau) )

    The loss is the mean of l over all 2N views (both l(k, k+N) and l(k+N, k)), as in the paper's Algorithm 1.
    Per example `k` the unreduced loss is `(l(k, k+N) + l(k+N, k)) / 2`, so the default reduction (the mean
    over the batch) is the mean over the 2N views, and swapping `z1` and `z2` leaves it unchanged.

    Args:
        temperature: tau > 0 (the paper's best for large batches is 0.1; 0.5 is its CIFAR-10 setting).
        name: loss name.
        **kwargs: `reduction` and `dtype`, as `keras.losses.Loss`.

    Call arguments:
        y_true: `z1`, `(N, D)` projections of the first views.
        y_pred: `z2`, `(N, D)` projections of the second views, example `k` in row `k` of both.
        sample_weight: optional `(N,)` weights, one per example (both of its views).

    Returns:
        The loss (a scalar with the default reduction; `(N,)` with `reduction=None`).

    Example:
    >>> loss = keras_nn.losses.NTXent(temperature=0.5)
    >>> value = loss(projections_of_view1, projections_of_view2)

    References:
        Chen, Kornblith, Norouzi & Hinton, "A Simple Framework for Contrastive Learning of Visual
        Representations", ICML 2020, https://arxiv.org/abs/2002.05709 (section 2.1, eq. 1, Algorithm 1).
    """

    def __init__(self, temperature=0.5, name="nt_xent", **kwargs):
        if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not temperature > 0:
            raise ConfigError(f"NT-Xent temperature={temperature!r} must be a positive number, e.g. 0.5")
        super().__init__(name=name, **kwargs)
        self.temperature = float(temperature)

    def logits(self, z1, z2):
        """The `(2N, 2N)` float32 logits (cosine similarity / temperature, self-similarity masked out) and the
        `(2N,)` index of each view's positive: views `0..N-1` are `z1`, `N..2N-1` are `z2`."""
        z1 = ops.cast(z1, "float32")
        z2 = ops.cast(z2, "float32")
        check_views(z1, z2)
        count = ops.shape(z1)[0]
        views = ops.concatenate([z1, z2], axis=0)
        views = views / ops.maximum(ops.norm(views, axis=-1, keepdims=True), 1e-12)
        logits = ops.matmul(views, ops.transpose(views)) / self.temperature
        logits = logits + SELF_SIMILARITY_MASK * ops.eye(2 * count, dtype="float32")
        index = ops.arange(count, dtype="int32")
        positives = ops.concatenate([index + count, index], axis=0)
        return logits, positives

    def call(self, y_true, y_pred):
        logits, positives = self.logits(y_true, y_pred)
        log_probabilities = ops.log_softmax(logits, axis=-1)
        per_view = -ops.squeeze(ops.take_along_axis(log_probabilities, ops.expand_dims(positives, -1), axis=-1), -1)
        first, second = ops.split(per_view, 2, axis=0)
        return (first + second) / 2.0

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


def check_views(z1, z2):
    """Raises `ShapeError` for views of different shapes, not `(N, D)`, or with fewer than 2 examples (no
    negatives), where the shapes are known when traced."""
    if len(z1.shape) != 2 or tuple(z1.shape) != tuple(z2.shape):
        raise ShapeError(
            f"NT-Xent takes two (N, D) projections of the same shape; got {tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    if z1.shape[0] is not None and z1.shape[0] < 2:
        raise ShapeError(
            f"NT-Xent got a batch of {z1.shape[0]}: it needs at least 2 examples per batch for negatives; set "
            "data.batch_size >= 2"
        )
