import numpy as np

from keras_nn.samplers import top_k_filter


def test_keeps_exactly_the_k_largest_logits_of_each_row():
    logits = np.array([[0.5, 2.0, -1.0, 1.0], [3.0, 0.0, 4.0, -2.0]])
    np.testing.assert_array_equal(
        top_k_filter(logits, 2), [[-np.inf, 2.0, -np.inf, 1.0], [3.0, -np.inf, 4.0, -np.inf]]
    )
    np.testing.assert_array_equal(top_k_filter(logits, 4), logits)
    np.testing.assert_array_equal(top_k_filter(logits, 9), logits)


def test_ties_at_the_kth_value_still_leave_exactly_k():
    kept = top_k_filter(np.array([[1.0, 1.0, 1.0, 0.0]]), 2)
    assert np.isfinite(kept).sum() == 2 and set(kept[np.isfinite(kept)]) == {1.0}
