"""Next-token sources: the logits a language model gives for the token after a prefix that grows one sampled
token at a time, three ways with the same result.

- `CacheCarry`: a decoder with a key/value cache (`call_with_cache`, e.g. `GPTDecoder`): the prompt runs once and
  fills the cache, then each new token runs alone against the keys and values of the tokens before it.
- `StateCarry`: a recurrent model (`step`, `initial_states`): the prompt is read once, then one step per token.
- `PrefixRerun`: any causal model: the whole prefix runs again at every token.

`next_token_source(model)` picks the cheapest one the model allows. Every source has `logits()` (float64 `[batch,
vocab]` for the next token) and `push(tokens)` (append one token per row). `check_context` refuses a prompt and
length a model with a fixed context (`max_sequence_length`) cannot hold, before any work.
"""

import numpy as np

from keras_nn.errors import DataError
from keras_nn.samplers.compiled import compiled_function


class PrefixRerun:
    """Next-token logits by re-running the model over the whole prefix (any causal model).

    Each call runs a buffer of a fixed length (the prefix, then padding) and reads the logits after the prefix:
    the model is causal, so what follows the prefix does not change them, and the one shape lets one compiled
    graph serve every step. The cost of a step grows with the buffer.
    """

    description = "Continuations re-run the model over the whole prefix at each token (it has no step function)."

    def __init__(self, model, prompt_ids, batch_size, length):
        self.forward = compiled_function(model, "rerun", lambda: lambda tokens: model(tokens, training=False))
        self.buffer = np.zeros((batch_size, prompt_ids.size + length), np.int32)
        self.buffer[:, : prompt_ids.size] = prompt_ids
        self.position = prompt_ids.size

    def logits(self):
        return np.array(self.forward(self.buffer), np.float64)[:, self.position - 1, :]

    def push(self, tokens):
        self.buffer[:, self.position] = tokens
        self.position += 1


class StateCarry:
    """Next-token logits from a recurrent model's `step(tokens, states)`: the prompt is read once, then each
    sampled token costs one step, whatever the length so far."""

    description = "Continuations carry the recurrent states from token to token (the prompt is read once)."

    def __init__(self, model, prompt_ids, batch_size, length):
        self.step = compiled_function(model, "step", lambda: model.step)
        states = model.initial_states(batch_size)
        for token in prompt_ids:
            last, states = self.step(np.full((batch_size,), token, np.int32), states)
        self.last, self.states = last, states

    def logits(self):
        return np.array(self.last, np.float64)

    def push(self, tokens):
        self.last, self.states = self.step(np.asarray(tokens, np.int32), self.states)


class CacheCarry:
    """Next-token logits from a cached decoder's `call_with_cache(token_ids, cache, cache_update_index)`: the
    prompt runs once as a block and writes its keys and values into the cache, then each sampled token runs alone
    against the cache (one position of work per token instead of the whole prefix). The cache holds the prompt
    and `length` tokens (`model.empty_cache(batch_size, prompt + length)`)."""

    description = (
        "Continuations run each new token against the key/value cache of the tokens before it (the prompt is "
        "read once)."
    )

    def __init__(self, model, prompt_ids, batch_size, length):
        self.call = compiled_function(model, "call_with_cache", lambda: model.call_with_cache)
        cache = model.empty_cache(batch_size, prompt_ids.size + length)
        prompt = np.broadcast_to(np.asarray(prompt_ids, np.int32), (batch_size, prompt_ids.size))
        self.last, self.cache = self.call(np.ascontiguousarray(prompt), cache, np.int32(0))
        self.position = prompt_ids.size

    def logits(self):
        return np.array(self.last, np.float64)

    def push(self, tokens):
        tokens = np.asarray(tokens, np.int32)[:, None]
        self.last, self.cache = self.call(tokens, self.cache, np.int32(self.position))
        self.position += 1


def carries_states(model):
    """True when the model generates step by step with its states (`RecurrentLanguageModel`)."""
    return callable(getattr(model, "step", None)) and callable(getattr(model, "initial_states", None))


def carries_cache(model):
    """True when the model generates with a key/value cache (`GPTDecoder`)."""
    return callable(getattr(model, "call_with_cache", None)) and callable(getattr(model, "empty_cache", None))


def next_token_source(model, carry=True):
    """The source class for `model`: `CacheCarry` for a cached decoder, `StateCarry` for a recurrent model, else
    (or with `carry=False`) `PrefixRerun`."""
    if carry and carries_cache(model):
        return CacheCarry
    if carry and carries_states(model):
        return StateCarry
    return PrefixRerun


def context_length(model):
    """The most tokens (prompt and sampled together) `model` reads: its `max_sequence_length`, or None."""
    return getattr(model, "max_sequence_length", None)


def check_context(model, prompt, num_prompt_tokens, length):
    """Raises `DataError` when a prompt of `num_prompt_tokens` and `length` sampled tokens exceed the context of
    a model with a fixed one (its position embedding covers `max_sequence_length` positions)."""
    context = context_length(model)
    if context is None or num_prompt_tokens + length <= context:
        return
    room = context - num_prompt_tokens
    fix = (
        f"sample at most {room} tokens (keras-nn generate RUN_DIR PROMPT --length {room}, or "
        "task_options.sample_length in the recipe)"
        if room >= 1
        else "shorten the prompt"
    )
    raise DataError(
        f"prompt {prompt!r} has {num_prompt_tokens} tokens and {length} are sampled after it: "
        f"{num_prompt_tokens + length} exceeds the model's context of {context} tokens "
        f"(model.max_sequence_length); {fix}"
    )

