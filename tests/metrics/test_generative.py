import numpy as np
import pytest

from keras_nn.errors import ShapeError
from keras_nn.metrics import classifier_score, frechet_distance


def test_classifier_score_bounds_by_hand():
    # Certain, balanced predictions over 4 classes: KL = log 4 per image -> score 4.
    assert classifier_score(np.eye(4)[[0, 1, 2, 3, 0, 1, 2, 3]]) == pytest.approx((4.0, 0.0))
    # The same prediction for every image: p(y|x) = p(y) -> score 1.
    assert classifier_score(np.tile([[0.2, 0.3, 0.5]], (6, 1)))[0] == pytest.approx(1.0)


def test_classifier_score_against_a_direct_kl():
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.full(5, 0.3), size=40)
    marginal = probabilities.mean(axis=0)
    kl = np.sum(probabilities * np.log(probabilities / marginal), axis=1)
    assert classifier_score(probabilities)[0] == pytest.approx(np.exp(kl.mean()), rel=1e-9)
    mean, spread = classifier_score(probabilities, splits=4)
    assert spread > 0 and 1 < mean < 5


def test_frechet_distance_of_diagonal_gaussians_has_the_closed_form():
    # Commuting covariances: |mu_a - mu_b|^2 + sum (sigma_a - sigma_b)^2, from the sample statistics.
    rng = np.random.default_rng(1)
    a = rng.normal([0.0, 1.0, 2.0], [1.0, 2.0, 0.5], size=(4000, 3))
    b = rng.normal([1.0, 1.0, 0.0], [3.0, 1.0, 0.5], size=(4000, 3))
    a -= a.mean(0)
    b -= b.mean(0)
    # Decorrelate each sample exactly so that both covariances are diagonal.
    a = a @ np.linalg.inv(np.linalg.cholesky(np.cov(a, rowvar=False)).T) * [1.0, 2.0, 0.5] + [0.0, 1.0, 2.0]
    b = b @ np.linalg.inv(np.linalg.cholesky(np.cov(b, rowvar=False)).T) * [3.0, 1.0, 0.5] + [1.0, 1.0, 0.0]
    expected = (1 + 0 + 4) + (2.0**2 + 1.0**2 + 0.0)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_refuses_features_of_other_widths():
    with pytest.raises(ShapeError, match="one width"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ShapeError, match="N >= 2"):
        frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))
