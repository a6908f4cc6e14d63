import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.losses import NTXent

RNG = np.random.default_rng(0)
Z1 = RNG.normal(size=(6, 5)).astype("float32")
Z2 = (Z1 + 0.5 * RNG.normal(size=(6, 5))).astype("float32")


def reference_ntxent(z1, z2, temperature):
    """Chen et al. 2020, eq. 1 and Algorithm 1, written as loops over the 2N views in float64."""
    views = np.concatenate([z1, z2]).astype(np.float64)
    count = len(z1)
    total = 0.0
    for i in range(2 * count):
        j = (i + count) % (2 * count)
        similarity = [
            views[i] @ views[k] / (np.linalg.norm(views[i]) * np.linalg.norm(views[k])) / temperature
            for k in range(2 * count)
        ]
        denominator = sum(math.exp(similarity[k]) for k in range(2 * count) if k != i)
        total += -math.log(math.exp(similarity[j]) / denominator)
    return total / (2 * count)


def _value(loss, z1, z2, **kwargs):
    return keras.ops.convert_to_numpy(loss(z1, z2, **kwargs))


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_matches_numpy_reference(temperature):
    expected = reference_ntxent(Z1, Z2, temperature)
    assert float(_value(NTXent(temperature), Z1, Z2)) == pytest.approx(expected, rel=1e-5)


def test_hand_computed_two_examples():
    # Orthonormal views, positives identical: sim(i, j) = 1 for the pair, 0 for the two negatives.
    z1 = np.array([[1.0, 0.0], [0.0, 1.0]], "float32")
    tau = 0.5
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + 2.0))
    assert float(_value(NTXent(tau), z1, z1)) == pytest.approx(expected, rel=1e-6)


def test_unreduced_is_per_example_mean_of_its_two_views():
    per_example = _value(NTXent(0.5, reduction=None), Z1, Z2)
    assert per_example.shape == (6,)
    assert float(per_example.mean()) == pytest.approx(reference_ntxent(Z1, Z2, 0.5), rel=1e-5)


def test_scale_invariant_and_swap_invariant():
    loss = NTXent(0.2)
    value = float(_value(loss, Z1, Z2))
    assert float(_value(loss, Z2, Z1)) == pytest.approx(value, rel=1e-6)
    # Cosine similarity: rescaling a projection changes nothing.
    assert float(_value(loss, 3.0 * Z1, Z2)) == pytest.approx(value, rel=1e-5)


def test_gradient_is_finite_and_matches_finite_differences():
    loss = NTXent(0.5)
    z1 = tf.Variable(Z1)
    with tf.GradientTape() as tape:
        value = loss(z1, Z2)
    gradient = tape.gradient(value, z1).numpy()
    assert np.all(np.isfinite(gradient)) and np.abs(gradient).sum() > 0
    step = 1e-2
    for row, column in [(0, 0), (3, 2), (5, 4)]:
        plus, minus = Z1.copy(), Z1.copy()
        plus[row, column] += step
        minus[row, column] -= step
        numeric = (reference_ntxent(plus, Z2, 0.5) - reference_ntxent(minus, Z2, 0.5)) / (2 * step)
        assert gradient[row, column] == pytest.approx(numeric, abs=1e-3)
    # Identical views (cosine 1 for every positive) still give finite gradients.
    with tf.GradientTape() as tape:
        value = loss(z1, tf.identity(z1))
    assert np.all(np.isfinite(tape.gradient(value, z1).numpy()))


def test_batch_of_one_is_refused():
    with pytest.raises(ShapeError, match="at least 2 examples per batch for negatives; set data.batch_size >= 2"):
        NTXent()(Z1[:1], Z2[:1])


def test_mismatched_views_are_refused():
    with pytest.raises(ShapeError, match=r"\(6, 5\) and \(6, 4\)"):
        NTXent()(Z1, Z2[:, :4])


@pytest.mark.parametrize("temperature", [0, -0.5, "hot", True])
def test_bad_temperature_is_refused(temperature):
    with pytest.raises(ConfigError, match="temperature"):
        NTXent(temperature)


def test_config_round_trip():
    loss = NTXent(0.25, reduction="sum")
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(clone, NTXent) and clone.temperature == 0.25 and clone.reduction == "sum"
    assert float(_value(clone, Z1, Z2)) == pytest.approx(6 * reference_ntxent(Z1, Z2, 0.25), rel=1e-5)
