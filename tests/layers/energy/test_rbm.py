"""The `RBM` layer: its free energy, conditionals, pseudo-log-likelihood and Gibbs sampler against brute-force
enumeration (or numerical integration) of the joint distribution of a tiny RBM."""

import copy
import itertools

import keras
import numpy as np
import pytest
from scipy.special import expit
from testing_utils import run_layer_test

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers import RBM

# A tiny RBM, 3 visible and 2 hidden units, its weights set by hand.
KERNEL = np.array([[1.0, -0.5], [0.3, 0.8], [-1.2, 0.4]])
VISIBLE_BIAS = np.array([0.2, -0.4, 0.1])
HIDDEN_BIAS = np.array([-0.3, 0.5])
BINARY_VISIBLE = np.array(list(itertools.product([0.0, 1.0], repeat=3)))  # all 8 visible states
BINARY_HIDDEN = np.array(list(itertools.product([0.0, 1.0], repeat=2)))
REAL_VISIBLE = np.array([[0.5, -1.0, 2.0], [-0.3, 0.0, 0.7], [1.5, 1.2, -0.8]])
# Hidden states for Gaussian hidden units: a grid that holds all the mass of p(h | v) for the states above
# (means within +-3, unit variance: 9 standard deviations of margin); a Riemann sum with step 0.1 integrates a
# unit Gaussian to float64 precision (its error is of order exp(-2 pi^2 / 0.1^2)).
GRID_STEP = 0.1
GRID = np.arange(-12.0, 12.0, GRID_STEP)
REAL_HIDDEN = np.stack(np.meshgrid(GRID, GRID, indexing="ij"), -1).reshape(-1, 2)


def tiny_rbm(visible_type="bernoulli", hidden_type="bernoulli", kernel=KERNEL, visible_bias=VISIBLE_BIAS,
             hidden_bias=HIDDEN_BIAS, **kwargs):
    rbm = RBM(len(hidden_bias), visible_type=visible_type, hidden_type=hidden_type, **kwargs)
    rbm.build((None, len(visible_bias)))
    rbm.set_weights([kernel, visible_bias, hidden_bias])
    return rbm


def energy(v, h, visible_type, hidden_type, kernel=KERNEL, visible_bias=VISIBLE_BIAS, hidden_bias=HIDDEN_BIAS):
    """`E(v, h)` for every pair of rows: `(len(v), len(h))`. A Gaussian side has `|x - bias|^2 / 2`."""
    if visible_type == "bernoulli":
        visible_term = -v @ visible_bias
    else:
        visible_term = 0.5 * np.square(v - visible_bias).sum(-1)
    if hidden_type == "bernoulli":
        hidden_term = -h @ hidden_bias
    else:
        hidden_term = 0.5 * np.square(h - hidden_bias).sum(-1)
    return visible_term[:, None] + hidden_term[None, :] - v @ kernel @ h.T


def logsumexp(x, axis):
    # scipy.special.logsumexp is 30 times slower on large arrays.
    top = x.max(axis=axis, keepdims=True)
    return np.squeeze(top, axis) + np.log(np.exp(x - top).sum(axis=axis))


def numpy_of(x):
    return keras.ops.convert_to_numpy(x).astype("float64")


# ------------------------------------------------------------------------------------------------ free energy


@pytest.mark.parametrize("visible_type, visible", [("bernoulli", BINARY_VISIBLE), ("gaussian", REAL_VISIBLE)])
def test_free_energy_of_bernoulli_hidden_units_is_the_enumerated_one(visible_type, visible):
    rbm = tiny_rbm(visible_type)
    brute_force = -logsumexp(-energy(visible, BINARY_HIDDEN, visible_type, "bernoulli"), axis=1)
    np.testing.assert_allclose(numpy_of(rbm.free_energy(visible.astype("float32"))), brute_force, atol=1e-5)
    # By hand for v = (1, 0, 1): -(0.2 + 0.1) - softplus(-0.3 + 1.0 - 1.2) - softplus(0.5 - 0.5 + 0.4).
    by_hand = -0.3 - np.log1p(np.exp(-0.5)) - np.log1p(np.exp(0.4))
    if visible_type == "bernoulli":
        np.testing.assert_allclose(numpy_of(rbm.free_energy(np.array([[1.0, 0.0, 1.0]], "float32"))), [by_hand],
                                   atol=1e-6)


def test_free_energy_of_gaussian_hidden_units_is_the_integrated_one_up_to_a_constant():
    rbm = tiny_rbm(hidden_type="gaussian")
    cell = GRID_STEP**2
    integrated = -logsumexp(-energy(BINARY_VISIBLE, REAL_HIDDEN, "bernoulli", "gaussian"), axis=1) - np.log(cell)
    offset = numpy_of(rbm.free_energy(BINARY_VISIBLE.astype("float32"))) - integrated
    # The same constant for every state: differences of free energies (all probabilities need) are exact.
    assert np.ptp(offset) < 1e-5, offset


# ----------------------------------------------------------------------------------------------- conditionals


@pytest.mark.parametrize("visible_type, visible", [("bernoulli", BINARY_VISIBLE), ("gaussian", REAL_VISIBLE)])
def test_bernoulli_hidden_conditional_is_the_enumerated_one(visible_type, visible):
    rbm = tiny_rbm(visible_type)
    joint = np.exp(-energy(visible, BINARY_HIDDEN, visible_type, "bernoulli"))
    brute_force = (joint @ BINARY_HIDDEN) / joint.sum(1, keepdims=True)  # p(h_j = 1 | v)
    np.testing.assert_allclose(numpy_of(rbm.hidden_probabilities(visible.astype("float32"))), brute_force, atol=1e-6)
    np.testing.assert_allclose(numpy_of(rbm(visible.astype("float32"))), brute_force, atol=1e-6)
    # By hand for v = (1, 0, 1): sigmoid(-0.3 + 1.0 - 1.2), sigmoid(0.5 - 0.5 + 0.4).
    np.testing.assert_allclose(numpy_of(rbm.hidden_probabilities(np.array([[1, 0, 1]], "float32"))),
                               [[expit(-0.5), expit(0.4)]], atol=1e-7)


@pytest.mark.parametrize("hidden_type, hidden", [("bernoulli", BINARY_HIDDEN), ("gaussian", REAL_VISIBLE[:, :2])])
def test_bernoulli_visible_conditional_is_the_enumerated_one(hidden_type, hidden):
    rbm = tiny_rbm(hidden_type=hidden_type)
    joint = np.exp(-energy(BINARY_VISIBLE, hidden, "bernoulli", hidden_type)).T  # (hidden states, visible states)
    brute_force = (joint @ BINARY_VISIBLE) / joint.sum(1, keepdims=True)  # p(v_i = 1 | h)
    np.testing.assert_allclose(numpy_of(rbm.visible_probabilities(hidden.astype("float32"))), brute_force, atol=1e-6)
    # By hand for h = (1, 1): sigmoid(0.2 + 1.0 - 0.5), sigmoid(-0.4 + 0.3 + 0.8), sigmoid(0.1 - 1.2 + 0.4).
    np.testing.assert_allclose(numpy_of(rbm.visible_probabilities(np.array([[1, 1]], "float32"))),
                               [expit([0.7, 0.7, -0.7])], atol=1e-7)


def test_gaussian_hidden_mean_is_the_integrated_one():
    rbm = tiny_rbm(hidden_type="gaussian")
    weights = np.exp(-energy(BINARY_VISIBLE, REAL_HIDDEN, "bernoulli", "gaussian"))
    integrated = (weights @ REAL_HIDDEN) / weights.sum(1, keepdims=True)  # E[h | v]
    np.testing.assert_allclose(numpy_of(rbm.hidden_probabilities(BINARY_VISIBLE.astype("float32"))), integrated,
                               atol=1e-5)
    np.testing.assert_allclose(integrated, BINARY_VISIBLE @ KERNEL + HIDDEN_BIAS, atol=1e-9)  # c + v W by hand


def test_gaussian_visible_mean_and_unit_variance_samples():
    rbm = tiny_rbm(visible_type="gaussian", seed=3)
    hidden = np.repeat(BINARY_HIDDEN, 20_000, axis=0).astype("float32")
    by_hand = BINARY_HIDDEN @ KERNEL.T + VISIBLE_BIAS  # E[v | h] = b + W h
    np.testing.assert_allclose(numpy_of(rbm.visible_probabilities(BINARY_HIDDEN.astype("float32"))), by_hand,
                               atol=1e-6)
    samples = numpy_of(rbm.sample_visible(hidden)).reshape(4, 20_000, 3)
    # 20,000 draws per state: the mean's standard error is 0.007, the variance's 0.01.
    np.testing.assert_allclose(samples.mean(1), by_hand, atol=0.04)
    np.testing.assert_allclose(samples.var(1), np.ones((4, 3)), atol=0.06)
    hidden_samples = numpy_of(tiny_rbm("gaussian", seed=4).sample_hidden(np.repeat(REAL_VISIBLE, 20_000, 0)))
    assert set(np.unique(hidden_samples)) == {0.0, 1.0}


# ---------------------------------------------------------------------------------- pseudo-log-likelihood

# A second, larger Bernoulli RBM (6 visible, 3 hidden units), weights drawn once.
_RNG = np.random.default_rng(0)
LARGER = dict(kernel=_RNG.normal(0, 1.5, (6, 3)), visible_bias=_RNG.normal(0, 1, 6), hidden_bias=_RNG.normal(0, 1, 3))
LARGER_VISIBLE = np.array(list(itertools.product([0.0, 1.0], repeat=6)))


def brute_force_conditionals(visible, log_marginal):
    """`log p(v_i | v_-i)` of every unit, `(batch, visible)`, from the unnormalized log marginal `log_marginal` of
    binary states."""
    own = log_marginal(visible)
    terms = []
    for i in range(visible.shape[1]):
        flipped = visible.copy()
        flipped[:, i] = 1.0 - flipped[:, i]
        terms.append(own - np.logaddexp(own, log_marginal(flipped)))
    return np.stack(terms, axis=1)


def log_marginal_of(hidden_type="bernoulli", **weights):
    """The unnormalized `log p(v)` of binary visible states: the joint summed over all hidden states
    (Bernoulli) or integrated over the grid (Gaussian)."""
    units = len(weights.get("hidden_bias", HIDDEN_BIAS))
    hidden = np.array(list(itertools.product([0.0, 1.0], repeat=units))) if hidden_type == "bernoulli" else REAL_HIDDEN
    return lambda v: logsumexp(-energy(v, hidden, "bernoulli", hidden_type, **weights), axis=1)


@pytest.mark.parametrize(
    "hidden_type, weights, visible",
    [("bernoulli", {}, BINARY_VISIBLE), ("gaussian", {}, BINARY_VISIBLE), ("bernoulli", LARGER, LARGER_VISIBLE)],
    ids=["bernoulli-3x2", "gaussian-hidden-3x2", "bernoulli-6x3"],
)
def test_exact_pseudo_log_likelihood_is_the_enumerated_one(hidden_type, weights, visible):
    rbm = tiny_rbm(hidden_type=hidden_type, **weights)
    brute_force = brute_force_conditionals(visible, log_marginal_of(hidden_type, **weights)).sum(1)
    got = numpy_of(rbm.pseudo_log_likelihood(visible.astype("float32"), exact=True))
    np.testing.assert_allclose(got, brute_force, atol=1e-5)


def test_stochastic_pseudo_log_likelihood_averages_to_the_exact_one():
    rbm = tiny_rbm(**LARGER)
    terms = brute_force_conditionals(LARGER_VISIBLE, log_marginal_of(**LARGER))
    draws = 2000
    estimates = numpy_of(rbm.pseudo_log_likelihood(np.repeat(LARGER_VISIBLE, draws, 0).astype("float32"), seed=5))
    # Each estimate is 6 log p(v_i | v_-i) for one unit i drawn uniformly: scikit-learn's estimate, unbiased,
    # with a standard deviation known exactly from the enumerated terms.
    assert np.abs(estimates[:draws, None] - 6 * terms[0][None, :]).min(1).max() < 1e-4
    mean = estimates.reshape(len(LARGER_VISIBLE), draws).mean(1)
    standard_error = (6 * terms).std(1) / np.sqrt(draws)
    z = np.abs(mean - terms.sum(1)) / standard_error
    assert z.max() < 5, z.max()


# ---------------------------------------------------------------------------------------------------- Gibbs


def exact_marginal():
    log_p = log_marginal_of()(BINARY_VISIBLE)
    return np.exp(log_p - logsumexp(log_p, axis=0))


def empirical_distribution(samples):
    index = samples.astype(int) @ np.array([4, 2, 1])  # the row of BINARY_VISIBLE
    return np.bincount(index, minlength=8) / len(index)


def total_variation(p, q):
    return 0.5 * np.abs(p - q).sum()


def test_long_gibbs_chains_sample_the_exact_marginal():
    rbm = tiny_rbm(seed=11)
    chains, burn_in, steps = 200, 20, 220
    visible = np.zeros((chains, 3), "float32")
    kept = []
    for step in range(steps):
        visible = rbm.gibbs_step(visible)
        if step >= burn_in:
            kept.append(numpy_of(visible))
    distance = total_variation(empirical_distribution(np.concatenate(kept)), exact_marginal())
    # 40,000 draws: the sampling error alone gives a distance of about 0.005.
    assert distance < 0.02, distance


def gibbs_transition():
    """`T[v, v'] = sum_h p(h | v) p(v' | h)`, one block Gibbs step between the 8 visible states, by enumeration."""
    joint = np.exp(-energy(BINARY_VISIBLE, BINARY_HIDDEN, "bernoulli", "bernoulli"))
    hidden_given_visible = joint / joint.sum(1, keepdims=True)
    visible_given_hidden = joint.T / joint.T.sum(1, keepdims=True)
    return hidden_given_visible @ visible_given_hidden


def test_gibbs_chain_with_an_integer_seed_samples_the_exact_marginal():
    rbm = tiny_rbm()
    start = np.zeros((4000, 3), "float32")
    samples = numpy_of(rbm.gibbs_chain(start, steps=30, seed=7))
    distance = total_variation(empirical_distribution(samples), exact_marginal())
    # 4,000 independent chains: the sampling error alone gives a distance of about 0.02.
    assert distance < 0.05, distance
    np.testing.assert_array_equal(numpy_of(rbm.gibbs_chain(start, steps=30, seed=7)), samples)  # reproducible
    # One more step moves a chain as often as the exact transition says (a chain that redraws the same numbers
    # at every step freezes instead).
    following = numpy_of(rbm.gibbs_chain(start, steps=31, seed=7))
    moved = np.any(following != samples, axis=1).mean()
    expected = empirical_distribution(samples) @ (1.0 - np.diag(gibbs_transition()))
    assert abs(moved - expected) < 0.04, (moved, expected)  # standard error 0.008


# ------------------------------------------------------------------------------------ layer, config, errors


# The layer's output (hidden probabilities) does not depend on the visible biases: Keras warns they get no gradient.
@pytest.mark.filterwarnings("ignore:Gradients do not exist")
def test_rbm_shared_layer_checks():
    inputs = np.random.default_rng(0).binomial(1, 0.5, size=(8, 6)).astype("float32")
    run_layer_test(RBM, {"units": 4, "seed": 0}, inputs, expected_output_shape=(8, 4))


@pytest.mark.parametrize("visible_type, hidden_type", [("gaussian", "bernoulli"), ("bernoulli", "gaussian")])
def test_config_round_trip(visible_type, hidden_type):
    rbm = tiny_rbm(visible_type, hidden_type, seed=3, hidden_bias_initializer="ones")
    config = rbm.get_config()
    assert config["visible_type"] == visible_type and config["hidden_type"] == hidden_type and config["seed"] == 3
    rebuilt = RBM.from_config(copy.deepcopy(config))
    assert rebuilt.get_config() == config
    rebuilt.build((None, 3))
    np.testing.assert_array_equal(rebuilt.get_weights()[2], np.ones(2))  # its own initializer
    rebuilt.set_weights(rbm.get_weights())
    v = REAL_VISIBLE.astype("float32")
    np.testing.assert_array_equal(numpy_of(rebuilt.free_energy(v)), numpy_of(rbm.free_energy(v)))
    np.testing.assert_array_equal(numpy_of(rebuilt(v)), numpy_of(rbm(v)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, r"RBM: units=0 must be a positive integer"),
        ({"units": 2.5}, r"RBM: units=2\.5 must be a positive integer"),
        ({"units": True}, r"RBM: units=True must be a positive integer"),
        ({"units": 2, "visible_type": "binary"},
         r"RBM: visible_type='binary' is not allowed; choose one of: bernoulli, gaussian"),
        ({"units": 2, "hidden_type": "relu"}, r"RBM: hidden_type='relu' is not allowed; choose one of"),
        ({"units": 2, "visible_type": "gaussian", "hidden_type": "gaussian"},
         r"cannot both be 'gaussian' .*make one side 'bernoulli'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ConfigError, match=message) as error:
        RBM(**kwargs)
    assert "\n" not in str(error.value)


def test_bad_use():
    with pytest.raises(ConfigError, match=r"defined for Bernoulli visible units") as error:
        tiny_rbm("gaussian").pseudo_log_likelihood(REAL_VISIBLE)
    assert "\n" not in str(error.value)
    with pytest.raises(ShapeError, match=r"known number of visible units"):
        RBM(2)(keras.Input(shape=(None,)))
