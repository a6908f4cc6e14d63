"""The shared checks every keras-nn layer and model goes through (DESIGN.md, Conventions).

`run_layer_test` and `run_model_test` check, in order: the output shape, a serialization round trip
(`get_config`/`from_config` and a `.keras` save and reload give identical outputs), a few training steps
that lower the loss, a mixed-precision forward and training step, and a `jit_compile=True` training step.
"""

import copy
import os
import tempfile

import keras
import numpy as np


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _assert_same_outputs(expected, actual, atol=1e-6):
    for a, b in zip(_as_list(expected), _as_list(actual), strict=True):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), atol=atol)


def check_serialization(model, inputs):
    """`.keras` save and reload (and config round trip) give the same class, config and outputs."""
    reference = model(inputs, training=False)
    config = model.get_config()
    # from_config may consume the dict it is given (Functional.from_config does); keep ours intact.
    rebuilt = model.__class__.from_config(copy.deepcopy(config))
    assert rebuilt.get_config() == config, "from_config(get_config()) changed the config"
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    assert type(reloaded) is type(model), f"reloaded as {type(reloaded).__name__}, not {type(model).__name__}"
    _assert_same_outputs(reference, reloaded(inputs, training=False))
    return reloaded


def _loss_for(outputs):
    """Cross-entropy for a softmax classifier, mean squared error otherwise."""
    return "sparse_categorical_crossentropy" if _is_probabilities(outputs) else "mse"


def _is_probabilities(outputs):
    outputs = keras.ops.convert_to_numpy(outputs)
    return outputs.ndim == 2 and np.allclose(outputs.sum(-1), 1.0, atol=1e-3) and (outputs >= 0).all()


def _targets_for(outputs, seed=0):
    rng = np.random.default_rng(seed)
    outputs = keras.ops.convert_to_numpy(outputs)
    if _is_probabilities(outputs):
        return rng.integers(0, outputs.shape[-1], size=outputs.shape[0])
    return rng.normal(size=outputs.shape).astype("float32")


def check_training_lowers_loss(model, inputs, targets=None, loss=None, steps=8, jit_compile=False, learning_rate=1e-2):
    """A few optimizer steps on one fixed batch lower the (inference-mode) loss."""
    outputs = model(inputs, training=False)
    targets = _targets_for(outputs) if targets is None else targets
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss or _loss_for(outputs), jit_compile=jit_compile)
    before = float(model.evaluate(inputs, targets, verbose=0))
    for _ in range(steps):
        model.train_on_batch(inputs, targets)
    after = float(model.evaluate(inputs, targets, verbose=0))
    assert np.isfinite(after), f"loss became {after}"
    assert after < before, f"training did not lower the loss: {before:.5f} -> {after:.5f}"
    return before, after


def check_mixed_precision(build, inputs, targets=None, loss=None):
    """Under `mixed_float16` the model computes in float16, returns finite float32-castable outputs, trains."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = build()
        outputs = model(inputs, training=False)
        assert any(layer.compute_dtype == "float16" for layer in model._flatten_layers()), "no float16 compute"
        assert np.isfinite(keras.ops.convert_to_numpy(keras.ops.cast(outputs, "float32"))).all()
        targets = _targets_for(outputs) if targets is None else targets
        model.compile(optimizer="adam", loss=loss or _loss_for(outputs))
        value = float(model.train_on_batch(inputs, targets))
        assert np.isfinite(value), f"mixed-precision training step gave loss {value}"
    finally:
        keras.config.set_dtype_policy(previous)


def run_model_test(
    build,
    inputs,
    expected_output_shape,
    targets=None,
    loss=None,
    run_mixed_precision_check=True,
    run_jit_compile_check=True,
    learning_rate=1e-2,
):
    """Runs every shared check on the model `build()` returns.

    Args:
        build: a zero-argument callable returning a fresh model (called once per check).
        inputs: a batch of inputs.
        expected_output_shape: the output shape for `inputs`, batch included.
        targets: training targets (default: random class ids for a softmax output, else random normals).
        loss: loss for the training checks (default: sparse cross-entropy or MSE as above).
        learning_rate: Adam's step size in the training checks (lower it for models whose activations are
            large at initialization).
    """
    model = build()
    outputs = model(inputs, training=False)
    assert tuple(outputs.shape) == tuple(expected_output_shape), (
        f"output shape {tuple(outputs.shape)} != expected {tuple(expected_output_shape)}"
    )
    check_serialization(model, inputs)
    check_training_lowers_loss(build(), inputs, targets, loss, learning_rate=learning_rate)
    if run_mixed_precision_check:
        check_mixed_precision(build, inputs, targets, loss)
    if run_jit_compile_check:
        check_training_lowers_loss(build(), inputs, targets, loss, jit_compile=True, learning_rate=learning_rate)
    return model


def run_layer_test(layer_cls, init_kwargs, inputs, expected_output_shape, **kwargs):
    """`run_model_test` for a layer: wraps `layer_cls(**init_kwargs)` in a one-layer functional model.

    Also checks the layer's own `get_config`/`from_config` round trip.
    """
    layer = layer_cls(**init_kwargs)
    assert layer_cls.from_config(copy.deepcopy(layer.get_config())).get_config() == layer.get_config()

    def build():
        model_inputs = keras.Input(shape=inputs.shape[1:], dtype=str(inputs.dtype))
        return keras.Model(model_inputs, layer_cls(**init_kwargs)(model_inputs))

    return run_model_test(build, inputs, expected_output_shape, **kwargs)
