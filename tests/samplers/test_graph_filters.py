"""`filter_logits` (keras.ops, for compiled loops) against the NumPy filters `sample_next_token` uses."""

import numpy as np
import pytest
from keras import ops

from keras_nn.samplers import filter_logits, top_k_filter, top_p_filter

RNG = np.random.default_rng(0)


@pytest.mark.parametrize(
    "temperature, top_k, top_p",
    [(1.0, None, None), (0.7, 5, None), (1.0, None, 0.9), (1.3, 20, 0.6), (1.0, 1, None), (0.5, 64, 0.999)],
)
def test_equals_the_numpy_filters(temperature, top_k, top_p):
    logits = RNG.normal(size=(6, 64)).astype("float32") * 3.0
    expected = logits.astype(np.float64) / temperature
    if top_k is not None:
        expected = top_k_filter(expected, top_k)
    if top_p is not None:
        expected = top_p_filter(expected, top_p)
    got = ops.convert_to_numpy(filter_logits(ops.convert_to_tensor(logits), temperature, top_k, top_p))
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(expected))
    kept = np.isfinite(expected)
    np.testing.assert_allclose(got[kept], expected[kept], rtol=1e-6)
    if top_k is not None and top_p is None:
        assert (np.isfinite(got).sum(-1) == min(top_k, 64)).all()


def test_nucleus_by_hand():
    # probabilities 0.5, 0.3, 0.15, 0.05: 0.5 + 0.3 reaches 0.7, so the last two go.
    got = ops.convert_to_numpy(filter_logits(ops.log(ops.convert_to_tensor([[0.5, 0.3, 0.15, 0.05]])), top_p=0.7))
    np.testing.assert_allclose(got[0, :2], np.log([0.5, 0.3]), rtol=1e-6)
    assert np.isneginf(got[0, 2:]).all()


def test_ties_at_the_kth_value_are_all_kept():
    got = ops.convert_to_numpy(filter_logits(ops.convert_to_tensor([[3.0, 2.0, 2.0, 1.0]]), top_k=2))
    np.testing.assert_array_equal(np.isfinite(got[0]), [True, True, True, False])
