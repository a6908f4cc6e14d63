import numpy as np
import pytest

from keras_nn.errors import ConfigError
from keras_nn.samplers import check_sampling, sample_next_token


def test_sampling_follows_the_tempered_top_k_softmax():
    logits = np.array([[2.0, 1.0, 0.5, 0.0, -1.0]])
    rng = np.random.default_rng(0)
    draws = sample_next_token(np.repeat(logits, 40000, axis=0), temperature=0.5, top_k=3, rng=rng)
    frequencies = np.bincount(draws, minlength=5) / len(draws)
    expected = np.exp(logits[0, :3] / 0.5) / np.exp(logits[0, :3] / 0.5).sum()
    np.testing.assert_allclose(frequencies, [*expected, 0.0, 0.0], atol=0.01)
    np.testing.assert_array_equal(sample_next_token(logits, temperature=0.0), [0])


@pytest.mark.parametrize("options", [{}, {"temperature": 0.7}, {"temperature": 1.5, "top_k": 10}])
def test_top_p_of_one_equals_plain_sampling_with_the_same_seed(options):
    logits = np.random.default_rng(1).normal(scale=3.0, size=(256, 50))
    plain = sample_next_token(logits, rng=np.random.default_rng(7), **options)
    nucleus = sample_next_token(logits, rng=np.random.default_rng(7), top_p=1.0, **options)
    np.testing.assert_array_equal(nucleus, plain)
    # The draws are random, not the argmax, so the equality is not a greedy coincidence.
    assert (plain != logits.argmax(-1)).any()


def test_check_sampling_names_the_bad_value():
    check_sampling(0.0, 5, vocab_size=5, top_p=1.0)
    with pytest.raises(ConfigError, match="temperature=-1"):
        check_sampling(-1, None, vocab_size=5)
    with pytest.raises(ConfigError, match="top_k=6"):
        check_sampling(1.0, 6, vocab_size=5)
    for bad in (0, 0.0, -0.5, 1.5, "0.9", True):
        with pytest.raises(ConfigError, match=r"top_p=.* must be a number in \(0, 1\]"):
            check_sampling(1.0, None, vocab_size=5, top_p=bad)
