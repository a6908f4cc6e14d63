"""Perplexity, bits per character and the n-gram baselines a language model is compared with (numpy).

Perplexity is `exp` of the mean negative log-likelihood per token, in nats; bits per character is the total
negative log-likelihood in bits divided by the number of characters (for a character model, the mean
cross-entropy over `ln 2`). `ngram_perplexity` scores held-out ids with a unigram or bigram model counted on
training ids, smoothed so that no held-out token has probability zero:

- `"add_k"` (Lidstone): `P(w) = (c(w) + k) / (N + k V)`, `P(w | v) = (c(v, w) + k) / (c(v) + k V)`.
- `"interpolated"` (Jelinek-Mercer): `P(w | v) = lam * c(v, w) / c(v) + (1 - lam) * P_add_k(w)`, the bigram's
  maximum-likelihood estimate mixed with the add-k unigram (a history never seen in training falls back to
  the unigram alone). For `order=1` it is the add-k unigram.

No Kneser-Ney: these are the simple baselines of Jurafsky & Martin, chapter 3.

References:
    Jurafsky & Martin, "Speech and Language Processing" (3rd ed. draft), chapter 3, "N-gram Language Models".
    Jelinek & Mercer, "Interpolated estimation of Markov source parameters from sparse data", 1980.
"""

import math

import numpy as np
from scipy.special import log_softmax

from keras_nn.errors import ConfigError, DataError

SMOOTHING = ("add_k", "interpolated")


def target_log_probs(logits, targets):
    """The natural-log probability `log_softmax(logits)` gives each target id, in float64.

    Args:
        logits: `[..., vocab]` scores.
        targets: `[...]` int ids, one per row of `logits`.

    Returns:
        `[...]` float64 log-probabilities, to average into a perplexity.
    """
    log_probabilities = log_softmax(np.asarray(logits, np.float64), axis=-1)
    return np.take_along_axis(log_probabilities, np.asarray(targets)[..., None], -1)[..., 0]


def mean_negative_log_likelihood(log_probs=None, *, cross_entropy=None):
    """The mean negative log-likelihood per token in nats, from exactly one of the two arguments."""
    if (log_probs is None) == (cross_entropy is None):
        raise ConfigError("give exactly one of log_probs (per-token log-probabilities) or cross_entropy (mean nats)")
    if cross_entropy is not None:
        value = float(cross_entropy)
        if not value >= 0.0:
            raise ConfigError(f"cross_entropy={cross_entropy!r} must be a mean negative log-likelihood >= 0 (nats)")
        return value
    log_probs = np.asarray(log_probs, np.float64).reshape(-1)
    if log_probs.size == 0:
        raise DataError("no log-probabilities to score; give at least one token")
    if np.any(log_probs > 1e-9):
        raise ConfigError("log_probs holds values above 0; give natural-log probabilities (<= 0)")
    return float(-np.mean(log_probs))


def perplexity(log_probs=None, *, cross_entropy=None):
    """Perplexity: `exp(-mean(log_probs))`, or `exp(cross_entropy)` for a mean cross-entropy in nats.

    Args:
        log_probs: natural-log probabilities the model gave each scored token (any shape).
        cross_entropy: the mean negative log-likelihood per token in nats (what a Keras sparse categorical
            cross-entropy reports), instead of `log_probs`.

    Returns:
        The perplexity, a float >= 1.

    Example:
        >>> perplexity(np.log([0.5, 0.25]))     # exp(-(ln .5 + ln .25) / 2) = sqrt(8)
        2.828...
        >>> perplexity(cross_entropy=math.log(10.0))
        10.0...
    """
    return math.exp(mean_negative_log_likelihood(log_probs, cross_entropy=cross_entropy))


def bits_per_character(log_probs=None, *, cross_entropy=None, num_characters=None):
    """Bits per character: the negative log-likelihood in bits over the number of characters.

    Args:
        log_probs: natural-log probabilities of each scored token.
        cross_entropy: the mean negative log-likelihood per token in nats, instead of `log_probs`.
        num_characters: characters the scored tokens spell; None for a character model (one token, one
            character). For subword tokens the total bits are divided by it.

    Returns:
        Bits per character.

    Example:
        >>> bits_per_character(cross_entropy=math.log(2.0))    # a fair coin per character: 1 bit
        1.0
    """
    nats = mean_negative_log_likelihood(log_probs, cross_entropy=cross_entropy)
    if num_characters is None:
        return nats / math.log(2.0)
    if log_probs is None:
        raise ConfigError("num_characters needs log_probs (the tokens' count), not a mean cross_entropy")
    if not num_characters > 0:
        raise ConfigError(f"num_characters={num_characters!r} must be > 0")
    tokens = np.asarray(log_probs).size
    return nats * tokens / math.log(2.0) / float(num_characters)


def _check_ids(ids, name, vocab_size):
    ids = np.asarray(ids).reshape(-1)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise DataError(f"{name} holds ids outside [0, vocab_size={vocab_size}); give the vocabulary's size")
    return ids.astype(np.int64)


def ngram_log_probs(train_ids, test_ids, order=2, smoothing="add_k", k=1.0, lam=0.9, vocab_size=None):
    """Natural-log probabilities of `test_ids[1:]` (each given the one before) under an n-gram model of
    `train_ids`.

    Every test token but the first is scored, so a unigram and a bigram score the same tokens (the ones a
    next-token model predicts from a window starting at `test_ids[0]`).

    Args:
        train_ids: 1-D training token ids (one contiguous stream).
        test_ids: 1-D held-out token ids.
        order: 1 (unigram) or 2 (bigram).
        smoothing: `"add_k"` or `"interpolated"` (see the module docstring).
        k: the add-k count (> 0).
        lam: the bigram's weight of the interpolation, in [0, 1).
        vocab_size: V, the vocabulary size (default: the largest id seen + 1).

    Returns:
        `len(test_ids) - 1` log-probabilities.
    """
    if order not in (1, 2):
        raise ConfigError(f"order={order!r} is not allowed; use 1 (unigram) or 2 (bigram)")
    if smoothing not in SMOOTHING:
        raise ConfigError(f"smoothing={smoothing!r} is not allowed; choose one of: {', '.join(SMOOTHING)}")
    if not k > 0:
        raise ConfigError(f"k={k!r} must be > 0 (add-k smoothing keeps unseen tokens possible)")
    if not 0.0 <= lam < 1.0:
        raise ConfigError(f"lam={lam!r} must be in [0, 1) (the unigram keeps some weight)")
    train = np.asarray(train_ids).reshape(-1)
    test = np.asarray(test_ids).reshape(-1)
    if train.size < 2 or test.size < 2:
        raise DataError(
            f"an n-gram baseline needs at least 2 training and 2 test tokens; got {train.size} and {test.size}"
        )
    if vocab_size is None:
        vocab_size = int(max(train.max(), test.max())) + 1
    train = _check_ids(train, "train_ids", vocab_size)
    test = _check_ids(test, "test_ids", vocab_size)
    counts = np.bincount(train, minlength=vocab_size).astype(np.float64)
    unigram = (counts + k) / (counts.sum() + k * vocab_size)
    history, token = test[:-1], test[1:]
    if order == 1:
        return np.log(unigram[token])
    # Bigram counts as a dict keyed by v * V + w: a V x V table would not fit a subword vocabulary.
    pairs = train[:-1] * vocab_size + train[1:]
    keys, pair_counts = np.unique(pairs, return_counts=True)
    wanted = history * vocab_size + token
    position = np.clip(np.searchsorted(keys, wanted), 0, len(keys) - 1)
    joint = np.where(keys[position] == wanted, pair_counts[position], 0).astype(np.float64)
    context = np.bincount(train[:-1], minlength=vocab_size).astype(np.float64)[history]
    if smoothing == "add_k":
        return np.log((joint + k) / (context + k * vocab_size))
    maximum_likelihood = np.divide(joint, context, out=np.zeros_like(joint), where=context > 0)
    probability = np.where(
        context > 0, lam * maximum_likelihood + (1.0 - lam) * unigram[token], unigram[token]
    )
    return np.log(probability)


def ngram_perplexity(train_ids, test_ids, order=2, smoothing="add_k", k=1.0, lam=0.9, vocab_size=None):
    """Perplexity of `test_ids[1:]` under a unigram or bigram model counted on `train_ids`.

    Args:
        train_ids, test_ids, order, smoothing, k, lam, vocab_size: see `ngram_log_probs`.

    Returns:
        The perplexity (float).

    Example:
        >>> ngram_perplexity([1, 2, 1, 2], [1, 2, 1], order=2, k=1.0, vocab_size=3)   # P(2|1)=3/5, P(1|2)=2/4
        1.825...
    """
    return perplexity(ngram_log_probs(train_ids, test_ids, order, smoothing, k, lam, vocab_size))
