import math

import keras
import numpy as np
import pytest

from keras_nn.errors import ConfigError, DataError
from keras_nn.metrics import bits_per_character, ngram_log_probs, ngram_perplexity, perplexity
from keras_nn.metrics.perplexity import target_log_probs


def test_perplexity_by_hand():
    # exp(-(ln 1/2 + ln 1/4 + ln 1/8) / 3) = exp(ln 8 * 2 / 3) = 4.
    assert perplexity(np.log([0.5, 0.25, 0.125])) == pytest.approx(4.0)
    assert perplexity(cross_entropy=math.log(7.0)) == pytest.approx(7.0)
    # A uniform guess over V tokens has perplexity V.
    assert perplexity(np.full((3, 5), -math.log(11.0))) == pytest.approx(11.0)


def test_perplexity_is_exp_of_keras_cross_entropy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 6, 9)).astype(np.float32)
    targets = rng.integers(0, 9, size=(4, 6))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(targets, logits)
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    log_probs = np.take_along_axis(log_softmax, targets[..., None], -1)
    assert perplexity(log_probs) == pytest.approx(math.exp(float(loss)), rel=1e-5)
    assert perplexity(cross_entropy=float(loss)) == pytest.approx(perplexity(log_probs), rel=1e-5)


def test_bits_per_character_by_hand():
    assert bits_per_character(cross_entropy=math.log(2.0)) == pytest.approx(1.0)
    assert bits_per_character(np.log([0.25, 0.25])) == pytest.approx(2.0)
    # Two subword tokens of probability 1/4 spelling 8 characters: 4 bits / 8 characters.
    assert bits_per_character(np.log([0.25, 0.25]), num_characters=8) == pytest.approx(0.5)


def test_unigram_add_k_by_hand():
    train, test = [1, 1, 1, 2], [0, 1, 2, 3]
    # V = 4, k = 1: P(w) = (c(w) + 1) / (4 + 4): P(1) = 4/8, P(2) = 2/8, P(3) = 1/8 (never seen).
    expected = [math.log(4 / 8), math.log(2 / 8), math.log(1 / 8)]
    np.testing.assert_allclose(ngram_log_probs(train, test, order=1, vocab_size=4), expected)
    assert ngram_perplexity(train, test, order=1, vocab_size=4) == pytest.approx(math.exp(-sum(expected) / 3))


def test_bigram_add_k_by_hand():
    train, test = [1, 2, 1, 2], [1, 2, 1, 1]
    # Pairs (1,2) x2, (2,1) x1; histories c(1) = 2, c(2) = 1; V = 3, k = 0.5.
    # P(2|1) = 2.5 / 3.5, P(1|2) = 1.5 / 2.5, P(1|1) = 0.5 / 3.5.
    expected = np.log([2.5 / 3.5, 1.5 / 2.5, 0.5 / 3.5])
    np.testing.assert_allclose(ngram_log_probs(train, test, order=2, k=0.5, vocab_size=3), expected)


def test_bigram_interpolated_by_hand():
    train, test = [1, 2, 1, 2], [1, 2, 0, 1]
    # Unigram add-1 over V = 3: P(0) = 1/7, P(1) = 3/7, P(2) = 3/7. lam = 0.8.
    # P(2|1) = .8 * 2/2 + .2 * 3/7; P(0|2) = .8 * 0/1 + .2 * 1/7; history 0 never seen: P(1|0) = P(1) = 3/7.
    expected = np.log([0.8 + 0.2 * 3 / 7, 0.2 / 7, 3 / 7])
    got = ngram_log_probs(train, test, order=2, smoothing="interpolated", lam=0.8, vocab_size=3)
    np.testing.assert_allclose(got, expected)


def test_bigram_beats_unigram_on_a_deterministic_cycle():
    cycle = np.tile([1, 2, 3, 4], 50)
    assert ngram_perplexity(cycle, cycle, order=2, k=0.01) < 1.1
    assert ngram_perplexity(cycle, cycle, order=1) == pytest.approx(4.0, rel=0.05)


def test_bad_arguments_name_the_fix():
    with pytest.raises(ConfigError, match="exactly one"):
        perplexity()
    with pytest.raises(ConfigError, match="order=3"):
        ngram_perplexity([1, 2], [1, 2], order=3)
    with pytest.raises(ConfigError, match="smoothing='kneser_ney'"):
        ngram_perplexity([1, 2], [1, 2], smoothing="kneser_ney")
    with pytest.raises(DataError, match="vocab_size=2"):
        ngram_perplexity([1, 2], [1, 2], vocab_size=2)
    with pytest.raises(DataError, match="at least 2"):
        ngram_perplexity([1], [1, 2])


def test_target_log_probs_by_hand():
    # Row 1: logits log(0.5), log(0.25), log(0.25) -> target 1 has log 0.25. Row 2: equal logits -> log(1/3).
    logits = np.log(np.array([[[0.5, 0.25, 0.25], [1.0, 1.0, 1.0]]], np.float32))
    got = target_log_probs(logits, np.array([[1, 2]]))
    assert got.dtype == np.float64 and got.shape == (1, 2)
    np.testing.assert_allclose(got, [[np.log(0.25), np.log(1 / 3)]], rtol=1e-6)
