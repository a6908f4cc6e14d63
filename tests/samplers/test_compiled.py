import keras
import numpy as np

from keras_nn.samplers import compiled_for, jit


class Owner:
    """Stands for a model: compiled_for keys its cache on any weakly referable object."""


def test_compiled_functions_are_made_once_per_model():
    calls = []

    def make():
        calls.append(1)
        return (object(),)

    first, second = Owner(), Owner()
    functions = compiled_for(first, make)
    assert compiled_for(first, make) is functions and len(calls) == 1
    assert compiled_for(second, make) is not functions and len(calls) == 2


def test_jit_compiles_for_the_backend_and_computes_the_same():
    def affine(x):
        return keras.ops.add(keras.ops.multiply(x, 2.0), 1.0)

    compiled = jit(affine)
    x = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(compiled(x)), 2 * x + 1)
    if keras.backend.backend() in ("tensorflow", "jax"):
        assert compiled is not affine
