import numpy as np
from layers.attention.attention_testing import KEY_TOKENS, to_numpy

from keras_nn.layers import make_causal_mask, make_padding_mask, merge_masks


def test_mask_helpers():
    np.testing.assert_array_equal(
        to_numpy(make_padding_mask(KEY_TOKENS[:, :4])), [[1, 1, 1, 0], [1, 1, 1, 1]]
    )
    np.testing.assert_array_equal(to_numpy(make_causal_mask(3)), np.tril(np.ones((3, 3), bool)))
    # Queries 2 and 3 of a cache of 5: query i (position 2 + i) sees keys 0 .. 2 + i.
    np.testing.assert_array_equal(
        to_numpy(make_causal_mask(2, 5, start_index=2)), [[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]]
    )
    merged = to_numpy(merge_masks(padding_mask=[[1, 1, 0]], causal_mask=make_causal_mask(3)))
    np.testing.assert_array_equal(merged, [[[1, 0, 0], [1, 1, 0], [1, 1, 0]]])
    assert merge_masks() is None
