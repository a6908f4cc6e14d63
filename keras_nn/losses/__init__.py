"""Losses that Keras does not ship, one per file; importing this package registers them for `.keras` files."""

from keras_nn.losses.distillation import DistillationLoss
from keras_nn.losses.masked_cross_entropy import MaskedSparseCategoricalCrossentropy
from keras_nn.losses.ntxent import NTXent
from keras_nn.losses.yolo import YoloLoss

__all__ = ["DistillationLoss", "MaskedSparseCategoricalCrossentropy", "NTXent", "YoloLoss"]
