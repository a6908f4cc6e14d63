"""Sampling the next token from logits: temperature, then top-k, then top-p (nucleus) filtering."""

import numbers

import numpy as np

from keras_nn.errors import ConfigError
from keras_nn.samplers.top_k import top_k_filter
from keras_nn.samplers.top_p import top_p_filter


def check_sampling(temperature, top_k, vocab_size, top_p=None):
    """Raises `ConfigError` for a negative `temperature`, a `top_k` outside `[1, vocab_size]` or a `top_p`
    outside `(0, 1]`.

    Args:
        temperature: softmax temperature (0 is greedy).
        top_k: number of most likely tokens to sample among, or None.
        vocab_size: the number of tokens `top_k` may be at most.
        top_p: probability of the nucleus to sample from, or None.
    """
    if not float(temperature) >= 0.0:
        raise ConfigError(f"temperature={temperature!r} must be >= 0 (0 is greedy)")
    if top_k is not None and (not isinstance(top_k, int) or not 1 <= top_k <= vocab_size):
        raise ConfigError(f"top_k={top_k!r} must be an integer in [1, vocab_size={vocab_size}] or None")
    if top_p is not None and (
        isinstance(top_p, bool) or not isinstance(top_p, numbers.Real) or not 0.0 < top_p <= 1.0
    ):
        raise ConfigError(
            f"top_p={top_p!r} must be a number in (0, 1] or None (1 keeps every token; temperature=0 is greedy)"
        )


def sample_next_token(logits, temperature=1.0, top_k=None, rng=None, *, top_p=None):
    """Draws one token per row from `softmax(logits / temperature)` restricted to the `top_k` largest logits
    and then to the nucleus of probability `top_p`.

    `temperature=0` or `top_k=1` gives the argmax. The filters apply in Hugging Face's order: temperature,
    top-k, top-p (whose nucleus is taken in the tempered top-k distribution). Sampling uses the Gumbel-max
    trick (the argmax of the logits plus Gumbel noise is a draw from their softmax), exact and vectorized
    over the batch; it draws the same noise whatever the filters, so `top_p=1` gives the tokens of no top-p
    with the same generator.

    Args:
        logits: `[B, V]` NumPy logits.
        temperature: softmax temperature (0: greedy).
        top_k: number of most likely tokens to sample among (None: all).
        rng: a `numpy.random.Generator` (default: a fresh unseeded one).
        top_p: probability of the nucleus to sample from (None or 1: every token).

    Returns:
        `[B]` int32 token ids.

    Example:
    >>> rng = np.random.default_rng(0)
    >>> sample_next_token(logits, temperature=0.8, top_k=50, top_p=0.9, rng=rng)   # [B] token ids

    References:
        Fan, Lewis & Dauphin, "Hierarchical Neural Story Generation", ACL 2018 (top-k sampling).
        Holtzman, Buys, Du, Forbes & Choi, "The Curious Case of Neural Text Degeneration", ICLR 2020
        (top-p sampling), https://arxiv.org/abs/1904.09751.
    """
    logits = np.asarray(logits, np.float64)
    if temperature == 0 or top_k == 1:
        return logits.argmax(-1).astype(np.int32)
    logits = logits / float(temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    rng = np.random.default_rng() if rng is None else rng
    return (logits + rng.gumbel(size=logits.shape)).argmax(-1).astype(np.int32)
