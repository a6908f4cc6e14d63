"""`TransformerDecoderBlock`: one decoder layer of the Transformer (causal self-attention, cross-attention,
feed-forward), or a decoder-only (GPT) block, with key/value caches for step-by-step decoding."""

import keras

from keras_nn.errors import ConfigError
from keras_nn.layers.attention.masks import hidden_keras_masks, keras_mask, merge_masks
from keras_nn.layers.transformer.base import TransformerBlock, block_attention_mask, check_block_inputs


@keras.saving.register_keras_serializable(package="keras_nn")
class TransformerDecoderBlock(TransformerBlock):
    """One decoder layer of the Transformer: masked (causal) self-attention, attention over the encoder
    outputs (cross-attention) and a position-wise feed-forward network, each with a residual connection,
    layer normalization and dropout. With `cross_attention=False` it is a decoder-only (GPT) block.

    For step-by-step decoding both attentions take a key/value cache (keras-hub `TransformerDecoder` style):
    `self_attention_cache` `[batch, 2, max_length, heads, key_dim]` receives the keys and values of the
    current step(s) at `self_attention_cache_update_index` (the look-ahead mask then starts at that index),
    and `cross_attention_cache` holds the encoder keys and values projected once
    (`compute_cross_attention_cache`), so the encoder outputs are not needed at each step.

    It takes keras-hub `TransformerDecoder`'s arguments (`normalize_first` is `norm_first`; `num_heads` and
    `intermediate_dim` come in keras-nn's order when positional; a keras-hub config, with its build shapes,
    loads) and treats Keras masks exactly as it does: the Keras mask of `decoder_sequence` (or
    `decoder_padding_mask`) hides padded keys from self-attention, that of `encoder_sequence` (or
    `encoder_padding_mask`) hides padded source tokens from cross-attention, queries are not masked, and the
    output carries the decoder's mask. With the same weights the outputs equal keras-hub's (tested).

    Args:
        num_heads, intermediate_dim, dropout, activation, norm_first, layer_norm_epsilon, key_dim,
            drop_path_rate, kernel_initializer, bias_initializer, normalize_first: as
            `TransformerEncoderBlock`.
        cross_attention: include the cross-attention sublayer (False: a GPT block).
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        decoder_sequence: `[batch, T, d_model]`, optionally with a Keras mask.
        encoder_sequence: `[batch, S, d_enc]`, optionally with a Keras mask; needed for cross-attention
            unless a precomputed `cross_attention_cache` is given.
        decoder_padding_mask: optional `[batch, Tk]` booleans on the self-attention keys (`Tk = T`, or the
            cache length when caching); default the Keras mask of `decoder_sequence` (not used with a cache).
        decoder_attention_mask: optional `[batch, T, Tk]` booleans, True where step `i` may see key `j`.
        encoder_padding_mask: optional `[batch, S]` booleans, True at real source tokens; default the Keras
            mask of `encoder_sequence`.
        encoder_attention_mask: optional `[batch, T, S]` booleans for cross-attention.
        self_attention_cache, self_attention_cache_update_index: the self-attention cache and where the
            current steps go in it.
        cross_attention_cache: `[batch, 2, S, heads, key_dim]` encoder keys/values (from
            `compute_cross_attention_cache`).
        cross_attention_cache_update_index: None to use `cross_attention_cache` as it is; an index (0) to
            write the keys/values of `encoder_sequence` into it there (keras-hub's argument).
        use_causal_mask: the look-ahead mask on self-attention (True for decoding).
        training: dropout on or off.
        return_attention_scores: also return the cross-attention weights `[batch, heads, T, S]` (the
            self-attention weights for a block without cross-attention).

    Returns:
        `outputs [batch, T, d_model]`; with a cache `(outputs, self_attention_cache, cross_attention_cache)`
        (the caches updated, or as given; None where none was given: keras-hub leaves out the cross cache
        of a block without cross-attention); with `return_attention_scores=True` the scores come last:
        `(outputs, scores)` or `(outputs, self_cache, cross_cache, scores)`.

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
        norm_first=None,
        layer_norm_epsilon=1e-5,
        key_dim=None,
        drop_path_rate=0.0,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        normalize_first=None,
        cross_attention=True,
        **kwargs,
    ):
        # keras-hub's config records the build shapes; its layer has cross-attention when built with an encoder.
        decoder_sequence_shape = kwargs.pop("decoder_sequence_shape", None)
        encoder_sequence_shape = kwargs.pop("encoder_sequence_shape", None)
        if decoder_sequence_shape is not None:
            cross_attention = encoder_sequence_shape is not None
        super().__init__(
            num_heads,
            intermediate_dim,
            dropout=dropout,
            activation=activation,
            norm_first=norm_first,
            layer_norm_epsilon=layer_norm_epsilon,
            key_dim=key_dim,
            drop_path_rate=drop_path_rate,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            normalize_first=normalize_first,
            **kwargs,
        )
        self.cross_attention = bool(cross_attention)
        if decoder_sequence_shape is not None:
            self.build(decoder_sequence_shape, encoder_sequence_shape)

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        check_block_inputs(type(self).__name__, decoder_sequence_shape)
        width = decoder_sequence_shape[-1]
        self.self_attention_layer = self._attention(width, "self_attention")
        self.self_attention_layer.build(decoder_sequence_shape, decoder_sequence_shape)
        self.self_attention_norm = self._norm("self_attention_norm")
        self.self_attention_norm.build(decoder_sequence_shape)
        self.self_attention_dropout = self._dropout("self_attention_dropout")
        if self.cross_attention:
            # Without encoder outputs at build time (a cache only), the encoder is taken to be as wide.
            encoder_sequence_shape = encoder_sequence_shape or decoder_sequence_shape
            self.cross_attention_layer = self._attention(width, "cross_attention")
            self.cross_attention_layer.build(decoder_sequence_shape, encoder_sequence_shape)
            self.cross_attention_norm = self._norm("cross_attention_norm")
            self.cross_attention_norm.build(decoder_sequence_shape)
            self.cross_attention_dropout = self._dropout("cross_attention_dropout")
        self._build_feedforward(decoder_sequence_shape)

    def compute_cross_attention_cache(self, encoder_outputs):
        """The encoder keys and values of this block, `[batch, 2, S, heads, key_dim]`, for cached decoding."""
        return self.cross_attention_layer.compute_cache(encoder_outputs)

    def empty_self_attention_cache(self, batch_size, max_length):
        """A zero self-attention cache `[batch, 2, max_length, heads, key_dim]` to decode into."""
        return self.self_attention_layer.empty_cache(batch_size, max_length)

    def call(
        self,
        decoder_sequence,
        encoder_sequence=None,
        decoder_padding_mask=None,
        decoder_attention_mask=None,
        encoder_padding_mask=None,
        encoder_attention_mask=None,
        self_attention_cache=None,
        self_attention_cache_update_index=None,
        cross_attention_cache=None,
        cross_attention_cache_update_index=None,
        use_causal_mask=True,
        training=None,
        return_attention_scores=False,
    ):
        if not self.cross_attention and (encoder_sequence is not None or cross_attention_cache is not None):
            # keras-hub's TransformerDecoder raises too: dropping the encoder silently would hide a wrong model.
            raise ConfigError(
                f"TransformerDecoderBlock {self.name!r} was built with cross_attention=False but was called with "
                "encoder outputs or a cross-attention cache; build it with cross_attention=True, or call it with "
                "the decoder inputs alone"
            )
        if (
            self.cross_attention
            and encoder_sequence is None
            and (cross_attention_cache is None or cross_attention_cache_update_index is not None)
        ):
            raise ConfigError(
                "TransformerDecoderBlock with cross_attention=True needs encoder_sequence (or a precomputed "
                "cross_attention_cache with cross_attention_cache_update_index=None); build it with "
                "cross_attention=False for a decoder-only (GPT) block"
            )
        caching = self_attention_cache is not None or cross_attention_cache is not None
        # The Keras mask of the decoder inputs covers this call's steps, not a cache: with a cache the caller
        # masks the cache positions with decoder_padding_mask.
        self_mask = merge_masks(
            padding_mask=decoder_padding_mask
            if decoder_padding_mask is not None or self_attention_cache is not None
            else keras_mask(decoder_sequence),
            attention_mask=decoder_attention_mask,
        )

        def self_attend(h):
            # keras-hub's decoder attends with its own masks alone (CachedMultiHeadAttention reads no Keras
            # masks): the queries of padded steps are not masked.
            with hidden_keras_masks(h):
                return self.self_attention_layer(
                    h,
                    h,
                    attention_mask=self_mask,
                    use_causal_mask=use_causal_mask,
                    return_attention_scores=True,
                    training=training,
                    cache=self_attention_cache,
                    cache_update_index=self_attention_cache_update_index,
                )

        x, extra = self._residual(
            decoder_sequence, self.self_attention_norm, self.self_attention_dropout, self_attend, training
        )
        new_self_cache = extra[0] if self_attention_cache is not None else None
        scores = extra[-1]

        if self.cross_attention:
            cross_mask = block_attention_mask(encoder_sequence, encoder_padding_mask, encoder_attention_mask)

            def cross_attend(h):
                with hidden_keras_masks(h, encoder_sequence):
                    return self.cross_attention_layer(
                        h,
                        encoder_sequence,
                        attention_mask=cross_mask,
                        return_attention_scores=True,
                        training=training,
                        cache=cross_attention_cache,
                        cache_update_index=cross_attention_cache_update_index,
                    )

            x, extra = self._residual(
                x, self.cross_attention_norm, self.cross_attention_dropout, cross_attend, training
            )
            if cross_attention_cache is not None:
                cross_attention_cache = extra[0]
            scores = extra[-1]
        x = self._feedforward(x, training)
        outputs = (x,) + ((new_self_cache, cross_attention_cache) if caching else ())
        outputs += (scores,) if return_attention_scores else ()
        return outputs[0] if len(outputs) == 1 else outputs

    def get_config(self):
        return {**super().get_config(), "cross_attention": self.cross_attention}
