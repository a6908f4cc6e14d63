"""Beam search with the GNMT length penalty, for any step function."""

import keras
import numpy as np
from keras import ops

from keras_nn.samplers.steps import batch_size_of, to_numpy


def length_penalty_factor(lengths, alpha):
    """GNMT length normalization `((5 + length) / 6) ** alpha` (Wu et al. 2016); 1 when `alpha` is 0.

    Args:
        lengths: hypothesis lengths (a number or an array).
        alpha: the length penalty exponent (0: no normalization).

    Returns:
        The divisor of each hypothesis's log-probability (float64, the shape of `lengths`).
    """
    return ((5.0 + np.asarray(lengths, np.float64)) / 6.0) ** alpha


def _map(function, tree):
    return keras.tree.map_structure(function, tree)


def beam_search(step_fn, states, static, start_token, end_token, max_length, beam_width=4, length_penalty=0.0, pad_token=0):
    """Beam search with any step function, ranking hypotheses by length-normalized log-probability.

    Each source keeps `beam_width` hypotheses. At every step each live hypothesis is extended by every token;
    a finished one (it emitted `end_token`) is carried on unchanged (extended by padding at no cost). The
    `beam_width` best candidates by `log_prob / ((5 + length) / 6) ** length_penalty` survive. The search
    stops when every hypothesis has ended or after `max_length` steps. With `beam_width=1` it is greedy
    search.

    Args:
        step_fn, states, static, start_token, end_token, max_length, pad_token: as `greedy_search`.
        beam_width: hypotheses per source.
        length_penalty: the GNMT `alpha` (0: no length normalization).

    Returns:
        `{"tokens": [B, L], "scores": [B] raw log-probabilities, "normalized_scores": [B], "lengths": [B],
        "attention": [B, L, S]}` of each source's best hypothesis.

    Example:
    >>> result = beam_search(model.decode_step, states, (encoder_outputs, mask), start_token=1, end_token=2,
    ...                      max_length=20, beam_width=4, length_penalty=0.6)
    >>> result["tokens"], result["normalized_scores"]

    References:
        Wu et al., "Google's Neural Machine Translation System", 2016 (length penalty),
        https://arxiv.org/abs/1609.08144.
    """
    width = int(beam_width)
    batch = batch_size_of(states, static)

    def tile(tensor):
        return ops.repeat(tensor, width, axis=0)

    states, static = _map(tile, states), _map(tile, static)
    scores = np.full((batch, width), -np.inf)
    scores[:, 0] = 0.0  # one live hypothesis per source at the start
    finished = np.zeros((batch, width), bool)
    lengths = np.zeros((batch, width), np.int32)
    history = np.zeros((batch, width, 0), np.int32)
    attention_history = None
    tokens = np.full((batch * width,), start_token, np.int32)
    rows = np.arange(batch)[:, None]
    for step in range(max_length):
        log_probs, new_states, attention = step_fn(tokens, states, *static)
        log_probs = to_numpy(log_probs).astype(np.float64).reshape(batch, width, -1)
        vocab = log_probs.shape[-1]
        attention = to_numpy(attention).reshape(batch, width, -1)
        candidates = scores[..., None] + log_probs
        # A finished hypothesis has one continuation: padding, at no cost.
        candidates = np.where(finished[..., None], -np.inf, candidates)
        candidates[..., pad_token] = np.where(finished, scores, candidates[..., pad_token])
        candidate_lengths = np.where(finished, lengths, step + 1)[..., None]
        ranked = candidates / length_penalty_factor(candidate_lengths, length_penalty)
        ranked = np.where(np.isnan(ranked), -np.inf, ranked)
        # A stable sort keeps the lowest (beam, token) among ties, as argmax does in greedy search.
        best = np.argsort(-ranked.reshape(batch, -1), axis=1, kind="stable")[:, :width]
        parent, token = best // vocab, (best % vocab).astype(np.int32)
        scores = candidates.reshape(batch, -1)[rows, best]
        was_finished = finished[rows, parent]
        lengths = np.where(was_finished, lengths[rows, parent], step + 1)
        finished = was_finished | (token == end_token)
        history = np.concatenate([history[rows, parent], token[..., None]], axis=-1)
        step_attention = np.where(was_finished[..., None], 0.0, attention[rows, parent])[:, :, None]
        attention_history = (
            step_attention if attention_history is None
            else np.concatenate([attention_history[rows, parent], step_attention], axis=2)
        )
        flat_parent = (rows * width + parent).reshape(-1)
        states = _map(lambda s, index=flat_parent: ops.take(s, index, axis=0), new_states)
        tokens = token.reshape(-1)
        if finished.all():
            break
    normalized = scores / length_penalty_factor(np.maximum(lengths, 1), length_penalty)
    choice = np.argmax(np.where(np.isnan(normalized), -np.inf, normalized), axis=1)
    index = np.arange(batch)
    return {
        "tokens": history[index, choice],
        "scores": scores[index, choice].astype(np.float32),
        "normalized_scores": normalized[index, choice].astype(np.float32),
        "lengths": lengths[index, choice],
        "attention": attention_history[index, choice].astype(np.float32),
    }
