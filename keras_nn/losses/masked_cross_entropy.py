"""`MaskedSparseCategoricalCrossentropy`: label-smoothed sparse cross-entropy that ignores padding."""

import keras
from keras import ops

# Keras has no public setter for the mask that `Loss.__call__` reads (it works on every backend).
from keras.src.backend.common.masking import set_keras_mask

from keras_nn.errors import ConfigError


@keras.saving.register_keras_serializable(package="keras_nn")
class MaskedSparseCategoricalCrossentropy(keras.losses.Loss):
    """Cross-entropy of integer targets with label smoothing, averaged over the tokens that are not padding.

    Label smoothing trains against `(1 - epsilon) * one_hot(y) + epsilon / V` instead of `one_hot(y)`: the
    model is penalized for becoming too sure, which hurts perplexity but improves accuracy and BLEU (Vaswani
    et al. 2017, section 5.4, epsilon = 0.1). Positions whose target is `pad_id` contribute nothing, and the
    mean is over the real tokens only (a batch of short sentences weighs each token as much as a batch of long
    ones). Per token the value equals `keras.losses.CategoricalCrossentropy(label_smoothing=epsilon)` on
    one-hot targets (tested).

    Args:
        label_smoothing: epsilon in [0, 1).
        pad_id: the target id that marks padding (None: no position is ignored).
        from_logits: whether predictions are logits (True) or probabilities.
        reduction, name, dtype: as `keras.losses.Loss`; with the default `"sum_over_batch_size"` the result is
            the mean over the non-padding tokens (and `sample_weight`, if given, weights them).

    Call arguments:
        y_true: `[batch, T]` integer targets.
        y_pred: `[batch, T, V]` logits or probabilities.
        sample_weight: optional weights broadcastable to `[batch, T]`.

    Example:
    >>> loss = keras_nn.losses.MaskedSparseCategoricalCrossentropy(label_smoothing=0.1, pad_id=0)
    >>> model.compile(optimizer="adam", loss=loss)

    References:
        Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016 (label
        smoothing), https://arxiv.org/abs/1512.00567; Vaswani et al., "Attention Is All You Need", NeurIPS
        2017.
    """

    def __init__(
        self,
        label_smoothing=0.1,
        pad_id=0,
        from_logits=True,
        reduction="sum_over_batch_size",
        name="masked_sparse_categorical_crossentropy",
        dtype=None,
    ):
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ConfigError(f"label_smoothing={label_smoothing!r} must be in [0, 1)")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.label_smoothing = float(label_smoothing)
        self.pad_id = pad_id
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        labels = ops.cast(y_true, "int32")
        log_probs = (
            ops.log_softmax(y_pred, axis=-1) if self.from_logits else ops.log(ops.clip(y_pred, 1e-7, 1.0))
        )
        true_log_prob = ops.squeeze(ops.take_along_axis(log_probs, ops.expand_dims(labels, -1), axis=-1), -1)
        # -sum(target * log p) with target = (1 - e) one_hot + e / V, without building the one-hot tensor.
        losses = -(1.0 - self.label_smoothing) * true_log_prob
        if self.label_smoothing:
            losses -= self.label_smoothing * ops.mean(log_probs, axis=-1)
        if self.pad_id is not None:
            # A Keras mask on the per-token losses: Loss.__call__ then averages over the unmasked tokens only.
            set_keras_mask(losses, ops.not_equal(labels, self.pad_id))
        return losses

    def get_config(self):
        return {
            **super().get_config(),
            "label_smoothing": self.label_smoothing,
            "pad_id": self.pad_id,
            "from_logits": self.from_logits,
        }
