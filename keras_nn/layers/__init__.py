"""Reusable layers, a file per family (attention, positional, transformer, conv_blocks, recurrent, ...)."""

from keras_nn.layers.attention import MultiHeadAttention as MultiHeadAttention
from keras_nn.layers.attention import ScaledDotProductAttention as ScaledDotProductAttention
from keras_nn.layers.attention import make_causal_mask as make_causal_mask
from keras_nn.layers.attention import make_padding_mask as make_padding_mask
from keras_nn.layers.attention import masked_softmax as masked_softmax
from keras_nn.layers.attention import merge_masks as merge_masks
from keras_nn.layers.conv_blocks import BottleneckBlock as BottleneckBlock
from keras_nn.layers.conv_blocks import ConvBNAct as ConvBNAct
from keras_nn.layers.conv_blocks import DepthwiseSeparableConv as DepthwiseSeparableConv
from keras_nn.layers.conv_blocks import InceptionBlock as InceptionBlock
from keras_nn.layers.conv_blocks import ResidualBlock as ResidualBlock
from keras_nn.layers.positional import PositionEmbedding as PositionEmbedding
from keras_nn.layers.positional import SinusoidalPositionEncoding as SinusoidalPositionEncoding
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
from keras_nn.layers.transformer import TransformerDecoderBlock as TransformerDecoderBlock
from keras_nn.layers.transformer import TransformerEncoderBlock as TransformerEncoderBlock
