import numpy as np
import pytest

from keras_nn.errors import ConfigError
from keras_nn.samplers import concatenate_steps, decode_in_batches


def test_chunks_that_end_at_different_steps_decode_like_one_batch():
    # A scripted decoder: sequence i emits token 5 until step source[i, 0], then the end token (2).
    vocab, end = 6, 2

    def start(chunk):
        chunk = np.asarray(chunk)
        return np.zeros(len(chunk), np.int32), (chunk[:, :1].astype(np.float32),)

    def step(tokens, steps, lengths):
        ends = steps + 1 >= lengths[:, 0]
        log_probs = np.full((len(tokens), vocab), -5.0, np.float32)
        log_probs[:, 5] = np.where(ends, -5.0, -0.1)
        log_probs[:, end] = np.where(ends, -0.1, -5.0)
        return log_probs, steps + 1, np.ones((len(tokens), 1), np.float32)

    source = np.array([[1], [5], [2], [1]], np.int32)  # chunks of 2 stop after 5 and 2 steps
    whole = decode_in_batches(source, start, step, 1, end, max_length=8, batch_size=4)
    chunked = decode_in_batches(source, start, step, 1, end, max_length=8, batch_size=2)
    for key in whole:
        np.testing.assert_array_equal(chunked[key], whole[key], err_msg=key)
    assert whole["tokens"].shape == (4, 5) and list(whole["lengths"]) == [1, 5, 2, 1]


def test_concatenate_steps_pads_tokens_with_the_pad_token_and_attention_with_zeros():
    tokens = concatenate_steps([np.array([[4, 2]], np.int32), np.array([[5, 5, 2]], np.int32)], pad_token=7)
    np.testing.assert_array_equal(tokens, [[4, 2, 7], [5, 5, 2]])
    attention = concatenate_steps([np.ones((1, 1, 2), np.float32), np.ones((2, 2, 2), np.float32)], pad_token=7)
    np.testing.assert_array_equal(attention, [[[1, 1], [0, 0]], [[1, 1], [1, 1]], [[1, 1], [1, 1]]])
    np.testing.assert_array_equal(concatenate_steps([np.array([1.5]), np.array([2.5, 3.5])], 0), [1.5, 2.5, 3.5])


def test_empty_and_malformed_sources():
    def unused(*_):
        raise AssertionError("an empty batch runs no decoder")

    empty = decode_in_batches(np.zeros((0, 3), np.int32), unused, unused, 1, 2, max_length=4, batch_size=2)
    assert empty["tokens"].shape == (0, 4) and empty["attention"].shape == (0, 4, 3)
    with pytest.raises(ConfigError, match=r"source must be \[batch, length\] token ids; got shape \(3,\)"):
        decode_in_batches(np.zeros(3, np.int32), unused, unused, 1, 2, max_length=4, batch_size=2)
