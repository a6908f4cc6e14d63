"""Model families, one file each; importing this package registers every named configuration."""

from keras_nn.models.alexnet import AlexNet
from keras_nn.models.base import FunctionalModel
from keras_nn.models.bert import BertClassifier, BertEncoder, BertMaskedLM
from keras_nn.models.dbn import DeepBeliefNetwork
from keras_nn.models.dcgan import DCGAN, DCGANDiscriminator, DCGANGenerator
from keras_nn.models.deep_autoencoder import DeepAutoencoder
from keras_nn.models.distiller import Distiller
from keras_nn.models.forecaster import Forecaster
from keras_nn.models.gpt import GPTDecoder
from keras_nn.models.inception import InceptionV1
from keras_nn.models.language_model import RecurrentLanguageModel
from keras_nn.models.lenet import LeNet5
from keras_nn.models.mobilenet import MobileNetV2
from keras_nn.models.rbm import RestrictedBoltzmannMachine
from keras_nn.models.recurrent_classifier import RecurrentClassifier
from keras_nn.models.registry import create_model, get_model_entry, list_models, register_model
from keras_nn.models.resnet import ResNet
from keras_nn.models.seq2seq import Seq2SeqAttention
from keras_nn.models.sequence_tagger import SequenceTagger
from keras_nn.models.simclr import SimCLR
from keras_nn.models.simple_cnn import SimpleCNN
from keras_nn.models.transformer import TransformerTranslator
from keras_nn.models.vgg import VGG
from keras_nn.models.vit import VisionTransformer
from keras_nn.models.yolo import YOLO

__all__ = [
    "AlexNet",
    "BertClassifier",
    "BertEncoder",
    "BertMaskedLM",
    "DCGAN",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "DeepAutoencoder",
    "DeepBeliefNetwork",
    "Distiller",
    "Forecaster",
    "FunctionalModel",
    "GPTDecoder",
    "InceptionV1",
    "LeNet5",
    "MobileNetV2",
    "RecurrentClassifier",
    "RecurrentLanguageModel",
    "RestrictedBoltzmannMachine",
    "ResNet",
    "Seq2SeqAttention",
    "SimCLR",
    "SequenceTagger",
    "SimpleCNN",
    "TransformerTranslator",
    "VGG",
    "VisionTransformer",
    "YOLO",
    "create_model",
    "get_model_entry",
    "list_models",
    "register_model",
]
