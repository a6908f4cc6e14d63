"""`MultiHeadAttention` against `keras.layers.MultiHeadAttention` beyond the plain call: Keras masks on query,
value and key, the mask-derived and explicit attention masks, the causal and sliding-window masks, the gate,
regularizers, constraints, the dropout seed, flash attention and Keras's config.

What is checked follows Keras's own tests (keras/src/layers/attention/multi_head_attention_test.py:
`test_query_mask_propagation`, `test_masking` (query/value/key masks combined with `use_causal_mask`),
`test_correctness`, `test_dropout`, `test_flash_attention_with_errors`, `test_get_config`, `test_sliding_window`,
`test_use_gate`): the same weights give the same outputs and scores to 1e-6.

Deliberate differences, pinned here: a query row whose every key is masked gets zero attention in keras-nn on
every path (Keras: zero on its softmax path, a uniform average on its fused path); an explicit `query_mask`
is applied (Keras reads only the query tensor's own mask); the inputs keep their Keras masks after the call
(Keras deletes them).
"""

import keras
import numpy as np
import pytest
from keras.src.backend.common.masking import get_keras_mask
from layers.attention.attention_testing import to_numpy

from keras_nn.errors import ConfigError
from keras_nn.layers import MultiHeadAttention

RNG = np.random.default_rng(7)
QUERY = RNG.normal(size=(2, 5, 8)).astype("float32")
VALUE = RNG.normal(size=(2, 7, 6)).astype("float32")
KEY = RNG.normal(size=(2, 7, 4)).astype("float32")
QUERY_KEEP = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
VALUE_KEEP = np.array([[1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1, 0]], bool)
KEY_KEEP = np.array([[1, 1, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 1]], bool)


def masked(array, keep):
    """`array` with padding rows zeroed and the Keras mask that `Masking` attaches to them."""
    return keras.layers.Masking(0.0)(np.where(keep[..., None], array, 0.0).astype("float32"))


def paired(key=None, **kwargs):
    theirs = keras.layers.MultiHeadAttention(**kwargs)
    ours = MultiHeadAttention(**kwargs)
    theirs(QUERY, VALUE, key)
    ours(QUERY, VALUE, key)
    ours.set_weights(theirs.get_weights())
    return ours, theirs


MASK_CASES = {
    "query": dict(query=QUERY_KEEP),
    "value": dict(value=VALUE_KEEP),
    "key": dict(key=KEY_KEEP),
    "all": dict(query=QUERY_KEEP, value=VALUE_KEEP, key=KEY_KEEP),
    "all+causal": dict(query=QUERY_KEEP, value=VALUE_KEEP, key=KEY_KEEP, causal=True),
    "value+attention": dict(value=VALUE_KEEP, attention=True),
}


def masked_inputs(spec):
    """Query, value and key with the case's Keras masks; fresh each time, since Keras deletes the masks of
    the tensors it is given."""
    return tuple(
        masked(array, spec[name]) if name in spec else array
        for name, array in (("query", QUERY), ("value", VALUE), ("key", KEY))
    )


@pytest.mark.parametrize("case", sorted(MASK_CASES))
def test_keras_masks_match_keras(case):
    spec = MASK_CASES[case]
    ours, theirs = paired(key=KEY, num_heads=2, key_dim=4)
    call = {"use_causal_mask": spec.get("causal", False)}
    if spec.get("attention"):
        attention = RNG.random((2, 5, 7)) > 0.4
        attention[:, :, 0] = True
        call["attention_mask"] = attention
    expected, expected_scores = theirs(*masked_inputs(spec), return_attention_scores=True, **call)
    output, scores = ours(*masked_inputs(spec), return_attention_scores=True, **call)
    np.testing.assert_allclose(to_numpy(output), to_numpy(expected), atol=1e-6)
    np.testing.assert_allclose(to_numpy(scores), to_numpy(expected_scores), atol=1e-6)
    if "query" in spec:  # the output carries the query's mask, as Keras's
        np.testing.assert_array_equal(to_numpy(get_keras_mask(output)), spec["query"])
    # Keras's fused path (no scores asked) agrees wherever a query has a key left.
    expected = to_numpy(theirs(*masked_inputs(spec), **call))
    output = to_numpy(ours(*masked_inputs(spec), **call))
    keep = spec.get("query", np.ones((2, 5), bool))
    np.testing.assert_allclose(output[keep], expected[keep], atol=1e-6)


def test_fully_masked_query_rows_attend_to_nothing():
    """The documented difference: Keras's fused path averages every value for a masked query; keras-nn gives
    zero attention, so the output there is the output projection's bias, on every path."""
    ours, theirs = paired(num_heads=2, key_dim=4)
    output = to_numpy(ours(masked(QUERY, QUERY_KEEP), VALUE))
    bias = to_numpy(ours.output_dense.bias)
    np.testing.assert_allclose(
        output[~QUERY_KEEP], np.broadcast_to(bias, output[~QUERY_KEEP].shape), atol=1e-6
    )
    expected = to_numpy(theirs(masked(QUERY, QUERY_KEEP), VALUE))
    assert np.abs(output[~QUERY_KEEP] - expected[~QUERY_KEEP]).max() > 1e-3


def test_self_attention_of_one_masked_tensor_masks_queries_and_keys():
    """keras-nn's `value` defaults to the query; its Keras mask then masks queries and keys, as Keras's
    `layer(x, x)` does."""
    theirs = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    ours = MultiHeadAttention(num_heads=2, key_dim=4)
    theirs(QUERY, QUERY)
    ours(QUERY)
    ours.set_weights(theirs.get_weights())
    x = masked(QUERY, QUERY_KEEP)
    _, expected = theirs(x, x, return_attention_scores=True)
    _, scores = ours(masked(QUERY, QUERY_KEEP), return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(scores), to_numpy(expected), atol=1e-6)
    assert to_numpy(scores)[0, :, :, 3:].max() == 0.0


def test_explicit_masks_equal_attached_masks_and_inputs_keep_their_masks():
    ours, _ = paired(num_heads=2, key_dim=4)
    query, value = masked(QUERY, QUERY_KEEP), masked(VALUE, VALUE_KEEP)
    attached = to_numpy(ours(query, value, return_attention_scores=True)[1])
    explicit = ours(QUERY, VALUE, query_mask=QUERY_KEEP, value_mask=VALUE_KEEP, return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(explicit[1]), attached, atol=1e-6)
    np.testing.assert_array_equal(to_numpy(get_keras_mask(query)), QUERY_KEEP)  # not deleted (Keras deletes)
    np.testing.assert_array_equal(to_numpy(get_keras_mask(value)), VALUE_KEEP)


def test_positional_arguments_are_keras_order():
    """The fourth positional argument is `query_mask`, as in Keras (it was `attention_mask`)."""
    ours, theirs = paired(key=KEY, num_heads=2, key_dim=4)
    _, scores = ours(QUERY, VALUE, KEY, QUERY_KEEP, VALUE_KEEP, KEY_KEEP, return_attention_scores=True)
    # Keras reads the query mask from the query tensor alone.
    query = masked(QUERY, QUERY_KEEP)
    _, expected_scores = theirs(
        query, VALUE, KEY, value_mask=VALUE_KEEP, key_mask=KEY_KEEP, return_attention_scores=True
    )
    np.testing.assert_allclose(to_numpy(scores), to_numpy(expected_scores), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sliding_window": 2},
        {"sliding_window": 3, "causal": True},
        {"use_gate": True},
        {"use_gate": True, "use_bias": False, "output_shape": (9,)},
        {"attention_axes": (1,)},
        {"attention_axes": -2},
    ],
)
def test_other_arguments_match_keras(kwargs):
    kwargs = dict(kwargs)
    causal = kwargs.pop("causal", False)
    ours, theirs = paired(num_heads=2, key_dim=4, **kwargs)
    assert [w.path.split("/", 1)[1] for w in ours.weights] == [
        w.path.split("/", 1)[1] for w in theirs.weights
    ]
    for scores in (False, True):
        expected = theirs(QUERY, VALUE, use_causal_mask=causal, return_attention_scores=scores)
        output = ours(QUERY, VALUE, use_causal_mask=causal, return_attention_scores=scores)
        for a, b in zip(keras.tree.flatten(output), keras.tree.flatten(expected), strict=True):
            np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-6)


def test_attention_axes_other_than_the_length_axis_are_refused():
    with pytest.raises(ConfigError, match="attention_axes=2 is not supported"):
        MultiHeadAttention(num_heads=2, key_dim=4, attention_axes=2)
    with pytest.raises(ConfigError, match="attention_axes"):
        MultiHeadAttention(num_heads=2, key_dim=4, attention_axes=(1, 2))


def test_keras_config_loads_and_gives_the_same_outputs():
    kwargs = dict(
        num_heads=2,
        key_dim=3,
        value_dim=5,
        output_shape=9,
        use_gate=True,
        sliding_window=4,
        kernel_regularizer="l2",
        bias_regularizer=keras.regularizers.L1(0.01),
        activity_regularizer="l2",
        kernel_constraint="max_norm",
        bias_constraint="non_neg",
        seed=11,
        dropout=0.2,
    )
    theirs = keras.layers.MultiHeadAttention(**kwargs)
    theirs(QUERY, VALUE)
    ours = MultiHeadAttention.from_config(theirs.get_config())
    ours(QUERY, VALUE)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(to_numpy(ours(QUERY, VALUE)), to_numpy(theirs(QUERY, VALUE)), atol=1e-6)
    # Regularizers on every projection (activity ones included), as Keras adds them.
    assert len(ours.losses) == len(theirs.losses) > 0
    np.testing.assert_allclose(sum(map(to_numpy, ours.losses)), sum(map(to_numpy, theirs.losses)), rtol=1e-5)
    again = MultiHeadAttention.from_config(ours.get_config())
    assert again.get_config() == ours.get_config()


def test_training_step_with_regularizers_and_constraints_matches_keras():
    """One SGD step: the gradients of the regularization losses and the constraints after the update."""
    kwargs = dict(num_heads=2, key_dim=4, kernel_regularizer="l2", kernel_constraint="non_neg")

    def model(layer):
        query, value = keras.Input((5, 8)), keras.Input((7, 6))
        net = keras.Model([query, value], layer(query, value))
        net.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
        return net

    ours, theirs = paired(**kwargs)
    ours_model, theirs_model = model(ours), model(theirs)
    target = RNG.normal(size=(2, 5, 8)).astype("float32")
    for net in (ours_model, theirs_model):
        net.fit([QUERY, VALUE], target, epochs=1, batch_size=2, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert min(float(np.min(w)) for w in ours.get_weights()[::2]) >= 0.0  # the kernels, constrained


def test_seeded_dropout_matches_keras():
    ours, theirs = paired(num_heads=2, key_dim=4, dropout=0.5, seed=5)
    output = ours(QUERY, VALUE, training=True)
    expected = theirs(QUERY, VALUE, training=True)
    np.testing.assert_allclose(to_numpy(output), to_numpy(expected), atol=1e-6)
    inference = to_numpy(ours(QUERY, VALUE, training=False))
    assert np.abs(to_numpy(output) - inference).max() > 1e-3  # the dropout did something


def test_flash_attention_arguments_behave_as_keras():
    with pytest.raises(ConfigError, match="dropout"):
        MultiHeadAttention(num_heads=2, key_dim=4, flash_attention=True, dropout=0.1)
    with pytest.raises(ValueError):
        keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, flash_attention=True, dropout=0.1)
    ours, theirs = paired(num_heads=2, key_dim=4, flash_attention=False)
    np.testing.assert_allclose(to_numpy(ours(QUERY, VALUE)), to_numpy(theirs(QUERY, VALUE)), atol=1e-6)
    flash = MultiHeadAttention(num_heads=2, key_dim=4, flash_attention=True)
    with pytest.raises(ConfigError, match="flash attention does not compute the attention scores"):
        flash(QUERY, VALUE, return_attention_scores=True)
    if keras.backend.backend() == "tensorflow":  # no flash kernel there: Keras raises, and so do we
        with pytest.raises(ValueError, match="not supported"):
            keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, flash_attention=True)(QUERY, VALUE)
        with pytest.raises(ValueError, match="not supported"):
            flash(QUERY, VALUE)
