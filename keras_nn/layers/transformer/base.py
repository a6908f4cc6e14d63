"""What the Transformer encoder and decoder blocks share (Vaswani et al. 2017): attention and a position-wise
feed-forward network, each wrapped in a residual connection with layer normalization and dropout.

Two placements of the normalization:
- post-LN (`norm_first=False`, the paper and BERT): `x = LayerNorm(x + Dropout(sublayer(x)))`;
- pre-LN (`norm_first=True`, GPT-2): `x = x + Dropout(sublayer(LayerNorm(x)))`, which trains without warmup
  more easily (Xiong et al. 2020); a model built from pre-LN blocks normalizes the output of its last block.
"""

import keras
from keras import ops

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers.attention.masks import keras_mask, merge_masks
from keras_nn.layers.attention.multi_head import MultiHeadAttention
from keras_nn.layers.regularization.drop_path import DropPath
from keras_nn.layers.validation import check_positive_int, check_rate


class TransformerBlock(keras.layers.Layer):
    """The base of the encoder and decoder blocks: arguments, the feed-forward sublayer, the
    residual/normalization wrapping.

    Args:
        num_heads, intermediate_dim, dropout, activation, norm_first, layer_norm_epsilon, key_dim,
            drop_path_rate, kernel_initializer, bias_initializer, normalize_first: as `TransformerEncoderBlock`.
        **kwargs: `name`, `dtype`, ...
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.1,
        activation="relu",
        norm_first=None,
        layer_norm_epsilon=1e-5,
        key_dim=None,
        drop_path_rate=0.0,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        normalize_first=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        if (
            norm_first is not None
            and normalize_first is not None
            and bool(norm_first) != bool(normalize_first)
        ):
            raise ConfigError(
                f"{owner}: norm_first={norm_first!r} and normalize_first={normalize_first!r} (its keras-hub "
                "name) disagree; give one of them"
            )
        norm_first = normalize_first if norm_first is None else norm_first
        check_positive_int(owner, "num_heads", num_heads)
        check_positive_int(owner, "intermediate_dim", intermediate_dim)
        if key_dim is not None:
            check_positive_int(owner, "key_dim", key_dim)
        check_rate(owner, "dropout", dropout)
        check_rate(owner, "drop_path_rate", drop_path_rate)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = float(dropout)
        self.activation = keras.activations.get(activation)
        self.norm_first = bool(norm_first)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.key_dim = key_dim
        self.drop_path_rate = float(drop_path_rate)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        # Masks flow as in keras-hub's blocks: the output carries the input's Keras mask.
        self.supports_masking = True
        # Stochastic depth on both residual branches (ViT/DeiT). Made only when used: its seed generator draws
        # from the global random state, which would change every later initializer's values.
        self.drop_path = (
            DropPath(self.drop_path_rate, dtype=self.dtype_policy, name="drop_path")
            if self.drop_path_rate
            else None
        )

    @property
    def normalize_first(self):
        """keras-hub's name of `norm_first`."""
        return self.norm_first

    def _initializers(self):
        # Fresh instances per sublayer, as keras-hub clones them: a shared seeded instance repeats its values.
        return {
            "kernel_initializer": _clone(self.kernel_initializer),
            "bias_initializer": _clone(self.bias_initializer),
        }

    def _head_size(self, width):
        if self.key_dim is not None:
            return self.key_dim
        if width % self.num_heads:
            raise ConfigError(
                f"{type(self).__name__}: the model width {width} is not divisible by "
                f"num_heads={self.num_heads}; change one of them or give key_dim"
            )
        return width // self.num_heads

    def _attention(self, width, name):
        return MultiHeadAttention(
            self.num_heads,
            self._head_size(width),
            dropout=self.dropout,
            dtype=self.dtype_policy,
            name=name,
            **self._initializers(),
        )

    def _norm(self, name):
        return keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
        )

    def _dropout(self, name):
        return keras.layers.Dropout(self.dropout, dtype=self.dtype_policy, name=name)

    def _build_feedforward(self, inputs_shape):
        width = inputs_shape[-1]
        self.intermediate_dense = keras.layers.Dense(
            self.intermediate_dim,
            activation=self.activation,
            dtype=self.dtype_policy,
            name="intermediate_dense",
            **self._initializers(),
        )
        self.intermediate_dense.build(inputs_shape)
        self.output_dense = keras.layers.Dense(
            width, dtype=self.dtype_policy, name="output_dense", **self._initializers()
        )
        self.output_dense.build((*inputs_shape[:-1], self.intermediate_dim))
        self.feedforward_dropout = self._dropout("feedforward_dropout")
        self.feedforward_norm = self._norm("feedforward_norm")
        self.feedforward_norm.build(inputs_shape)

    def _residual(self, x, norm, dropout, sublayer, training):
        """`norm(x + drop_path(dropout(sublayer(x))))` (post-LN) or `x + drop_path(dropout(sublayer(norm(x))))`
        (pre-LN).

        `sublayer` returns its output or a tuple whose first item is the output (the rest is passed back)."""
        outputs = sublayer(norm(x) if self.norm_first else x)
        output, extra = (outputs[0], tuple(outputs[1:])) if isinstance(outputs, tuple) else (outputs, ())
        output = dropout(output, training=training)
        if self.drop_path is not None:
            output = self.drop_path(output, training=training)
        x = ops.add(x, output)
        return (x if self.norm_first else norm(x)), extra

    def _feedforward(self, x, training):
        x, _ = self._residual(
            x,
            self.feedforward_norm,
            self.feedforward_dropout,
            lambda h: self.output_dense(self.intermediate_dense(h)),
            training,
        )
        return x

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "activation": keras.activations.serialize(self.activation),
            "norm_first": self.norm_first,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "key_dim": self.key_dim,
            "drop_path_rate": self.drop_path_rate,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }


def _clone(initializer):
    return initializer.__class__.from_config(initializer.get_config())


def block_attention_mask(sequence, padding_mask=None, attention_mask=None):
    """keras-hub's `merge_padding_and_attention_mask`: the key mask of a block's attention, `[B, 1, T]` and/or
    `[B, Tq, T]` booleans, or None. `padding_mask` replaces the Keras mask of `sequence` when both exist."""
    if padding_mask is None:
        padding_mask = keras_mask(sequence)
    return merge_masks(padding_mask=padding_mask, attention_mask=attention_mask)


def check_block_inputs(owner, shape):
    """Raises `ShapeError` unless `shape` is `[batch, length, width]` with a known width."""
    if len(shape) != 3 or shape[-1] is None:
        raise ShapeError(
            f"{owner}: inputs must be [batch, length, width] with a known width; got shape {shape}"
        )
