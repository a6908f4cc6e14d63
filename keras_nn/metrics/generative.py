"""Sample-quality scores of a generative model, computed with a classifier trained on the real data.

The Inception Score (Salimans et al. 2016) and the Fréchet Inception Distance (Heusel et al. 2017) read an
ImageNet Inception network's class probabilities and pool features. On small data sets such as digits the
standard offline substitute is a classifier trained on the real training images (e.g. the data-set-specific
scores of Li et al. 2017 and of the "MNIST score" literature): `classifier_score` takes its class probabilities
for the generated images, `frechet_distance` its features for generated and real images. Both run on NumPy
arrays (scipy for the matrix square root), outside any model.

References:
    Salimans et al., "Improved Techniques for Training GANs", 2016, https://arxiv.org/abs/1606.03498.
    Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium", 2017,
    https://arxiv.org/abs/1706.08500.
"""

import warnings

import numpy as np
from scipy import linalg

from keras_nn.errors import ShapeError


def classifier_score(probabilities, splits=1):
    """`exp(E_x KL(p(y | x) || p(y)))`: the Inception Score with another classifier's probabilities.

    It is 1 when every image gets the same prediction and reaches the number of classes when each image is
    classified with certainty and the classes are equally frequent.

    Args:
        probabilities: `(N, classes)` class probabilities of N images (rows sum to 1).
        splits: the score is computed on this many equal parts, as Salimans et al. report it (10 splits).

    Returns:
        `(mean, standard deviation)` over the splits (the deviation is 0 for one split).

    Example:
    >>> classifier_score(np.eye(10))
    (10.0, 0.0)
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or len(probabilities) < splits or splits < 1:
        raise ShapeError(
            f"classifier_score needs (N, classes) probabilities with N >= splits >= 1; got shape "
            f"{probabilities.shape} and splits={splits}"
        )
    scores = []
    for part in np.array_split(probabilities, splits):
        marginal = part.mean(axis=0, keepdims=True)
        # 0 log 0 = 0: a class the classifier rules out adds nothing.
        log_ratio = np.log(np.maximum(part, 1e-300)) - np.log(np.maximum(marginal, 1e-300))
        terms = np.where(part > 0, part * log_ratio, 0.0)
        scores.append(float(np.exp(terms.sum(axis=1).mean())))
    return float(np.mean(scores)), float(np.std(scores))


def gaussian_statistics(features):
    """Mean `(D,)` and covariance `(D, D)` (unbiased) of `(N, D)` features."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ShapeError(f"Fréchet statistics need (N, D) features with N >= 2; got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False).reshape(features.shape[1], features.shape[1])


def frechet_distance(features_a, features_b):
    """The Fréchet distance between Gaussians fitted to two feature sets:
    `|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`.

    Args:
        features_a: `(N, D)` features of one image set (e.g. generated).
        features_b: `(M, D)` features of the other (e.g. the real test images), same D.

    Returns:
        The distance (>= 0; 0 for identical statistics).

    Example:
    >>> rng = np.random.default_rng(0)
    >>> frechet_distance(rng.normal(size=(500, 4)), rng.normal(size=(500, 4))) < 0.1
    True
    """
    mean_a, covariance_a = gaussian_statistics(features_a)
    mean_b, covariance_b = gaussian_statistics(features_b)
    if mean_a.shape != mean_b.shape:
        raise ShapeError(f"frechet_distance needs features of one width; got {mean_a.shape[0]} and {mean_b.shape[0]}")
    with warnings.catch_warnings():
        warnings.simplefilter("error", linalg.LinAlgWarning)
        try:
            root = linalg.sqrtm(covariance_a @ covariance_b)
            singular = not np.isfinite(root).all()
        except linalg.LinAlgWarning:
            singular = True
    if singular:
        # A singular product (fewer samples than dimensions): offset both covariances slightly, as the
        # reference implementation (pytorch-fid) does.
        offset = np.eye(len(mean_a)) * 1e-6
        root = linalg.sqrtm((covariance_a + offset) @ (covariance_b + offset))
    # Round-off leaves a tiny imaginary part on a real square root.
    root = np.real(root)
    difference = mean_a - mean_b
    distance = difference @ difference + np.trace(covariance_a) + np.trace(covariance_b) - 2.0 * np.trace(root)
    return float(max(distance, 0.0))
