"""Temperature, top-k and top-p filtering of logits in `keras.ops`, for sampling inside a compiled decoding loop.

They compute what `top_k_filter`, `top_p_filter` and the temperature of `sample_next_token` compute in NumPy, in
the logits' own dtype (float32 where the NumPy functions use float64), so a whole generation loop can run as one
compiled program. With the Gumbel noise a NumPy generator draws for `sample_next_token`, `argmax(filtered + noise)`
picks the same token, except where two candidates' filtered logits plus noise, or a nucleus boundary, differ by
less than float32 rounding.
"""

from keras import ops


def filter_logits(logits, temperature=1.0, top_k=None, top_p=None):
    """`logits / temperature`, then `-inf` outside each row's `top_k` largest and outside the nucleus `top_p`.

    Ties at the k-th value are all kept (Hugging Face's `TopKLogitsWarper` rule; `top_k_filter` keeps exactly k,
    so the two differ only when the k-th logit of a row is tied). Which of two tied logits the nucleus ranks first
    is the backend sort's choice (`top_p_filter` ranks the lower id first).

    Args:
        logits: `[B, V]` float logits (a tensor of any Keras backend).
        temperature: softmax temperature, > 0 (greedy decoding takes the argmax and never calls this).
        top_k: tokens to keep per row, or None (all).
        top_p: probability of the nucleus, in `(0, 1]`, or None (all).

    Returns:
        `[B, V]` logits of the input's dtype, `-inf` where filtered out.

    Example:
    >>> filter_logits(ops.log(ops.array([[0.5, 0.3, 0.15, 0.05]])), top_p=0.7)   # [[-0.69, -1.20, -inf, -inf]]

    References:
        Fan, Lewis & Dauphin, "Hierarchical Neural Story Generation", ACL 2018 (top-k sampling).
        Holtzman, Buys, Du, Forbes & Choi, "The Curious Case of Neural Text Degeneration", ICLR 2020 (top-p
        sampling), https://arxiv.org/abs/1904.09751.
    """
    logits = logits / ops.cast(temperature, logits.dtype)
    negative_infinity = ops.cast(float("-inf"), logits.dtype)
    vocab_size = logits.shape[-1]
    if top_k is not None and top_k < vocab_size:
        kth = ops.top_k(logits, top_k, sorted=True)[0][:, top_k - 1 : top_k]
        logits = ops.where(logits < kth, negative_infinity, logits)
    if top_p is not None and top_p < 1.0:
        order = ops.argsort(-logits, axis=-1)
        probabilities = ops.softmax(ops.take_along_axis(logits, order, axis=-1), axis=-1)
        cumulative = ops.cumsum(probabilities, axis=-1)
        mass_before = ops.concatenate([ops.zeros_like(cumulative[:, :1]), cumulative[:, :-1]], axis=-1)
        keep = ops.take_along_axis(mass_before < top_p, ops.argsort(order, axis=-1), axis=-1)
        logits = ops.where(keep, logits, negative_infinity)
    return logits
