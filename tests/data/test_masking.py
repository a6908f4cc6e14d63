"""Dynamic masking: the 15% selection and 80/10/10 rule (Devlin et al. 2019, section 3.1) on a large batch."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nn.data.masking import default_num_masks, mask_tokens, masked_dataset
from keras_nn.errors import ConfigError

SPECIAL = (0, 1, 2, 3, 4)
VOCAB = 1000
ARGS = {"vocab_size": VOCAB, "mask_id": 4, "special_ids": SPECIAL}


def framed_batch(rows=4000, length=64, seed=0):
    """`[CLS] words [SEP]` then padding, with words drawn from the non-special ids and lengths 1..length-2."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((rows, length), np.int32)
    words = rng.integers(1, length - 1, size=rows)
    for row, count in enumerate(words):
        ids[row, 0] = 2
        ids[row, 1 : count + 1] = rng.integers(5, VOCAB, size=count)
        ids[row, count + 1] = 3
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": (ids != 0).astype(np.int32)}, words


@pytest.fixture(scope="module")
def large():
    batch, words = framed_batch()
    num_masks = default_num_masks(64)  # 10 slots
    inputs, targets, weights = mask_tokens(batch, num_masks=num_masks, seed=(7, 7), **ARGS)
    return batch, words, num_masks, {k: np.asarray(v) for k, v in inputs.items()}, np.asarray(targets), np.asarray(weights)


def test_selection_count_is_devlins_rounded_15_percent(large):
    batch, words, num_masks, _, _, weights = large
    # create_pretraining_data.py: min(max_predictions, max(1, round(n * 0.15))) (round half to even, as numpy)
    expected = np.minimum(num_masks, np.maximum(1, np.round(0.15 * words)))
    np.testing.assert_array_equal(weights.sum(1), expected)
    rate = weights.sum() / words.sum()
    # Rounding each sentence's count moves the rate by at most 0.5 / n per sentence; with lengths 1..62 the
    # "at least 1" of the short ones pushes it above 0.15: the hand-computed share, then the broad bound.
    assert rate == pytest.approx(expected.sum() / words.sum())
    assert 0.14 < rate < 0.17


def test_80_10_10_replacement_proportions(large):
    batch, _, _, inputs, targets, weights = large
    used = weights > 0
    positions = inputs["mask_positions"]
    now = np.take_along_axis(inputs["token_ids"], positions, 1)[used]
    original = targets[used]
    n = original.size  # about 34,000 selected tokens
    masked = np.mean(now == 4)
    randomized = np.mean((now != 4) & (now != original))
    kept = np.mean(now == original)
    # A random draw equals the original with probability 1/995 (uniform over the non-special ids), so the
    # expected shares are 0.8, 0.1 * 994/995 and 0.1 + 0.1/995. Bounds: 5 binomial standard deviations.
    allowed = VOCAB - len(SPECIAL)
    for share, p in ((masked, 0.8), (randomized, 0.1 * (allowed - 1) / allowed), (kept, 0.1 + 0.1 / allowed)):
        assert abs(share - p) < 5 * np.sqrt(p * (1 - p) / n), (share, p)
    # Random replacements are never special ids.
    assert not np.isin(now[(now != 4) & (now != original)], SPECIAL).any()


def test_positions_are_uniform_over_the_sentence(large):
    _, words, _, inputs, _, weights = large
    # Sentences of 62 words (the longest): each word position is selected with probability 9/62.
    rows = words == 62
    hits = np.zeros(64)
    for row_positions, row_weights in zip(inputs["mask_positions"][rows], weights[rows], strict=True):
        hits[row_positions[row_weights > 0]] += 1
    n, p = rows.sum(), 9 / 62
    assert hits[0] == hits[63] == 0
    assert np.all(np.abs(hits[1:63] - n * p) < 5 * np.sqrt(n * p * (1 - p)) + 1)


def test_special_tokens_and_padding_are_never_selected_nor_changed(large):
    batch, _, _, inputs, targets, weights = large
    used = weights > 0
    ids = batch["token_ids"]
    assert not np.isin(targets[used], SPECIAL).any()
    selected = np.zeros(ids.shape, bool)
    rows = np.nonzero(used)[0]
    selected[rows, inputs["mask_positions"][used]] = True
    assert batch["padding_mask"][selected].all()
    # Every unselected position, specials and padding included, is left as it was.
    np.testing.assert_array_equal(inputs["token_ids"][~selected], ids[~selected])
    np.testing.assert_array_equal(inputs["padding_mask"], batch["padding_mask"])
    np.testing.assert_array_equal(inputs["segment_ids"], batch["segment_ids"])
    # Used slots first, ascending; unused slots point at 0 with target 0.
    for row_positions, row_used in zip(inputs["mask_positions"], used, strict=True):
        assert np.all(np.diff(row_positions[row_used]) > 0) and not row_used[np.argmin(row_used):].any()
    assert np.all(inputs["mask_positions"][~used] == 0) and np.all(targets[~used] == 0)


def test_fewer_selectable_tokens_than_slots_leave_unused_slots_at_weight_0():
    ids = np.array([[2, 3, 0, 0, 0, 0], [2, 9, 3, 0, 0, 0], [2, 4, 1, 3, 0, 0]], np.int32)
    inputs, targets, weights = mask_tokens(ids, num_masks=3, seed=0, **ARGS)
    np.testing.assert_array_equal(weights, [[0, 0, 0], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(targets, [[0, 0, 0], [9, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(inputs["mask_positions"][1], [1, 0, 0])
    # Given ids alone: segment 0, padding mask from id 0; an unbatched sequence gives unbatched outputs.
    np.testing.assert_array_equal(inputs["padding_mask"], ids != 0)
    single, target, weight = mask_tokens(ids[1], num_masks=3, seed=0, **ARGS)
    assert single["mask_positions"].shape == (3,) and target.shape == (3,) and weight.shape == (3,)


def test_same_seed_same_masks_and_each_epoch_new_masks():
    batch, _ = framed_batch(rows=64, length=16, seed=1)
    first = mask_tokens(batch, num_masks=3, seed=(1, 2), **ARGS)
    second = mask_tokens(batch, num_masks=3, seed=(1, 2), **ARGS)
    np.testing.assert_array_equal(first[0]["token_ids"], second[0]["token_ids"])

    # The global seed a run sets would freeze unseeded random ops in Dataset.map; masked_dataset must not.
    keras.utils.set_random_seed(0)
    examples = tf.data.Dataset.from_tensor_slices(batch).batch(16)

    def epoch(dataset):
        return np.concatenate([x["mask_positions"] for x, _, _ in dataset.as_numpy_iterator()])

    dynamic = masked_dataset(examples, seed=5, num_masks=3, **ARGS)
    one, two = epoch(dynamic), epoch(dynamic)
    assert not np.array_equal(one, two)
    # Reproducible: the same seed gives the same sequence of epochs.
    again = masked_dataset(examples, seed=5, num_masks=3, **ARGS)
    np.testing.assert_array_equal(epoch(again), one)
    fixed = masked_dataset(examples, seed=5, rerandomize=False, num_masks=3, **ARGS)
    np.testing.assert_array_equal(epoch(fixed), epoch(fixed))


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"selection_rate": 1.5}, "selection_rate"),
        ({"mask_token_rate": 0.95}, "exceeds 1"),
        ({"num_masks": 0}, "num_masks"),
        ({"vocab_size": 4}, "special ids"),
    ],
)
def test_bad_settings_name_the_value(changes, match):
    arguments = {**ARGS, "num_masks": 2, **changes}
    with pytest.raises(ConfigError, match=match):
        mask_tokens(np.array([[2, 7, 3]], np.int32), **arguments)
