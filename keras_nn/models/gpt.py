"""GPT: a decoder-only, causal Transformer language model (`gpt_decoder`, GPT-2 small by default) with
generation by greedy search or temperature / top-k / top-p sampling (`keras_nn.samplers`), using a key/value
cache.
"""

import keras
import numpy as np
from keras import ops

from keras_nn import layers
from keras_nn.errors import ConfigError, ShapeError
from keras_nn.models.base import FunctionalModel
from keras_nn.models.bert import check_transformer_arguments
from keras_nn.models.registry import register_model
from keras_nn.samplers import check_sampling, compiled_function, filter_logits, sample_next_token


@keras.saving.register_keras_serializable(package="keras_nn")
class GPTDecoder(FunctionalModel):
    """A GPT-2 style language model: token plus learned position embeddings, `num_layers` pre-LN causal
    Transformer decoder blocks (self-attention only) with GELU, a final LayerNorm, and the token embedding
    transposed as the output projection (tied weights, no bias). It returns next-token logits at every
    position.

    The defaults are GPT-2 small: 124,439,808 parameters, the count of Hugging Face's `gpt2`. The count is the
    token embedding 50257 x 768 = 38,597,376 and the position embedding 1024 x 768 = 786,432; per layer two
    LayerNorms (3,072), Q/K/V/output projections with biases 4 x (768 x 768 + 768) = 2,362,368 and the
    feed-forward 768 x 3072 + 3072 + 3072 x 768 + 768 = 4,722,432: 7,087,872, times 12 = 85,054,464; the final
    LayerNorm 1,536. The output projection adds nothing (tied). The feed-forward activation is GPT-2's tanh
    approximation of GELU (`gelu_approximate`).

    `generate(prompt_ids, max_new_tokens, ...)` extends prompts token by token. With `use_cache=True` (the
    default) the prompt runs once and each new token runs alone against the cached keys and values of the
    tokens before it (`[B, num_layers, 2, length, num_heads, head_dim]`); `use_cache=False` re-runs the whole
    sequence every step. Both give the same tokens (tested).

    The weights start as GPT-2's (OpenAI's model.py): every dense kernel and the token embedding N(0, 0.02),
    the position embedding N(0, 0.01), biases zero.

    Args:
        vocab_size: token vocabulary size.
        num_layers: Transformer decoder blocks.
        hidden_dim: model width.
        num_heads: attention heads per block (`hidden_dim` must be divisible by it).
        intermediate_dim: width of the feed-forward layer of each block.
        max_sequence_length: positions the learned position embedding covers (the longest sequence, prompt
            and generated tokens together).
        dropout: dropout after the embeddings and inside every block.
        layer_norm_epsilon: epsilon of every LayerNorm.
        sequence_length: static input length (None: any length up to `max_sequence_length`).
        name: model name.

    Call arguments:
        inputs: `[B, T]` int token ids. Returns float32 logits `[B, T, vocab_size]`; position `t` predicts
            token `t + 1` and sees only tokens `<= t`.

    Example:
    >>> model = keras_nn.create_model("gpt_decoder", vocab_size=50, num_layers=2, hidden_dim=32,
    ...                               num_heads=2, intermediate_dim=64, max_sequence_length=32)
    >>> model(np.array([[1, 2, 3]])).shape
    (1, 3, 50)
    >>> model.generate(np.array([[1, 2, 3]]), max_new_tokens=5, top_k=10, top_p=0.9, seed=0).shape
    (1, 8)

    References:
        Radford, Wu, Child, Luan, Amodei & Sutskever, "Language Models are Unsupervised Multitask Learners"
        (GPT-2), OpenAI 2019.
        Radford, Narasimhan, Salimans & Sutskever, "Improving Language Understanding by Generative
        Pre-Training" (GPT), OpenAI 2018.
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017, https://arxiv.org/abs/1706.03762.
        Fan, Lewis & Dauphin, "Hierarchical Neural Story Generation", ACL 2018 (top-k sampling).
        Holtzman, Buys, Du, Forbes & Choi, "The Curious Case of Neural Text Degeneration", ICLR 2020 (top-p
        sampling), https://arxiv.org/abs/1904.09751.
    """

    def __init__(
        self,
        vocab_size=50257,
        num_layers=12,
        hidden_dim=768,
        num_heads=12,
        intermediate_dim=3072,
        max_sequence_length=1024,
        dropout=0.1,
        layer_norm_epsilon=1e-5,
        sequence_length=None,
        name="gpt_decoder",
        **kwargs,
    ):
        arguments = dict(locals())
        check_transformer_arguments(
            hidden_dim,
            num_heads,
            max_sequence_length,
            sequence_length,
            dropout,
            vocab_size=vocab_size,
            num_layers=num_layers,
            intermediate_dim=intermediate_dim,
        )
        token_ids = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")

        # --- layers (kept as attributes: cached generation calls them directly)
        self.token_embedding = keras.layers.ReversibleEmbedding(
            vocab_size,
            hidden_dim,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="token_embedding",
        )
        self.position_embedding = layers.PositionEmbedding(
            max_sequence_length,
            initializer=keras.initializers.RandomNormal(stddev=0.01),
            name="position_embedding",
        )
        self.embedding_dropout = keras.layers.Dropout(dropout, name="embedding_dropout")
        self.blocks = [
            layers.TransformerDecoderBlock(
                num_heads,
                intermediate_dim,
                dropout=dropout,
                activation=layers.gelu_approximate,
                norm_first=True,
                layer_norm_epsilon=layer_norm_epsilon,
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.02),
                cross_attention=False,
                name=f"transformer_layer_{index}",
            )
            for index in range(num_layers)
        ]
        self.final_norm = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="final_layer_norm")
        # float32 logits: a stable softmax and loss under mixed precision.
        self.to_float32 = keras.layers.Activation("linear", dtype="float32", name="logits")

        x = self._embed(token_ids)
        for block in self.blocks:
            x = block(x)
        super().__init__(inputs=token_ids, outputs=self._logits(x), name=name, **kwargs)
        self._init_arguments(arguments)
        self.num_heads, self.head_dim = num_heads, hidden_dim // num_heads
        self.max_sequence_length = max_sequence_length

    # ------------------------------------------------------------------------------------------- pieces

    def _embed(self, token_ids, start_index=0, training=None):
        tokens = self.token_embedding(token_ids)
        x = tokens + self.position_embedding(tokens, start_index=start_index)
        return self.embedding_dropout(x, training=training)

    def _logits(self, x):
        return self.to_float32(self.token_embedding(self.final_norm(x), reverse=True))

    # ------------------------------------------------------------------------------------ cached decoding

    def call_with_cache(self, token_ids, cache, cache_update_index):
        """Runs `token_ids` (the tokens at positions `cache_update_index...`) against the cache.

        Args:
            token_ids: `[B, t]` int ids: the whole prompt at index 0, then one token a step.
            cache: `[B, num_layers, 2, max_length, num_heads, head_dim]` keys and values of earlier tokens.
            cache_update_index: position of `token_ids[:, 0]`; their keys and values are written there.

        Returns:
            `(logits [B, vocab_size] float32 of the last token, the updated cache)`.
        """
        x = self._embed(token_ids, start_index=cache_update_index, training=False)
        caches = []
        for index, block in enumerate(self.blocks):
            x, layer_cache, _ = block(
                x,
                self_attention_cache=cache[:, index],
                self_attention_cache_update_index=cache_update_index,
                training=False,
            )
            caches.append(layer_cache)
        return self._logits(x[:, -1]), ops.stack(caches, axis=1)

    def empty_cache(self, batch_size, max_length):
        """A zero key/value cache `[batch_size, num_layers, 2, max_length, num_heads, head_dim]` (NumPy, the
        compute dtype) for `call_with_cache`; `max_length` covers the prompt and every token to generate."""
        return np.zeros(
            (batch_size, len(self.blocks), 2, max_length, self.num_heads, self.head_dim),
            keras.backend.standardize_dtype(self.token_embedding.compute_dtype),
        )

    def _generation_loop(self, prompt_length, max_new_tokens, temperature, top_k, top_p):
        """The compiled function `(prompt [B, T], noise [N, B, V] or None) -> tokens [B, T + N]` that generates
        every new token with the cache in one program (a `fori_loop`; XLA on TensorFlow), kept per setting."""
        greedy = temperature == 0 or top_k == 1
        total = prompt_length + max_new_tokens

        def choose(logits, noise, step):
            if greedy:
                return ops.cast(ops.argmax(logits, axis=-1), "int32")
            filtered = filter_logits(logits, temperature, top_k, top_p)
            return ops.cast(ops.argmax(filtered + noise[step], axis=-1), "int32")

        def generate_all(prompt, noise):
            batch_size = ops.shape(prompt)[0]
            cache = ops.zeros(
                (batch_size, len(self.blocks), 2, total, self.num_heads, self.head_dim),
                self.token_embedding.compute_dtype,
            )
            logits, cache = self.call_with_cache(prompt, cache, 0)
            tokens = ops.concatenate([prompt, ops.zeros((batch_size, max_new_tokens), "int32")], axis=1)

            def step(index, state):
                tokens, cache, logits = state
                chosen = choose(logits, noise, index)[:, None]
                position = prompt_length + index
                tokens = ops.slice_update(tokens, (0, position), chosen)
                logits, cache = self.call_with_cache(chosen, cache, position)
                return tokens, cache, logits

            # The last token needs no model step after it (its position may be past the position embedding).
            tokens, cache, logits = ops.fori_loop(0, max_new_tokens - 1, step, (tokens, cache, logits))
            chosen = choose(logits, noise, max_new_tokens - 1)[:, None]
            return ops.slice_update(tokens, (0, total - 1), chosen)

        key = ("generation_loop", prompt_length, max_new_tokens, temperature, top_k, top_p)
        return compiled_function(self, key, lambda: generate_all, xla=True)

    def generate(
        self, prompt_ids, max_new_tokens, temperature=1.0, top_k=None, seed=None, use_cache=True, top_p=None
    ):
        """Extends each prompt by `max_new_tokens` tokens, one at a time.

        Each token is drawn from `softmax(logits / temperature)` restricted to the `top_k` most likely tokens
        (all of them when `top_k` is None) and then to the nucleus of probability `top_p` (the fewest most
        likely tokens that hold it; all of them when `top_p` is None or 1); `temperature=0` or `top_k=1` takes
        the most likely token (greedy). See `keras_nn.samplers.sample_next_token`.

        With the cache, the whole generation is one compiled program (a loop over the new tokens with the
        sampling in `keras.ops`, `keras_nn.samplers.filter_logits`; XLA on TensorFlow, `jax.jit` on JAX), as
        keras-hub's `generate` is; it is compiled once per prompt length, number of new tokens and setting.
        Without the cache each step re-runs the whole sequence and samples in NumPy (float64). Both draw their
        Gumbel noise from the same NumPy generator, so they give the same tokens (tested), except where two
        candidates differ by less than float32 rounding.

        Args:
            prompt_ids: `[B, T]` (or `[T]`) int token ids, at least one each; every prompt has the same length.
            max_new_tokens: tokens to add; `T + max_new_tokens` must not exceed `max_sequence_length`.
            temperature: softmax temperature (> 1 flatter, < 1 sharper, 0 greedy).
            top_k: sample among the `top_k` most likely tokens only.
            seed: seed of the sampling (a NumPy generator), for repeatable samples.
            use_cache: run each new token against the cached keys and values (True) or re-run the whole
                sequence every step (False).
            top_p: sample among the most likely tokens whose probabilities sum to `top_p` (in `(0, 1]`).

        Returns:
            `[B, T + max_new_tokens]` int32 NumPy array: the prompts followed by the new tokens (`[T + ...]` for
            a 1-D prompt).
        """
        prompt = np.asarray(ops.convert_to_numpy(prompt_ids)).astype(np.int32)
        single = prompt.ndim == 1
        prompt = prompt[None] if single else prompt
        if prompt.ndim != 2 or prompt.shape[1] < 1:
            raise ShapeError(
                f"prompt_ids must be [batch, length] token ids, length >= 1; got shape {prompt.shape}"
            )
        if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise ConfigError(f"max_new_tokens={max_new_tokens!r} must be a non-negative integer")
        total = prompt.shape[1] + max_new_tokens
        if total > self.max_sequence_length:
            raise ShapeError(
                f"prompt length {prompt.shape[1]} + max_new_tokens {max_new_tokens} = {total} exceeds "
                f"max_sequence_length={self.max_sequence_length}; shorten the prompt or generate fewer tokens"
            )
        vocab_size = self.token_embedding.input_dim
        check_sampling(temperature, top_k, vocab_size, top_p=top_p)
        greedy = temperature == 0 or top_k == 1
        rng = np.random.default_rng(seed)
        if not max_new_tokens:
            tokens = prompt
        elif use_cache:
            # The noise `sample_next_token` would draw step by step, drawn at once (the same numbers).
            noise = None if greedy else rng.gumbel(size=(max_new_tokens, *prompt.shape[:1], vocab_size))
            loop = self._generation_loop(prompt.shape[1], max_new_tokens, float(temperature), top_k, top_p)
            tokens = np.asarray(
                ops.convert_to_numpy(loop(prompt, None if noise is None else noise.astype(np.float32))), np.int32
            )
        else:
            last_logits = compiled_function(
                self, "last_logits", lambda: lambda token_ids: self(token_ids, training=False)[:, -1]
            )
            tokens = prompt
            for _ in range(max_new_tokens):
                logits = ops.convert_to_numpy(last_logits(tokens))
                chosen = sample_next_token(logits, temperature, top_k, rng, top_p=top_p)
                tokens = np.concatenate([tokens, chosen[:, None]], axis=1)
        return tokens[0] if single else tokens


register_model(
    "gpt_decoder",
    GPTDecoder,
    family="transformer",
    paper="Radford et al., GPT-2, 2019",
    description="GPT-2 style causal language model (GPT-2 small defaults: 124,439,808 parameters); "
    "generation with temperature, top-k, top-p and a key/value cache",
)
