"""What the Bahdanau and Luong attention tests share: decoder queries, encoder values and keys, a value mask,
and the softmax and weight checks computed in numpy."""

import keras
import numpy as np
from testing_utils import run_model_test

RNG = np.random.default_rng(0)
QUERY_STEP = RNG.normal(size=(3, 4)).astype("float32")
QUERIES = RNG.normal(size=(3, 2, 4)).astype("float32")
VALUES = RNG.normal(size=(3, 5, 4)).astype("float32")
KEYS = RNG.normal(size=(3, 5, 6)).astype("float32")
# Every row keeps at least one value; row 1 masks the middle, row 2 the end.
VALUE_MASK = np.array([[1, 1, 1, 1, 1], [1, 0, 0, 1, 1], [1, 1, 0, 0, 0]], dtype=bool)


def to_numpy(value):
    return keras.ops.convert_to_numpy(value)


def masked_softmax(scores, mask):
    scores = np.where(mask[:, None, :], scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    return weights / weights.sum(-1, keepdims=True)


def check_weights(weights, mask):
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    mask = mask if weights.ndim == 2 else mask[:, None, :]
    assert np.all(np.broadcast_to(~mask, weights.shape) <= (weights == 0.0))


def check_in_a_model(make_layer):
    """The shared checks on a two-input model: decoder states attend over encoder outputs."""

    def build():
        query = keras.Input((2, 4))
        values = keras.Input((5, 4))
        # A projection first, so that a weight-free score ("dot") still has something to train.
        context, _ = make_layer()(keras.layers.Dense(4)(query), values)
        return keras.Model([query, values], context)

    run_model_test(build, [QUERIES, VALUES], expected_output_shape=(3, 2, 4))


def check_config_round_trip(layer):
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
