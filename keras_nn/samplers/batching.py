"""Decoding a batch of sources in chunks: the search runs on each chunk, the results are joined."""

import numpy as np

from keras_nn.errors import ConfigError
from keras_nn.samplers.beam import beam_search
from keras_nn.samplers.greedy import greedy_search
from keras_nn.samplers.steps import to_numpy


def decode_in_batches(
    source, start_fn, step_fn, start_token, end_token, max_length, batch_size, beam_width=None, length_penalty=0.0,
    pad_token=0,
):
    """Greedy (`beam_width=None`) or beam search over `source` in chunks of `batch_size`, results concatenated.

    Args:
        source: `[B, S]` int source ids.
        start_fn: `start_fn(chunk [b, S]) -> (states, static)`: the initial decoder states and the per-sequence
            tensors every step reads (see `greedy_search`).
        step_fn, start_token, end_token, max_length, pad_token: as `greedy_search`.
        batch_size: sources decoded at once.
        beam_width, length_penalty: as `beam_search`.

    Returns:
        The search's result dict for all of `source` (empty arrays for an empty batch).

    Example:
    >>> def start(chunk):
    ...     encoder_outputs, states, mask = model.encode(chunk)
    ...     return states, (encoder_outputs, mask)
    >>> result = decode_in_batches(source, start, model.decode_step, 1, 2, max_length=20, batch_size=256,
    ...                            beam_width=4, length_penalty=0.6)
    """
    source = to_numpy(source).astype(np.int32)
    if source.ndim != 2:
        raise ConfigError(f"source must be [batch, length] token ids; got shape {source.shape}")
    parts = []
    for begin in range(0, len(source), batch_size):
        states, static = start_fn(source[begin : begin + batch_size])
        if beam_width is None:
            parts.append(greedy_search(step_fn, states, static, start_token, end_token, max_length, pad_token))
        else:
            parts.append(
                beam_search(
                    step_fn, states, static, start_token, end_token, max_length,
                    beam_width=beam_width, length_penalty=length_penalty, pad_token=pad_token,
                )
            )
    if not parts:
        empty = {"tokens": np.zeros((0, max_length), np.int32), "scores": np.zeros((0,), np.float32)}
        return {**empty, "lengths": np.zeros((0,), np.int32), "attention": np.zeros((0, max_length, source.shape[1]), np.float32)}
    return {key: concatenate_steps([part[key] for part in parts], pad_token) for key in parts[0]}


def concatenate_steps(arrays, pad_token):
    """Concatenates per-chunk results along the batch; chunks that stopped after fewer steps are padded (with
    `pad_token` for tokens, zeros for attention) to the longest, since every chunk stops when its own
    sequences have all ended.

    Args:
        arrays: one result array per chunk (`[b]`, `[b, L]` or `[b, L, S]`; `L` may differ between chunks).
        pad_token: the fill of integer arrays past a chunk's last step.

    Returns:
        One array over every chunk's batch, with the longest chunk's steps.
    """
    if arrays[0].ndim < 2:
        return np.concatenate(arrays)
    steps = max(array.shape[1] for array in arrays)
    fill = pad_token if np.issubdtype(arrays[0].dtype, np.integer) else 0
    padded = [
        np.pad(array, [(0, 0), (0, steps - array.shape[1])] + [(0, 0)] * (array.ndim - 2), constant_values=fill)
        for array in arrays
    ]
    return np.concatenate(padded)
