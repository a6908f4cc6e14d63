"""Transformer encoder and decoder blocks (Vaswani et al. 2017): attention and a position-wise feed-forward
network, each wrapped in a residual connection with layer normalization and dropout.

Two placements of the normalization:
- post-LN (`norm_first=False`, the paper and BERT): `x = LayerNorm(x + Dropout(sublayer(x)))`;
- pre-LN (`norm_first=True`, GPT-2): `x = x + Dropout(sublayer(LayerNorm(x)))`, which trains without warmup
  more easily (Xiong et al. 2020); a model built from pre-LN blocks normalizes the output of its last block.
"""

import keras
from keras import ops

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers.attention import MultiHeadAttention, merge_masks


class _TransformerBlock(keras.layers.Layer):
    """What both blocks share: arguments, the feed-forward sublayer, the residual/normalization wrapping."""

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.1,
        activation="relu",
        norm_first=False,
        layer_norm_epsilon=1e-5,
        key_dim=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        for name, value in (
            ("num_heads", num_heads),
            ("intermediate_dim", intermediate_dim),
            ("key_dim", key_dim),
        ):
            if value is None and name == "key_dim":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{owner}: {name}={value!r} must be a positive integer")
        if not 0.0 <= float(dropout) < 1.0:
            raise ConfigError(f"{owner}: dropout={dropout!r} must be in [0, 1)")
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = float(dropout)
        self.activation = keras.activations.get(activation)
        self.norm_first = bool(norm_first)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.key_dim = key_dim

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
            self.num_heads, self._head_size(width), dropout=self.dropout, dtype=self.dtype_policy, name=name
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
        )
        self.intermediate_dense.build(inputs_shape)
        self.output_dense = keras.layers.Dense(width, dtype=self.dtype_policy, name="output_dense")
        self.output_dense.build((*inputs_shape[:-1], self.intermediate_dim))
        self.feedforward_dropout = self._dropout("feedforward_dropout")
        self.feedforward_norm = self._norm("feedforward_norm")
        self.feedforward_norm.build(inputs_shape)

    def _residual(self, x, norm, dropout, sublayer, training):
        """`norm(x + dropout(sublayer(x)))` (post-LN) or `x + dropout(sublayer(norm(x)))` (pre-LN).

        `sublayer` returns its output or a tuple whose first item is the output (the rest is passed back)."""
        outputs = sublayer(norm(x) if self.norm_first else x)
        output, extra = (outputs[0], tuple(outputs[1:])) if isinstance(outputs, tuple) else (outputs, ())
        x = ops.add(x, dropout(output, training=training))
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
        }


def _check_inputs(owner, shape):
    if len(shape) != 3 or shape[-1] is None:
        raise ShapeError(
            f"{owner}: inputs must be [batch, length, width] with a known width; got shape {shape}"
        )


@keras.saving.register_keras_serializable(package="keras_nn")
class TransformerEncoderBlock(_TransformerBlock):
    """One encoder layer of the Transformer: multi-head self-attention, then a position-wise feed-forward
    network `activation(x W1 + b1) W2 + b2`, each with a residual connection, layer normalization and dropout.

    Args:
        num_heads: attention heads.
        intermediate_dim: width of the feed-forward hidden layer (`d_ff`, 2048 in the base model).
        dropout: dropout on each sublayer's output (before the residual sum) and on the attention weights.
        activation: the feed-forward activation (`"relu"` in the paper, `"gelu"` in BERT and GPT-2).
        norm_first: False for post-LN (paper, BERT), True for pre-LN (GPT-2).
        layer_norm_epsilon: epsilon of the layer normalizations.
        key_dim: size of each head; default `width / num_heads`.
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        inputs: `[batch, T, d_model]`.
        padding_mask: optional `[batch, T]` booleans, True at real tokens (padded keys get no attention).
        attention_mask: optional `[batch, T, T]` booleans, True where position `i` may attend to `j`.
        return_attention_scores: also return the self-attention weights `[batch, heads, T, T]`.
        training: dropout on or off.

    Returns:
        `[batch, T, d_model]`, or `(outputs, scores)` with `return_attention_scores=True`.

    Example:
    >>> block = keras_nn.layers.TransformerEncoderBlock(num_heads=2, intermediate_dim=32)
    >>> block(np.zeros((2, 5, 16), "float32"), padding_mask=np.array([[1, 1, 1, 0, 0]] * 2, bool)).shape
    (2, 5, 16)

    References:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017, https://arxiv.org/abs/1706.03762.
        Xiong et al., "On Layer Normalization in the Transformer Architecture", ICML 2020 (pre-LN),
        https://arxiv.org/abs/2002.04745.
    """

    def build(self, inputs_shape):
        _check_inputs(type(self).__name__, inputs_shape)
        self.self_attention_layer = self._attention(inputs_shape[-1], "self_attention")
        self.self_attention_layer.build(inputs_shape, inputs_shape)
        self.self_attention_norm = self._norm("self_attention_norm")
        self.self_attention_norm.build(inputs_shape)
        self.self_attention_dropout = self._dropout("self_attention_dropout")
        self._build_feedforward(inputs_shape)

    def call(
        self, inputs, padding_mask=None, attention_mask=None, return_attention_scores=False, training=None
    ):
        mask = merge_masks(padding_mask=padding_mask, attention_mask=attention_mask)
        x, (scores,) = self._residual(
            inputs,
            self.self_attention_norm,
            self.self_attention_dropout,
            lambda h: self.self_attention_layer(
                h, h, attention_mask=mask, return_attention_scores=True, training=training
            ),
            training,
        )
        x = self._feedforward(x, training)
        return (x, scores) if return_attention_scores else x


@keras.saving.register_keras_serializable(package="keras_nn")
class TransformerDecoderBlock(_TransformerBlock):
    """One decoder layer of the Transformer: masked (causal) self-attention, attention over the encoder
    outputs (cross-attention) and a position-wise feed-forward network, each with a residual connection,
    layer normalization and dropout. With `cross_attention=False` it is a decoder-only (GPT) block.

    For step-by-step decoding both attentions take a key/value cache (keras-hub `TransformerDecoder` style):
    `self_attention_cache` `[batch, 2, max_length, heads, key_dim]` receives the keys and values of the
    current step(s) at `self_attention_cache_update_index` (the look-ahead mask then starts at that index),
    and `cross_attention_cache` holds the encoder keys and values projected once
    (`compute_cross_attention_cache`), so the encoder outputs are not needed at each step.

    Args:
        num_heads, intermediate_dim, dropout, activation, norm_first, layer_norm_epsilon, key_dim: as
            `TransformerEncoderBlock`.
        cross_attention: include the cross-attention sublayer (False: a GPT block).
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        decoder_inputs: `[batch, T, d_model]`.
        encoder_outputs: `[batch, S, d_enc]`; needed for cross-attention unless `cross_attention_cache` is
            given.
        decoder_padding_mask: optional `[batch, Tk]` booleans on the self-attention keys (`Tk = T`, or the
            cache length when caching).
        encoder_padding_mask: optional `[batch, S]` booleans, True at real source tokens.
        use_causal_mask: the look-ahead mask on self-attention (True for decoding).
        self_attention_cache, self_attention_cache_update_index: the self-attention cache and where the
            current steps go in it.
        cross_attention_cache: `[batch, 2, S, heads, key_dim]` precomputed encoder keys/values.
        return_attention_scores: also return the cross-attention weights `[batch, heads, T, S]` (the
            self-attention weights for a block without cross-attention).
        training: dropout on or off.

    Returns:
        `outputs [batch, T, d_model]`; with a cache `(outputs, self_attention_cache, cross_attention_cache)`
        (the caches updated, or as given; None where none was given); with `return_attention_scores=True` the
        scores come last: `(outputs, scores)` or `(outputs, self_cache, cross_cache, scores)`.

    Example:
    >>> block = keras_nn.layers.TransformerDecoderBlock(num_heads=2, intermediate_dim=32)
    >>> block(np.zeros((2, 4, 16), "float32"), np.zeros((2, 6, 16), "float32")).shape
    (2, 4, 16)

    References:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017, https://arxiv.org/abs/1706.03762.
        Radford et al., "Language Models are Unsupervised Multitask Learners" (GPT-2), 2019.
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.1,
        activation="relu",
        norm_first=False,
        layer_norm_epsilon=1e-5,
        key_dim=None,
        cross_attention=True,
        **kwargs,
    ):
        super().__init__(
            num_heads,
            intermediate_dim,
            dropout=dropout,
            activation=activation,
            norm_first=norm_first,
            layer_norm_epsilon=layer_norm_epsilon,
            key_dim=key_dim,
            **kwargs,
        )
        self.cross_attention = bool(cross_attention)

    def build(self, decoder_inputs_shape, encoder_outputs_shape=None):
        _check_inputs(type(self).__name__, decoder_inputs_shape)
        width = decoder_inputs_shape[-1]
        self.self_attention_layer = self._attention(width, "self_attention")
        self.self_attention_layer.build(decoder_inputs_shape, decoder_inputs_shape)
        self.self_attention_norm = self._norm("self_attention_norm")
        self.self_attention_norm.build(decoder_inputs_shape)
        self.self_attention_dropout = self._dropout("self_attention_dropout")
        if self.cross_attention:
            # Without encoder outputs at build time (a cache only), the encoder is taken to be as wide.
            encoder_outputs_shape = encoder_outputs_shape or decoder_inputs_shape
            self.cross_attention_layer = self._attention(width, "cross_attention")
            self.cross_attention_layer.build(decoder_inputs_shape, encoder_outputs_shape)
            self.cross_attention_norm = self._norm("cross_attention_norm")
            self.cross_attention_norm.build(decoder_inputs_shape)
            self.cross_attention_dropout = self._dropout("cross_attention_dropout")
        self._build_feedforward(decoder_inputs_shape)

    def compute_cross_attention_cache(self, encoder_outputs):
        """The encoder keys and values of this block, `[batch, 2, S, heads, key_dim]`, for cached decoding."""
        return self.cross_attention_layer.compute_cache(encoder_outputs)

    def empty_self_attention_cache(self, batch_size, max_length):
        """A zero self-attention cache `[batch, 2, max_length, heads, key_dim]` to decode into."""
        return self.self_attention_layer.empty_cache(batch_size, max_length)

    def call(
        self,
        decoder_inputs,
        encoder_outputs=None,
        decoder_padding_mask=None,
        encoder_padding_mask=None,
        use_causal_mask=True,
        self_attention_cache=None,
        self_attention_cache_update_index=None,
        cross_attention_cache=None,
        return_attention_scores=False,
        training=None,
    ):
        caching = self_attention_cache is not None or cross_attention_cache is not None

        def self_attend(h):
            return self.self_attention_layer(
                h,
                h,
                attention_mask=merge_masks(padding_mask=decoder_padding_mask),
                use_causal_mask=use_causal_mask,
                return_attention_scores=True,
                training=training,
                cache=self_attention_cache,
                cache_update_index=self_attention_cache_update_index,
            )

        x, extra = self._residual(
            decoder_inputs, self.self_attention_norm, self.self_attention_dropout, self_attend, training
        )
        new_self_cache = extra[0] if self_attention_cache is not None else None
        scores = extra[-1]

        if self.cross_attention:
            if encoder_outputs is None and cross_attention_cache is None:
                raise ConfigError(
                    "TransformerDecoderBlock with cross_attention=True needs encoder_outputs or a "
                    "cross_attention_cache; build it with cross_attention=False for a decoder-only (GPT) "
                    "block"
                )

            def cross_attend(h):
                return self.cross_attention_layer(
                    h,
                    encoder_outputs,
                    attention_mask=merge_masks(padding_mask=encoder_padding_mask),
                    return_attention_scores=True,
                    training=training,
                    cache=cross_attention_cache,
                )

            x, extra = self._residual(
                x, self.cross_attention_norm, self.cross_attention_dropout, cross_attend, training
            )
            scores = extra[-1]
        x = self._feedforward(x, training)
        outputs = (x,) + ((new_self_cache, cross_attention_cache) if caching else ())
        outputs += (scores,) if return_attention_scores else ()
        return outputs[0] if len(outputs) == 1 else outputs

    def get_config(self):
        return {**super().get_config(), "cross_attention": self.cross_attention}
