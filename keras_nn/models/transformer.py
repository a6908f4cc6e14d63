"""The Transformer translator (`transformer_translator`): the encoder-decoder of "Attention Is All You Need",
trained with teacher forcing, decoded by greedy or beam search over a key/value cache, with its
cross-attention weights available for plots.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_nn import layers
from keras_nn.errors import ConfigError
from keras_nn.models.base import FunctionalModel, check_positive_int, check_rate
from keras_nn.models.registry import register_model
from keras_nn.samplers import compiled_for, decode_in_batches, jit

# The SentencePiece convention: 0 padding, 1 unknown, 2 start (bos), 3 end (eos).
PAD, START, END = 0, 2, 3


@keras.saving.register_keras_serializable(package="keras_nn")
class TransformerTranslator(FunctionalModel):
    """The Transformer encoder-decoder for translation (Vaswani et al. 2017).

    Source and target tokens are embedded, scaled by `sqrt(d_model)` and summed with the sinusoidal position
    encoding (then dropout). `num_layers` encoder blocks (self-attention over the source, padding masked) and
    `num_layers` decoder blocks (causal self-attention, cross-attention over the encoder outputs, padding
    masked) follow, post-LN as in the paper or pre-LN (`norm_first=True`, with a final LayerNorm after each
    stack). The decoder output is projected onto the target vocabulary: float32 logits. With
    `shared_embeddings=True` one matrix is the source embedding, the target embedding and (transposed) the
    output projection, as in the paper (section 3.4; it needs one joint vocabulary); otherwise the three are
    separate matrices. Training is teacher forcing: `target_in` is the target behind a start token, the
    logits at step `t` predict target token `t`.

    Decoding runs the encoder once, projects every decoder block's cross-attention keys and values once, and
    then feeds one token a step through the decoder against a self-attention key/value cache
    (`decode_step`), for greedy search or beam search with the GNMT length penalty (the search bookkeeping of
    `keras_nn.samplers`). `use_cache=False` re-runs the whole decoder over the prefix every step
    instead; both give the same tokens (tested).

    Parameter count of the base configuration (`create_model("transformer_translator")`: 6 + 6 layers,
    d_model 512, 8 heads, d_ff 2048, one shared 37000-token vocabulary): 63,082,496 =
      shared embedding / output projection 37000 x 512 = 18,944,000 (the position encoding has no weights)
      + 6 encoder layers x 3,152,384: self-attention 4 x (512 x 512 + 512) = 1,050,624, feed-forward
        512 x 2048 + 2048 + 2048 x 512 + 512 = 2,099,712, two LayerNorms 2 x 1024
      + 6 decoder layers x 4,204,032: self- and cross-attention 2 x 1,050,624, feed-forward 2,099,712, three
        LayerNorms 3 x 1024.
    Table 3 of the paper gives the base model as "65 x 10^6" without the counting; 63.1M is within its
    rounding (the paper does not say what else it counted). Pre-LN adds the two final LayerNorms (2,048).

    Args:
        source_vocab_size: source vocabulary size (id `pad_token` is padding, masked).
        target_vocab_size: target vocabulary size.
        max_length: the most positions decoding produces (the cache length and the default decode length).
        num_layers: encoder layers and decoder layers (N).
        d_model: model width.
        num_heads: attention heads (`d_model` must be divisible by it).
        intermediate_dim: feed-forward width (d_ff).
        dropout: dropout on the embeddings, every sublayer output and the attention weights (P_drop).
        shared_embeddings: one matrix for both embeddings and the output projection (equal vocabulary sizes).
        norm_first: pre-LN blocks instead of the paper's post-LN.
        pad_token, start_token, end_token: token ids (the SentencePiece convention by default: 0, 2, 3).
        name: model name.

    Call arguments:
        inputs: `{"source": [B, S] int ids, "target_in": [B, T] int ids}`. Returns logits `[B, T,
            target_vocab_size]` (float32).

    Example:
    >>> model = keras_nn.create_model("transformer_translator", source_vocab_size=100, target_vocab_size=100,
    ...     num_layers=2, d_model=64, num_heads=4, intermediate_dim=128)
    >>> logits = model({"source": source, "target_in": target_in})
    >>> result = model.beam_decode(source, beam_width=4, max_length=20)
    >>> result["tokens"], result["scores"]

    References:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017, https://arxiv.org/abs/1706.03762.
        Wu et al., "Google's Neural Machine Translation System", 2016 (length penalty),
        https://arxiv.org/abs/1609.08144.
        Press & Wolf, "Using the Output Embedding to Improve Language Models", EACL 2017 (tied embeddings).
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        max_length=256,
        num_layers=6,
        d_model=512,
        num_heads=8,
        intermediate_dim=2048,
        dropout=0.1,
        shared_embeddings=False,
        norm_first=False,
        pad_token=PAD,
        start_token=START,
        end_token=END,
        name="transformer_translator",
        **kwargs,
    ):
        arguments = dict(locals())
        sizes = ("source_vocab_size", "target_vocab_size", "max_length", "num_layers", "d_model", "num_heads")
        for key in (*sizes, "intermediate_dim"):
            check_positive_int(key, arguments[key])
        check_rate("dropout", dropout)
        if d_model % num_heads:
            raise ConfigError(
                f"d_model={d_model} must be divisible by num_heads={num_heads}; change one of them"
            )
        if shared_embeddings and source_vocab_size != target_vocab_size:
            raise ConfigError(
                f"shared_embeddings=True needs one joint vocabulary, but source_vocab_size="
                f"{source_vocab_size} != target_vocab_size={target_vocab_size}; train a joint vocabulary or "
                "set shared_embeddings=False"
            )
        for key in ("pad_token", "start_token", "end_token"):
            if not 0 <= arguments[key] < target_vocab_size:
                raise ConfigError(f"{key}={arguments[key]!r} must be a target id in [0, {target_vocab_size})")

        source = keras.Input(shape=(None,), dtype="int32", name="source")
        target_in = keras.Input(shape=(None,), dtype="int32", name="target_in")

        # --- layers (kept as attributes: encoding and step-by-step decoding call them directly)
        # N(0, d_model^-0.5): with the sqrt(d_model) scale the embedded tokens have unit variance, and as the
        # output projection the matrix gives logits of unit scale (tensor2tensor, fairseq).
        initializer = keras.initializers.RandomNormal(stddev=d_model**-0.5)
        self.target_embedding = keras.layers.ReversibleEmbedding(
            target_vocab_size,
            d_model,
            tie_weights=shared_embeddings,
            embeddings_initializer=initializer,
            name="shared_embedding" if shared_embeddings else "target_embedding",
        )
        self.source_embedding = (
            self.target_embedding
            if shared_embeddings
            else keras.layers.Embedding(
                source_vocab_size, d_model, embeddings_initializer=initializer, name="source_embedding"
            )
        )
        self.position_encoding = layers.SinusoidalPositionEncoding(name="position_encoding")
        self.embedding_dropout = keras.layers.Dropout(dropout, name="embedding_dropout")
        block_arguments = dict(dropout=dropout, norm_first=norm_first, layer_norm_epsilon=1e-6)
        self.encoder_blocks = [
            layers.TransformerEncoderBlock(
                num_heads, intermediate_dim, name=f"encoder_layer_{i}", **block_arguments
            )
            for i in range(num_layers)
        ]
        self.decoder_blocks = [
            layers.TransformerDecoderBlock(
                num_heads, intermediate_dim, name=f"decoder_layer_{i}", **block_arguments
            )
            for i in range(num_layers)
        ]
        # Pre-LN leaves the residual stream unnormalized: each stack ends with a LayerNorm (Xiong et al.
        # 2020).
        self.encoder_norm = (
            keras.layers.LayerNormalization(epsilon=1e-6, name="encoder_norm") if norm_first else None
        )
        self.decoder_norm = (
            keras.layers.LayerNormalization(epsilon=1e-6, name="decoder_norm") if norm_first else None
        )
        # float32 logits: a stable softmax and loss under mixed precision.
        self.to_float32 = keras.layers.Activation("linear", dtype="float32", name="logits")
        self.embedding_scale = math.sqrt(d_model)

        # --- teacher-forced training graph
        source_mask = layers.make_padding_mask(source, pad_token)
        encoder_outputs = self._encode(source, source_mask)
        logits = self._logits(self._decode(target_in, encoder_outputs, source_mask)[0])
        super().__init__(
            inputs={"source": source, "target_in": target_in}, outputs=logits, name=name, **kwargs
        )
        self._init_arguments(arguments)
        self.pad_token, self.start_token, self.end_token = pad_token, start_token, end_token
        self.max_length = max_length

    # ------------------------------------------------------------------------------------------- pieces

    def _embed(self, embedding, token_ids, start_index=0, training=None):
        # A Python float (weakly typed) keeps the dtype and stays a constant in exported graphs.
        x = embedding(token_ids) * self.embedding_scale
        x = x + self.position_encoding(x, start_index=start_index)
        return self.embedding_dropout(x, training=training)

    def _encode(self, source, source_mask, training=None):
        x = self._embed(self.source_embedding, source, training=training)
        for block in self.encoder_blocks:
            x = block(x, padding_mask=source_mask, training=training)
        return self.encoder_norm(x) if self.encoder_norm is not None else x

    def _decode(self, target_in, encoder_outputs, source_mask, training=None):
        """The decoder over whole target prefixes: `(hidden [B, T, d_model], per-layer cross-attention)`."""
        x = self._embed(self.target_embedding, target_in, training=training)
        maps = []
        for block in self.decoder_blocks:
            x, scores = block(
                x,
                encoder_outputs,
                encoder_padding_mask=source_mask,
                return_attention_scores=True,
                training=training,
            )
            maps.append(scores)
        return x, maps

    def _logits(self, hidden):
        if self.decoder_norm is not None:
            hidden = self.decoder_norm(hidden)
        return self.to_float32(self.target_embedding(hidden, reverse=True))

    # ----------------------------------------------------------------------------------- public pieces

    def encode(self, source):
        """Runs the encoder: `[B, S]` int ids -> encoder outputs `[B, S, d_model]` (inference mode)."""
        source = ops.convert_to_tensor(source, dtype="int32")
        return self._encode(source, layers.make_padding_mask(source, self.pad_token), training=False)

    def encoder_model(self, source_length=None):
        """The encoder alone as a functional `keras.Model`, `source [B, S]` int ids -> `[B, S, d_model]`,
        sharing this model's layers: what a deployment exports to TFLite or ONNX (`source_length` fixes `S`).
        """
        source = keras.Input(shape=(source_length,), dtype="int32", name="source")
        outputs = self._encode(source, layers.make_padding_mask(source, self.pad_token))
        return keras.Model(source, outputs, name=f"{self.name}_encoder")

    def attention_maps(self, source, target_in):
        """Cross-attention weights of a teacher-forced pass, for plots.

        Args:
            source: `[B, S]` int source ids.
            target_in: `[B, T]` int target ids behind the start token (e.g. a decoded output shifted right).

        Returns:
            A list over decoder layers of `[B, num_heads, T, S]` float32 NumPy arrays; each row sums to one
            over the real source tokens and is zero on padding.
        """
        source = ops.convert_to_tensor(source, dtype="int32")
        target_in = ops.convert_to_tensor(target_in, dtype="int32")
        source_mask = layers.make_padding_mask(source, self.pad_token)
        encoder_outputs = self._encode(source, source_mask, training=False)
        _, maps = self._decode(target_in, encoder_outputs, source_mask, training=False)
        return [np.asarray(ops.convert_to_numpy(ops.cast(m, "float32"))) for m in maps]

    def initial_decoding_state(self, source, max_length):
        """Everything cached decoding needs before the first step.

        Args:
            source: `[B, S]` int source ids.
            max_length: the most decoding steps (the self-attention cache length).

        Returns:
            `(states, static)`: `states = {"self_attention_caches": per-layer [B, 2, max_length, heads,
            head_dim] zeros, "index": [B] int32 zeros}` (what `decode_step` updates), `static =
            (cross_attention_caches, source_mask)` (the encoder keys/values of every layer, projected once,
            and the `[B, S]` source padding mask).
        """
        source = ops.convert_to_tensor(source, dtype="int32")
        source_mask = layers.make_padding_mask(source, self.pad_token)
        encoder_outputs = self._encode(source, source_mask, training=False)
        batch = ops.shape(source)[0]
        states = {
            "self_attention_caches": tuple(
                block.empty_self_attention_cache(batch, max_length) for block in self.decoder_blocks
            ),
            "index": ops.zeros((batch,), dtype="int32"),
        }
        cross_caches = tuple(
            block.compute_cross_attention_cache(encoder_outputs) for block in self.decoder_blocks
        )
        return states, (cross_caches, source_mask)

    def decode_step(self, tokens, states, cross_attention_caches, source_mask):
        """One cached decoder step: the previous tokens in, log-probabilities of the next ones out.

        Args:
            tokens: `[B]` int ids of the previous output (`start_token` at the first step).
            states: from `initial_decoding_state` or the previous step. Every row's `index` is the same: the
                position of `tokens`.
            cross_attention_caches, source_mask: the `static` of `initial_decoding_state`.

        Returns:
            `(log_probs [B, target_vocab] float32, new states, attention [B, S] float32)`, the attention being
            the last decoder layer's cross-attention averaged over heads.
        """
        index = states["index"][0]
        x = self._embed(
            self.target_embedding,
            ops.expand_dims(ops.cast(tokens, "int32"), 1),
            start_index=index,
            training=False,
        )
        caches = []
        for block, cache, cross_cache in zip(
            self.decoder_blocks, states["self_attention_caches"], cross_attention_caches, strict=True
        ):
            x, cache, _, scores = block(
                x,
                encoder_padding_mask=source_mask,
                self_attention_cache=cache,
                self_attention_cache_update_index=index,
                cross_attention_cache=cross_cache,
                return_attention_scores=True,
                training=False,
            )
            caches.append(cache)
        log_probs = ops.log_softmax(self._logits(x[:, 0]), axis=-1)
        attention = ops.mean(ops.cast(scores[:, :, 0], "float32"), axis=1)
        return log_probs, {"self_attention_caches": tuple(caches), "index": states["index"] + 1}, attention

    def _uncached_start(self, source):
        source = ops.convert_to_tensor(source, dtype="int32")
        source_mask = layers.make_padding_mask(source, self.pad_token)
        encoder_outputs = self._encode(source, source_mask, training=False)
        return {"prefix": ops.zeros((ops.shape(source)[0], 0), dtype="int32")}, (encoder_outputs, source_mask)

    def _uncached_step(self, tokens, states, encoder_outputs, source_mask):
        """`decode_step` without a cache: the whole decoder re-runs over the prefix, read at the last step."""
        prefix = ops.concatenate([states["prefix"], ops.expand_dims(ops.cast(tokens, "int32"), 1)], axis=1)
        hidden, maps = self._decode(prefix, encoder_outputs, source_mask, training=False)
        log_probs = ops.log_softmax(self._logits(hidden[:, -1]), axis=-1)
        return log_probs, {"prefix": prefix}, ops.mean(ops.cast(maps[-1][:, :, -1], "float32"), axis=1)

    def _compiled(self):
        return compiled_for(self, lambda: (jit(self.initial_decoding_state), jit(self.decode_step)))

    # ------------------------------------------------------------------------------------------ decoding

    def greedy_decode(self, source, max_length=None, use_cache=True, batch_size=256):
        """Greedy decoding of a batch of sources.

        Args:
            source: `[B, S]` int source ids (padded with `pad_token`).
            max_length: output steps (end token included); default the model's `max_length`.
            use_cache: cached steps (True) or a full decoder pass over the prefix every step (False; slow, the
                reference the cache is tested against).
            batch_size: sources decoded at once.

        Returns:
            `{"tokens": [B, L] int32 (end token, then padding), "scores": [B] summed log-probabilities,
            "lengths": [B] tokens up to and including the end, "attention": [B, L, S]}` (NumPy), `L <=
            max_length`.
        """
        return self._search(source, max_length, batch_size, use_cache, beam_width=None, length_penalty=0.0)

    def beam_decode(self, source, beam_width=4, length_penalty=0.6, max_length=None, batch_size=64):
        """Beam search decoding of a batch of sources (cached); `beam_width=1` gives the greedy result.

        Args:
            source: `[B, S]` int source ids.
            beam_width: hypotheses kept per source; finished ones stay in the beam until the search ends.
            length_penalty: `alpha` of the GNMT normalization `((5 + length) / 6) ** alpha` hypotheses are
                ranked by (0.6 in the paper; 0: raw log-probability, which favours short outputs).
            max_length: output steps (end token included); default the model's `max_length`.
            batch_size: sources decoded at once.

        Returns:
            As `greedy_decode`, for the best hypothesis, plus `"normalized_scores"` (what it was ranked by).
        """
        check_positive_int("beam_width", beam_width)
        return self._search(
            source, max_length, batch_size, True, beam_width=beam_width, length_penalty=length_penalty
        )

    def _search(self, source, max_length, batch_size, use_cache, beam_width, length_penalty):
        max_length = int(max_length or self.max_length)
        if use_cache:
            initial_state, step = self._compiled()
            start = lambda chunk: initial_state(chunk, max_length)  # noqa: E731
        else:
            start, step = self._uncached_start, self._uncached_step
        return decode_in_batches(
            source,
            start,
            step,
            self.start_token,
            self.end_token,
            max_length,
            batch_size,
            beam_width=beam_width,
            length_penalty=length_penalty,
            pad_token=self.pad_token,
        )


register_model(
    "transformer_translator",
    TransformerTranslator,
    family="transformer",
    description="Transformer encoder-decoder for translation (base: 6+6 layers, d_model 512, 37k vocab)",
    paper="Vaswani et al. 2017",
    source_vocab_size=37000,
    target_vocab_size=37000,
    shared_embeddings=True,
)
