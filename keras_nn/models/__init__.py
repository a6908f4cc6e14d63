"""Model families, one file each; importing this package registers every named configuration."""

from keras_nn.models.base import FunctionalModel
from keras_nn.models.recurrent_classifier import RecurrentClassifier
from keras_nn.models.registry import create_model, get_model_entry, list_models, register_model
from keras_nn.models.simple_cnn import SimpleCNN

__all__ = [
    "FunctionalModel",
    "RecurrentClassifier",
    "SimpleCNN",
    "create_model",
    "get_model_entry",
    "list_models",
    "register_model",
]
