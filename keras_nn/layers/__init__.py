"""Reusable layers, a file per family (attention, positional, transformer, conv_blocks, recurrent, ...)."""

from keras_nn.layers.conv_blocks import BottleneckBlock as BottleneckBlock
from keras_nn.layers.conv_blocks import ConvBNAct as ConvBNAct
from keras_nn.layers.conv_blocks import DepthwiseSeparableConv as DepthwiseSeparableConv
from keras_nn.layers.conv_blocks import InceptionBlock as InceptionBlock
from keras_nn.layers.conv_blocks import ResidualBlock as ResidualBlock
from keras_nn.layers.recurrent import GRU as GRU
from keras_nn.layers.recurrent import LSTM as LSTM
from keras_nn.layers.recurrent import Bidirectional as Bidirectional
from keras_nn.layers.recurrent import GRUCell as GRUCell
from keras_nn.layers.recurrent import LSTMCell as LSTMCell
from keras_nn.layers.recurrent import SimpleRNN as SimpleRNN
from keras_nn.layers.recurrent import SimpleRNNCell as SimpleRNNCell
from keras_nn.layers.recurrent import stacked_rnn as stacked_rnn
from keras_nn.layers.recurrent_attention import BahdanauAttention as BahdanauAttention
from keras_nn.layers.recurrent_attention import LuongAttention as LuongAttention
