"""Checks of a Transformer's initial weights against the distributions its reference draws from."""

import numpy as np


def check_initialisation(model, stddevs, truncated=False):
    """Every kernel and embedding table is N(0, stddev) (stddev from `stddevs`, a dict of path fragment ->
    stddev, the first fragment found in the weight's path, else `stddevs["default"]`), every bias and LayerNorm
    beta is zero and every LayerNorm gamma is one.

    The sample standard deviation must lie within four standard errors (`sigma / sqrt(2 n)`) of the expected
    one; a TruncatedNormal cut at two deviations, as Keras draws it, has standard deviation `0.8796 * stddev`.
    """
    checked = 0
    for weight in model.weights:
        values, path = np.asarray(weight.numpy(), "float64"), weight.path
        if path.endswith(("kernel", "embeddings")):
            stddev = next((s for fragment, s in stddevs.items() if fragment in path), stddevs["default"])
            if truncated:
                stddev *= 0.8796
                assert np.abs(values).max() <= 2 * stddev / 0.8796 + 1e-7, path
            tolerance = 4 * stddev / np.sqrt(2 * values.size)
            assert abs(values.std() - stddev) < tolerance, (path, values.std(), stddev)
            assert abs(values.mean()) < 4 * stddev / np.sqrt(values.size), path
            checked += 1
        elif path.endswith(("bias", "beta")):
            np.testing.assert_array_equal(values, 0.0, err_msg=path)
        elif path.endswith("gamma"):
            np.testing.assert_array_equal(values, 1.0, err_msg=path)
        else:
            raise AssertionError(f"unexpected weight {path}")
    return checked
