import keras
import numpy as np

from keras_nn.samplers import compiled_for, compiled_function, jit


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


def test_named_functions_are_compiled_once_per_model_and_name():
    calls = []

    def make():
        calls.append(1)
        return lambda x: x + 1

    first, second = Owner(), Owner()
    function = compiled_function(first, "step", make)
    assert compiled_function(first, "step", make) is function and len(calls) == 1
    assert compiled_function(first, ("loop", 3), make) is not function and len(calls) == 2
    assert compiled_function(second, "step", make) is not function and len(calls) == 3
    np.testing.assert_allclose(keras.ops.convert_to_numpy(function(np.float32(1.0))), 2.0)
