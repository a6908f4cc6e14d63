"""Dynamic masking for masked-language-model pretraining, in TF ops for a `tf.data` pipeline.

BERT's corruption (Devlin et al. 2019, section 3.1 and appendix A.1): about 15% of the tokens of a sequence are
selected for prediction; a selected token is replaced by `[MASK]` 80% of the time, by a random token 10% of the
time and left as it is 10% of the time, and the model predicts the original token at every selected position.
RoBERTa's dynamic masking (Liu et al. 2019, section 4.1) draws new masks each time a sequence is seen, so the
masking is applied after the cache, per batch, and `masked_dataset` feeds it a fresh seed every epoch.

How many positions: like Devlin et al.'s `create_pretraining_data.py`, a sequence with `n` selectable tokens gets
`min(num_masks, max(1, round(selection_rate * n)))` selected positions, drawn uniformly without replacement
(`round` is TF's, half to even, as Python 3's); the arguments are keras-hub's `MaskedLMMaskGenerator`'s
(`mask_selection_rate`, `mask_token_rate`, `random_token_rate`, `unselectable_token_ids`, `mask_selection_length`).
A random replacement is drawn uniformly from the non-special ids (keras-hub draws from the whole vocabulary;
drawing `[CLS]` or padding there would put framing tokens mid-sentence).

References:
    Devlin, Chang, Lee & Toutanova, "BERT: Pre-training of Deep Bidirectional Transformers for Language
    Understanding", NAACL 2019, https://arxiv.org/abs/1810.04805
    Liu et al., "RoBERTa: A Robustly Optimized BERT Pretraining Approach", 2019, https://arxiv.org/abs/1907.11692

Example:
    >>> batch = tokenizer.encode_batch(texts, sequence_length=32)
    >>> inputs, targets, weights = mask_tokens(
    ...     batch, vocab_size=tokenizer.size, mask_id=tokenizer.mask_id, special_ids=tokenizer.special_ids,
    ...     num_masks=5, seed=(0, 1))
    >>> inputs["mask_positions"].shape, targets.shape   # (N, 5), (N, 5)
"""

from __future__ import annotations

import math

import tensorflow as tf

from keras_nn.errors import ConfigError


def default_num_masks(sequence_length, selection_rate=0.15):
    """Prediction slots for sequences of `sequence_length` tokens: `ceil(selection_rate * sequence_length)`,
    at least 1 (Devlin et al. use 20 for 128 tokens; this gives 20 too)."""
    return max(1, math.ceil(selection_rate * sequence_length))


def check_masking(vocab_size, mask_id, special_ids, selection_rate, mask_token_rate, random_token_rate, num_masks):
    """Raises `ConfigError` for rates outside [0, 1], rates summing above 1, or ids outside the vocabulary;
    returns the ids a random replacement is drawn from."""
    for key, value in (
        ("selection_rate", selection_rate),
        ("mask_token_rate", mask_token_rate),
        ("random_token_rate", random_token_rate),
    ):
        if not 0.0 <= float(value) <= 1.0:
            raise ConfigError(f"masking {key}={value!r} must be in [0, 1] (BERT: 0.15, 0.8, 0.1)")
    if mask_token_rate + random_token_rate > 1.0:
        raise ConfigError(
            f"masking mask_token_rate + random_token_rate = {mask_token_rate + random_token_rate:g} exceeds 1; "
            "the rest (BERT: 0.1) keeps the token"
        )
    if isinstance(num_masks, bool) or not isinstance(num_masks, int) or num_masks < 1:
        raise ConfigError(f"masking num_masks={num_masks!r} must be a positive integer (prediction slots a sequence)")
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
        raise ConfigError(f"masking vocab_size={vocab_size!r} must be an integer (the tokenizer's size)")
    special = sorted({int(i) for i in special_ids} | {int(mask_id)})
    if special[0] < 0 or special[-1] >= vocab_size:
        raise ConfigError(f"special ids {special} must lie in [0, vocab_size={vocab_size})")
    allowed = [i for i in range(vocab_size) if i not in special]
    if not allowed:
        raise ConfigError(f"vocab_size={vocab_size} leaves no id besides the special ones {special} to predict")
    return allowed


def _draws(seed, shape, allowed):
    """Selection scores, replacement decisions (uniform [0, 1)) and random replacement ids, all of `shape`."""
    if seed is None:
        return (
            tf.random.uniform(shape),
            tf.random.uniform(shape),
            tf.gather(allowed, tf.random.uniform(shape, maxval=tf.size(allowed), dtype=tf.int32)),
        )
    seed = tf.convert_to_tensor(seed, tf.int64)
    if seed.shape.rank == 0:
        seed = tf.stack([seed, tf.constant(0, tf.int64)])
    seeds = tf.random.experimental.stateless_split(seed, 3)
    return (
        tf.random.stateless_uniform(shape, seeds[0]),
        tf.random.stateless_uniform(shape, seeds[1]),
        tf.gather(allowed, tf.random.stateless_uniform(shape, seeds[2], maxval=tf.size(allowed), dtype=tf.int32)),
    )


def mask_tokens(
    token_ids,
    *,
    vocab_size,
    mask_id,
    special_ids,
    selection_rate=0.15,
    mask_token_rate=0.8,
    random_token_rate=0.1,
    num_masks,
    seed=None,
):
    """Selects positions to predict and corrupts them with the 80/10/10 rule (TF ops; works in `Dataset.map`).

    Args:
        token_ids: `[B, L]` or `[L]` int ids, or the encoder dict (`token_ids`, `segment_ids`, `padding_mask`,
            e.g. from `BertTokenizer.encode_batch`); its other entries pass through. Given ids alone, the segment
            ids are 0 and the padding mask is `token_ids != 0` (keras-nn's padding id).
        vocab_size: the vocabulary size (random replacements lie in `[0, vocab_size)`).
        mask_id: the `[MASK]` id.
        special_ids: ids never selected and never drawn as a replacement (padding, `[CLS]`, `[SEP]`, ...).
        selection_rate: share of the selectable tokens of a sequence to predict.
        mask_token_rate: share of the selected tokens replaced by `[MASK]`.
        random_token_rate: share replaced by a random non-special id; the rest keep their token.
        num_masks: prediction slots per sequence (a sequence with fewer selected tokens leaves slots unused).
        seed: None for TF's stateful random ops, or a stateless seed (an int or a pair of ints, a tensor in a
            pipeline): the same seed gives the same masks. Inside `Dataset.map`, unseeded ops repeat their draws
            every epoch once a global seed is set (`keras.utils.set_random_seed`); `masked_dataset` passes a
            fresh seed per batch and epoch instead.

    Returns:
        `(inputs, targets, sample_weight)`: `inputs` the encoder dict with the corrupted `token_ids` and
        `mask_positions [B, num_masks]` int32 (used slots first, ascending; unused slots point at 0);
        `targets [B, num_masks]` int32, the original ids there (0 in unused slots); `sample_weight
        [B, num_masks]` float32, 1 in used slots and 0 in unused ones. Unbatched input gives unbatched output.
    """
    allowed = tf.constant(
        check_masking(vocab_size, mask_id, special_ids, selection_rate, mask_token_rate, random_token_rate, num_masks),
        tf.int32,
    )
    features = dict(token_ids) if isinstance(token_ids, dict) else {"token_ids": token_ids}
    ids = tf.cast(features["token_ids"], tf.int32)
    features.setdefault("segment_ids", tf.zeros_like(ids))
    features.setdefault("padding_mask", tf.cast(tf.not_equal(ids, 0), tf.int32))
    unbatched = ids.shape.rank == 1
    if unbatched:
        ids = ids[None]
    shape = tf.shape(ids)
    length = shape[1]
    scores, decisions, replacements = _draws(seed, shape, allowed)

    special = tf.constant(sorted({int(i) for i in special_ids} | {int(mask_id)}), tf.int32)
    selectable = tf.reduce_all(tf.not_equal(ids[..., None], special), axis=-1)
    available = tf.reduce_sum(tf.cast(selectable, tf.int32), axis=1)
    wanted = tf.cast(tf.round(selection_rate * tf.cast(available, tf.float32)), tf.int32)
    count = tf.where(available > 0, tf.clip_by_value(wanted, 1, num_masks), 0)

    # The `count` highest random scores among the selectable positions are a uniform draw without replacement;
    # the -1 columns let a sequence shorter than num_masks fill its slots (as unused ones).
    scores = tf.where(selectable, scores, -1.0)
    scores = tf.concat([scores, -tf.ones([shape[0], num_masks])], axis=1)
    top_scores, top_positions = tf.math.top_k(scores, k=num_masks)
    used = (tf.range(num_masks)[None] < count[:, None]) & (top_scores >= 0.0)
    # Ascending positions, unused slots last.
    ordered = tf.sort(tf.where(used, top_positions, length + num_masks), axis=1)
    used = ordered < length
    positions = tf.where(used, ordered, 0)

    selected = tf.reduce_any(tf.one_hot(positions, length, on_value=True, off_value=False) & used[..., None], axis=1)
    corrupted = tf.where(selected & (decisions < mask_token_rate), tf.cast(mask_id, tf.int32), ids)
    random_band = (decisions >= mask_token_rate) & (decisions < mask_token_rate + random_token_rate)
    corrupted = tf.where(selected & random_band, replacements, corrupted)
    targets = tf.where(used, tf.gather(ids, positions, batch_dims=1), 0)
    weights = tf.cast(used, tf.float32)
    if unbatched:
        corrupted, positions, targets, weights = corrupted[0], positions[0], targets[0], weights[0]
    inputs = {**features, "token_ids": corrupted, "mask_positions": positions}
    return inputs, targets, weights


def masked_dataset(dataset, *, seed, rerandomize=True, **masking):
    """`dataset` (of encoder dicts, batched or not) through `mask_tokens`, with a new stateless seed per element.

    Args:
        dataset: a `tf.data.Dataset` of encoder dicts (or of token id tensors).
        seed: the masks' seed: the same seed gives the same sequence of masks.
        rerandomize: new masks every pass over the dataset (every epoch; dynamic masking for training);
            False gives the same masks on every pass (a fixed held-out set).
        **masking: `mask_tokens` keyword arguments (`vocab_size`, `mask_id`, `special_ids`, `num_masks`, ...).

    Returns:
        A dataset of `(inputs, targets, sample_weight)`.
    """
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=rerandomize)
    return tf.data.Dataset.zip((dataset, seeds)).map(
        lambda features, draw: mask_tokens(features, seed=tf.stack([draw, tf.constant(seed, tf.int64)]), **masking),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
