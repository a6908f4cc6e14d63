"""Reusable layers, a file per layer: rnn/ (cells, recurrent layers, Bidirectional), conv/ (convolutional
blocks), attention/ (masks, dot-product, multi-head, Bahdanau, Luong), transformer/ (encoder and decoder
blocks, the tanh-approximate GELU of BERT and GPT-2), position/ (position encodings), vision/ (patches and tokens of a Vision Transformer), regularization/
(stochastic depth), embedding/ (the tied input/output token embedding), energy/ (the restricted Boltzmann machine), detection/ (YOLO head, grid decoder, non-maximum suppression, box utilities). Import them from here: `keras_nn.layers.LSTM`."""

from keras_nn.layers.attention.bahdanau import BahdanauAttention as BahdanauAttention
from keras_nn.layers.attention.luong import LuongAttention as LuongAttention
from keras_nn.layers.attention.masks import make_causal_mask as make_causal_mask
from keras_nn.layers.attention.masks import make_padding_mask as make_padding_mask
from keras_nn.layers.attention.masks import masked_softmax as masked_softmax
from keras_nn.layers.attention.masks import merge_masks as merge_masks
from keras_nn.layers.attention.multi_head import MultiHeadAttention as MultiHeadAttention
from keras_nn.layers.attention.scaled_dot_product import (
    ScaledDotProductAttention as ScaledDotProductAttention,
)
from keras_nn.layers.conv.bottleneck import BottleneckBlock as BottleneckBlock
from keras_nn.layers.conv.conv_bn_act import ConvBNAct as ConvBNAct
from keras_nn.layers.conv.depthwise import DepthwiseSeparableConv as DepthwiseSeparableConv
from keras_nn.layers.conv.inception import InceptionBlock as InceptionBlock
from keras_nn.layers.conv.residual import ResidualBlock as ResidualBlock
from keras_nn.layers.detection.boxes import box_iou as box_iou
from keras_nn.layers.detection.boxes import center_to_corners as center_to_corners
from keras_nn.layers.detection.boxes import corners_to_center as corners_to_center
from keras_nn.layers.detection.non_max_suppression import NonMaxSuppression as NonMaxSuppression
from keras_nn.layers.detection.yolo_decoder import YoloDecoder as YoloDecoder
from keras_nn.layers.detection.yolo_head import YoloHead as YoloHead
from keras_nn.layers.embedding.tied_embedding import TiedEmbedding as TiedEmbedding
from keras_nn.layers.energy.rbm import RBM as RBM
from keras_nn.layers.position.embedding import PositionEmbedding as PositionEmbedding
from keras_nn.layers.position.patch_position_embedding import PatchPositionEmbedding as PatchPositionEmbedding
from keras_nn.layers.position.patch_position_embedding import (
    resample_position_embedding as resample_position_embedding,
)
from keras_nn.layers.position.sinusoidal import SinusoidalPositionEncoding as SinusoidalPositionEncoding
from keras_nn.layers.regularization.drop_path import DropPath as DropPath
from keras_nn.layers.rnn.bidirectional import Bidirectional as Bidirectional
from keras_nn.layers.rnn.gru import GRU as GRU
from keras_nn.layers.rnn.gru import GRUCell as GRUCell
from keras_nn.layers.rnn.lstm import LSTM as LSTM
from keras_nn.layers.rnn.lstm import LSTMCell as LSTMCell
from keras_nn.layers.rnn.simple_rnn import SimpleRNN as SimpleRNN
from keras_nn.layers.rnn.simple_rnn import SimpleRNNCell as SimpleRNNCell
from keras_nn.layers.rnn.stacked import stacked_rnn as stacked_rnn
from keras_nn.layers.transformer.decoder_block import TransformerDecoderBlock as TransformerDecoderBlock
from keras_nn.layers.transformer.encoder_block import TransformerEncoderBlock as TransformerEncoderBlock
from keras_nn.layers.transformer.gelu import gelu_approximate as gelu_approximate
from keras_nn.layers.vision.class_token import ClassToken as ClassToken
from keras_nn.layers.vision.patch_embedding import PatchEmbedding as PatchEmbedding
from keras_nn.layers.vision.token_pooling import TokenPooling as TokenPooling
