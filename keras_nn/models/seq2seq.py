"""Encoder-decoder with attention (`seq2seq_attention`), trained with teacher forcing, decoded step by step by
greedy search or beam search (with length normalization; `keras_nn.samplers`), returning tokens and attention
weights.
"""

import keras
from keras import ops

from keras_nn import layers
from keras_nn.errors import ConfigError
from keras_nn.models.base import FunctionalModel, check_choice, check_positive_int, check_rate
from keras_nn.models.registry import register_model

# beam_search, greedy_search and length_penalty_factor lived here before keras_nn.samplers: they stay
# importable from here (hence the noqa), the rest decodes the model.
from keras_nn.samplers import (  # noqa: F401
    beam_search,
    compiled_for,
    decode_in_batches,
    greedy_search,
    jit,
    length_penalty_factor,
)

PAD, START, END = 0, 1, 2
_ATTENTIONS = ("bahdanau", "luong")
_CELLS = ("lstm", "gru")


def _attention_layer(kind, units, score, name):
    if kind == "bahdanau":
        return layers.BahdanauAttention(units, name=name)
    return layers.LuongAttention(score=score, name=name)


@keras.saving.register_keras_serializable(package="keras_nn")
class Seq2SeqAttention(FunctionalModel):
    """An RNN encoder-decoder with Bahdanau (additive) or Luong (multiplicative) attention.

    The encoder (LSTM or GRU, optionally bidirectional and stacked) reads the source tokens; its final state,
    through a dense "bridge", starts the decoder. The decoder RNN reads the target shifted right (teacher
    forcing); at every step its output queries the encoder outputs (padding masked), and the context vector
    and decoder output go through a `tanh` layer to the vocabulary logits (Luong et al.'s attentional hidden
    state). Because the decoder RNN does not read the context back, training runs the decoder over the
    whole target at once, and decoding runs `decode_step` (one token, the cached RNN state) in a loop.

    Decoding: `greedy_decode(source)` and `beam_decode(source, beam_width, length_penalty)` return the tokens,
    their log-probability scores and the attention weights of every output step (for plots).

    Args:
        source_vocab_size: source vocabulary size (id 0 is padding, masked).
        target_vocab_size: target vocabulary size (0 padding, `start_token`, `end_token`).
        source_length: length of padded source sequences (None for any).
        target_length: length of the teacher-forced target input (None for any).
        embedding_dim: width of both embeddings.
        cell: `"lstm"` or `"gru"`.
        encoder_units: units of each encoder RNN (each direction when bidirectional).
        decoder_units: units of the decoder RNN and the attentional layer.
        encoder_layers: stacked encoder RNN layers.
        bidirectional: read the source both ways (outputs concatenated).
        attention: `"bahdanau"` (additive) or `"luong"` (multiplicative).
        attention_units: hidden width of the additive score (Bahdanau; default `decoder_units`).
        luong_score: `"general"` (`q W k`) or `"dot"` (`q k`; needs `decoder_units` equal to the encoder output
            width, `2 * encoder_units` when bidirectional).
        dropout: dropout on the embeddings and the attentional layer.
        start_token, end_token: ids that start and end a target sequence.
        name: model name.

    Call arguments:
        inputs: `{"source": [batch, source_length] int ids, "target_in": [batch, target_length] int ids}`
            (`target_in` is the target behind a start token). Returns logits `[batch, target_length,
            target_vocab_size]` (float32).

    Example:
    >>> model = keras_nn.create_model("seq2seq_attention", source_vocab_size=60, target_vocab_size=15)
    >>> logits = model({"source": source, "target_in": target_in})
    >>> result = model.beam_decode(source, beam_width=4, max_length=11)
    >>> result["tokens"].shape, result["attention"].shape   # [B, 11], [B, 11, source_length]

    References:
        Bahdanau, Cho & Bengio, "Neural Machine Translation by Jointly Learning to Align and Translate", ICLR
        2015, https://arxiv.org/abs/1409.0473.
        Luong, Pham & Manning, "Effective Approaches to Attention-based Neural Machine Translation", EMNLP
        2015, https://arxiv.org/abs/1508.04025.
        Sutskever, Vinyals & Le, "Sequence to Sequence Learning with Neural Networks", NeurIPS 2014.
        Wu et al., "Google's Neural Machine Translation System", 2016 (length penalty),
        https://arxiv.org/abs/1609.08144.
    """

    def __init__(
        self,
        source_vocab_size=64,
        target_vocab_size=16,
        source_length=None,
        target_length=None,
        embedding_dim=64,
        cell="lstm",
        encoder_units=128,
        decoder_units=128,
        encoder_layers=1,
        bidirectional=True,
        attention="bahdanau",
        attention_units=None,
        luong_score="general",
        dropout=0.0,
        start_token=START,
        end_token=END,
        name="seq2seq_attention",
        **kwargs,
    ):
        arguments = dict(locals())
        for key in ("source_vocab_size", "target_vocab_size", "embedding_dim", "encoder_units", "decoder_units", "encoder_layers"):
            check_positive_int(key, arguments[key])
        check_choice("cell", cell, _CELLS)
        check_choice("attention", attention, _ATTENTIONS)
        check_choice("luong_score", luong_score, ("general", "dot"))
        check_rate("dropout", dropout)
        encoder_width = encoder_units * (2 if bidirectional else 1)
        if attention == "luong" and luong_score == "dot" and decoder_units != encoder_width:
            raise ConfigError(
                f"luong_score='dot' needs decoder_units == encoder output width ({encoder_width}); got "
                f"decoder_units={decoder_units}; set decoder_units={encoder_width} or luong_score='general'"
            )
        rnn = {"lstm": layers.LSTM, "gru": layers.GRU}[cell]

        source = keras.Input(shape=(source_length,), dtype="int32", name="source")
        target_in = keras.Input(shape=(target_length,), dtype="int32", name="target_in")

        # --- layers (kept as attributes: the step-by-step decoder calls them directly)
        self.source_embedding = keras.layers.Embedding(source_vocab_size, embedding_dim, mask_zero=True, name="source_embedding")
        # No mask on the target: padding only follows the end token, the decoder is causal and the loss weights
        # padding out, so masking it would change nothing but the bookkeeping.
        self.target_embedding = keras.layers.Embedding(target_vocab_size, embedding_dim, name="target_embedding")
        self.embedding_dropout = keras.layers.Dropout(dropout, name="embedding_dropout")
        self.encoder_rnns = []
        for index in range(encoder_layers):
            last = index == encoder_layers - 1
            layer = rnn(encoder_units, return_sequences=True, return_state=last, name=f"encoder_{cell}_{index + 1}")
            if bidirectional:
                layer = layers.Bidirectional(layer, name=f"encoder_bidirectional_{index + 1}")
            self.encoder_rnns.append(layer)
        num_states = 2 if cell == "lstm" else 1
        self.bridges = [
            keras.layers.Dense(decoder_units, activation="tanh", name=f"bridge_{index}") for index in range(num_states)
        ]
        self.decoder_rnn = rnn(decoder_units, return_sequences=True, return_state=True, name=f"decoder_{cell}")
        self.attention_layer = _attention_layer(attention, attention_units or decoder_units, luong_score, "attention")
        self.combine = keras.layers.Dense(decoder_units, activation="tanh", name="attention_combine")
        self.combine_dropout = keras.layers.Dropout(dropout, name="combine_dropout")
        self.output_layer = keras.layers.Dense(target_vocab_size, dtype="float32", name="logits")

        # --- teacher-forced training graph
        encoder_outputs, states = self._encode(source)
        decoder_outputs = self._decoder_rnn(self.embedding_dropout(self.target_embedding(target_in)), states)[0]
        logits, _ = self._attend(decoder_outputs, encoder_outputs, ops.not_equal(source, PAD))
        super().__init__(inputs={"source": source, "target_in": target_in}, outputs=logits, name=name, **kwargs)
        self._init_arguments(arguments)
        self.num_states = num_states
        self.start_token, self.end_token = start_token, end_token
        self.target_vocab_size = target_vocab_size

    # ------------------------------------------------------------------------------------------- pieces

    def _encode(self, source, training=None):
        x = self.embedding_dropout(self.source_embedding(source), training=training)
        outputs = None
        for layer in self.encoder_rnns:
            outputs = layer(x, training=training)
            x = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
        states = list(outputs[1:])
        if len(states) == 2 * len(self.bridges):  # bidirectional: [forward states..., backward states...]
            half = len(self.bridges)
            states = [ops.concatenate([states[i], states[half + i]], axis=-1) for i in range(half)]
        states = [bridge(state) for bridge, state in zip(self.bridges, states, strict=True)]
        return x, states

    def _decoder_rnn(self, embedded, states, training=None):
        outputs = self.decoder_rnn(embedded, initial_state=states, training=training)
        return outputs[0], list(outputs[1:])

    def _attend(self, query, encoder_outputs, source_mask, training=None):
        context, weights = self.attention_layer(query, encoder_outputs, value_mask=source_mask)
        hidden = self.combine(ops.concatenate([query, ops.cast(context, query.dtype)], axis=-1))
        return self.output_layer(self.combine_dropout(hidden, training=training)), weights

    # ------------------------------------------------------------------------------------ step by step

    def encode(self, source):
        """Runs the encoder once: `(encoder_outputs [B, S, D], decoder_states list, source_mask [B, S])`."""
        source = ops.convert_to_tensor(source, dtype="int32")
        outputs, states = self._encode(source, training=False)
        return outputs, states, ops.not_equal(source, PAD)

    def decode_step(self, tokens, states, encoder_outputs, source_mask):
        """One decoder step from the cached state.

        Args:
            tokens: `[B]` the previous output token of each sequence (`start_token` first).
            states: the decoder RNN states (a list: `[h, c]` for LSTM, `[h]` for GRU).
            encoder_outputs, source_mask: from `encode`.

        Returns:
            `(log_probs [B, V] float32, new_states, attention_weights [B, S])`.
        """
        embedded = self.target_embedding(ops.expand_dims(ops.convert_to_tensor(tokens, dtype="int32"), 1))
        output, states = self._decoder_rnn(embedded, states, training=False)
        logits, weights = self._attend(output[:, 0], encoder_outputs, source_mask, training=False)
        return ops.log_softmax(ops.cast(logits, "float32"), axis=-1), states, ops.cast(weights, "float32")

    def _compiled(self):
        return compiled_for(self, lambda: (jit(self.encode), jit(self.decode_step)))

    def greedy_decode(self, source, max_length=None, batch_size=512):
        """Greedy decoding of a batch of sources.

        Args:
            source: `[B, S]` int source ids (0-padded).
            max_length: output steps (end token included); default the model's `target_length` or 50.
            batch_size: sources decoded at once.

        Returns:
            `{"tokens": [B, L] int32 (end token, then padding), "scores": [B] summed log-probabilities,
            "lengths": [B] tokens up to and including the end, "attention": [B, L, S]}`.
        """
        return self._decode(source, max_length, batch_size, beam_width=None, length_penalty=0.0)

    def beam_decode(self, source, beam_width=4, length_penalty=0.6, max_length=None, batch_size=256):
        """Beam search decoding of a batch of sources; `beam_width=1` gives the greedy result.

        Args:
            source: `[B, S]` int source ids (0-padded).
            beam_width: hypotheses kept per source.
            length_penalty: `alpha` of the GNMT length normalization `((5 + length) / 6) ** alpha`, which
                hypotheses are ranked by (0: raw log-probability, which favours short outputs).
            max_length: output steps (end token included); default the model's `target_length` or 50.
            batch_size: sources decoded at once.

        Returns:
            As `greedy_decode`, for the best hypothesis; `"scores"` are its raw log-probabilities and
            `"normalized_scores"` what it was ranked by.
        """
        check_positive_int("beam_width", beam_width)
        return self._decode(source, max_length, batch_size, beam_width=beam_width, length_penalty=length_penalty)

    def _decode(self, source, max_length, batch_size, beam_width, length_penalty):
        max_length = int(max_length or self._config.get("target_length") or 50)
        encode, step = self._compiled()

        def start(chunk):
            encoder_outputs, states, mask = encode(chunk)
            return states, (encoder_outputs, mask)

        return decode_in_batches(
            source, start, step, self.start_token, self.end_token, max_length, batch_size,
            beam_width=beam_width, length_penalty=length_penalty,
        )


register_model(
    "seq2seq_attention",
    Seq2SeqAttention,
    family="recurrent",
    description="RNN encoder-decoder with Bahdanau/Luong attention; greedy and beam-search decoding",
    paper="Bahdanau et al. 2015; Luong et al. 2015",
)
