"""Greedy search: the most likely token at every step, for any step function."""

import numpy as np

from keras_nn.samplers.steps import batch_size_of, to_numpy


def greedy_search(step_fn, states, static, start_token, end_token, max_length, pad_token=0):
    """Greedy decoding with any step function.

    Args:
        step_fn: `step_fn(tokens [B], states, *static) -> (log_probs [B, V], new_states, attention [B, S])`.
        states: the initial decoder states (any nest of `[B, ...]` tensors).
        static: a tuple of per-sequence tensors passed to every step unchanged (encoder outputs, mask).
        start_token, end_token, pad_token: token ids.
        max_length: the most output steps (end token included).

    Returns:
        `{"tokens": [B, L], "scores": [B], "lengths": [B], "attention": [B, L, S]}` with `L <= max_length`
        (the loop stops when every sequence has ended).

    Example:
    >>> result = greedy_search(model.decode_step, states, (encoder_outputs, mask), start_token=1,
    ...                        end_token=2, max_length=20)
    >>> result["tokens"]   # [B, L]: each sequence's tokens, its end token, then padding
    """
    batch = batch_size_of(states, static)
    tokens = np.full((batch,), start_token, np.int32)
    finished = np.zeros((batch,), bool)
    scores = np.zeros((batch,), np.float64)
    lengths = np.zeros((batch,), np.int32)
    outputs, attentions = [], []
    for step in range(max_length):
        log_probs, states, attention = step_fn(tokens, states, *static)
        log_probs, attention = to_numpy(log_probs), to_numpy(attention)
        chosen = log_probs.argmax(-1).astype(np.int32)
        chosen = np.where(finished, pad_token, chosen)
        scores += np.where(finished, 0.0, log_probs[np.arange(batch), chosen])
        attentions.append(np.where(finished[:, None], 0.0, attention))
        outputs.append(chosen)
        lengths = np.where(finished, lengths, step + 1)
        finished |= chosen == end_token
        tokens = chosen
        if finished.all():
            break
    return {
        "tokens": np.stack(outputs, axis=1),
        "scores": scores.astype(np.float32),
        "lengths": lengths,
        "attention": np.stack(attentions, axis=1).astype(np.float32),
    }
