"""Losses that Keras does not ship, one per file; importing this package registers them for `.keras` files."""

from keras_nn.losses.distillation import DistillationLoss
from keras_nn.losses.masked_cross_entropy import MaskedSparseCategoricalCrossentropy

__all__ = ["DistillationLoss", "MaskedSparseCategoricalCrossentropy"]
