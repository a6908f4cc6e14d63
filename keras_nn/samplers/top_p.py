"""Top-p (nucleus) filtering: sampling restricted to the most likely tokens that hold probability `p`
(Holtzman et al. 2020)."""

import numpy as np


def top_p_filter(logits, p):
    """Keeps the nucleus of every row, the smallest set of most likely tokens whose probability reaches `p`,
    and sets the other logits to `-inf`.

    Tokens are ranked by logit; a token survives when the probability of the tokens ranked before it is
    below `p` (the definition of Holtzman et al. and Hugging Face's `TopPLogitsWarper`), so the most likely
    token always survives. Probabilities are the softmax of `logits` as given: apply the temperature and any
    top-k filter first, and the nucleus is taken in that renormalized distribution (the order of Hugging Face's
    generation). `p >= 1` keeps every token. Among tied logits the lower token id ranks first.

    Args:
        logits: `[B, V]` NumPy logits (`-inf` for tokens already filtered out).
        p: the probability the nucleus must reach, `0 < p <= 1`.

    Returns:
        `[B, V]` float64 logits, `-inf` outside each row's nucleus.

    Example:
    >>> # probabilities 0.5, 0.3, 0.15, 0.05: 0.5 + 0.3 reaches 0.7, the third token is not needed
    >>> top_p_filter(np.log([[0.5, 0.3, 0.15, 0.05]]), 0.7)
    array([[-0.69314718, -1.2039728 ,        -inf,        -inf]])

    References:
        Holtzman, Buys, Du, Forbes & Choi, "The Curious Case of Neural Text Degeneration", ICLR 2020,
        https://arxiv.org/abs/1904.09751.
    """
    logits = np.asarray(logits, np.float64)
    if p >= 1.0:
        return logits
    order = np.argsort(-logits, axis=-1, kind="stable")
    ranked = np.take_along_axis(logits, order, axis=-1)
    probabilities = np.exp(ranked - ranked[:, :1])
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    mass_before = np.concatenate(
        [np.zeros_like(probabilities[:, :1]), np.cumsum(probabilities, axis=-1)[:, :-1]], axis=-1
    )
    keep = np.empty_like(mass_before, dtype=bool)
    np.put_along_axis(keep, order, mass_before < p, axis=-1)
    return np.where(keep, logits, -np.inf)
