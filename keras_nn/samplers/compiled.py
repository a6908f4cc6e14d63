"""Compiled decoding functions: the backend's jit, and a cache of each model's compiled step functions."""

import weakref

import keras

# Compiled functions per model, kept outside the model so that saving and export never see them.
_COMPILED = weakref.WeakKeyDictionary()
# Named compiled functions per model (`compiled_function`), apart from `compiled_for`'s one entry per model.
_NAMED = weakref.WeakKeyDictionary()


def compiled_for(model, make):
    """The compiled decoding functions of `model`: `make()`'s result, built on first use and kept per model.

    Args:
        model: the model the functions belong to (weakly referenced: the entry goes with the model).
        make: `make() -> functions`, called once per model (typically a tuple of `jit(...)` functions).

    Returns:
        What `make()` returned the first time it was called for `model`.
    """
    functions = _COMPILED.get(model)
    if functions is None:
        functions = _COMPILED[model] = make()
    return functions


def compiled_function(model, name, make, xla=False):
    """One named compiled function of `model`: `jit(make(), xla)`, built on first use and kept per model and name.

    For decoders that compile several functions on demand (one generation loop per setting, a step per
    sampler) rather than one fixed set (`compiled_for`).

    Args:
        model: the model the function belongs to (weakly referenced: its functions go with it).
        name: any hashable key of the function (a string, or a tuple of the settings it was compiled for).
        make: `make() -> function`, called once per model and name.
        xla: passed to `jit`.

    Returns:
        The compiled function.
    """
    functions = _NAMED.setdefault(model, {})
    if name not in functions:
        functions[name] = jit(make(), xla=xla)
    return functions[name]


def jit(function, xla=False):
    """Compiles a decoding function for the backend (a TF graph, `jax.jit`); eager on other backends.

    Args:
        function: a function of tensors (a model's encode or step function).
        xla: on TensorFlow, compile the graph with XLA (`jit_compile=True`): worth its compile time for a whole
            decoding loop, whose many small ops XLA fuses; JAX always compiles with XLA.

    Returns:
        The compiled function (`function` itself on backends without a compiler here).
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(function, reduce_retracing=True, jit_compile=xla or None)
    if backend == "jax":
        import jax

        return jax.jit(function)
    return function
