"""keras-nn: classic and modern architectures for Keras 3 that train well, scale out and ship to the edge.

>>> import keras_nn
>>> keras_nn.list_models()
>>> model = keras_nn.create_model("simple_cnn", num_classes=10, input_shape=(8, 8, 1))
"""

# losses and schedules register their serializable classes, so saved models compiled with them reload.
from keras_nn import errors, layers, losses, models, samplers, schedules
from keras_nn.models import create_model, list_models
from keras_nn.version import __version__

__all__ = ["__version__", "create_model", "errors", "layers", "list_models", "losses", "models", "samplers", "schedules"]
