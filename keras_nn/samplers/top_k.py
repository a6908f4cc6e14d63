"""Top-k filtering: sampling restricted to the k most likely tokens (Fan et al. 2018)."""

import numpy as np


def top_k_filter(logits, k):
    """Keeps the `k` largest logits of every row and sets the others to `-inf`.

    Exactly `k` tokens survive per row, even when logits tie at the k-th value (which of the tied ones is
    kept is unspecified).

    Args:
        logits: `[B, V]` NumPy logits.
        k: tokens to keep, `1 <= k`; `k >= V` keeps every token.

    Returns:
        `[B, V]` float64 logits, `-inf` outside each row's top `k`.

    Example:
    >>> top_k_filter(np.array([[2.0, 1.0, 0.5, 0.0]]), 2)
    array([[  2.,   1., -inf, -inf]])

    References:
        Fan, Lewis & Dauphin, "Hierarchical Neural Story Generation", ACL 2018,
        https://arxiv.org/abs/1805.04833.
    """
    logits = np.asarray(logits, np.float64)
    if k >= logits.shape[-1]:
        return logits
    keep = np.argpartition(-logits, k - 1, axis=-1)[:, :k]
    kept = np.full_like(logits, -np.inf)
    np.put_along_axis(kept, keep, np.take_along_axis(logits, keep, axis=-1), axis=-1)
    return kept
