"""The shared checks every keras-nn layer and model goes through (docs/architecture.md, "A worked example: a model family").

`run_layer_test` and `run_model_test` check, in order: the output shape, a serialization round trip
(`get_config`/`from_config`, and a `.keras` save and reload that gives the same weights and the same outputs),
a few training steps that lower the loss, a mixed-precision forward pass that agrees with the float32 model
holding the same weights and a mixed-precision training step, and a `jit_compile=True` training step.

The XLA step runs in the whole suite and not in the quick tier (`pytest -m "not slow"`): compiling a training
step with XLA takes about 2 s on the 2-core CPU, half of a shared check's time, and tests/conftest.py sets
`XLA_CHECKS` from the marker expression.
"""

import copy
import os
import tempfile

import keras
import numpy as np

# A reloaded model holds bit-identical weights (checked exactly) and runs the same operations: its outputs are
# held to 1e-6 absolute with no relative slack (every shared check in tests/models and tests/layers measured 0).
ROUND_TRIP_ATOL = 1e-6

# float16 keeps 11 significant bits (unit round-off 2**-11 = 4.9e-4). Inputs, weights and every activation are
# rounded to it, and the error grows with depth and with each sum's length. Relative to the largest float32
# output, the shared checks measured at most 2.6e-3 (MobileNetV2), 1.7e-3 (Inception-v1) and 1.3e-3 (GPT),
# under 1.1e-3 for every layer; 1e-2, about 20 unit round-offs, leaves margin yet still fails a model that
# computes something else in float16 (a dropped cast, a mask or constant that overflows).
MIXED_PRECISION_TOLERANCE = 1e-2

# False in the quick tier (`-m "not slow"`): tests/conftest.py sets it before the tests run.
XLA_CHECKS = True


def _as_numpy_list(value):
    return [keras.ops.convert_to_numpy(leaf) for leaf in keras.tree.flatten(value)]


def assert_same_outputs(expected, actual, atol=ROUND_TRIP_ATOL):
    """Both output structures (a tensor, a list, a dict...) hold the same leaves, shapes and values to `atol`."""
    keras.tree.assert_same_structure(expected, actual)
    for a, b in zip(_as_numpy_list(expected), _as_numpy_list(actual), strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=atol)


def check_serialization(model, inputs):
    """`.keras` save and reload (and the config round trip) give the same class, config, weights and outputs."""
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
    for saved, loaded in zip(model.get_weights(), reloaded.get_weights(), strict=True):
        np.testing.assert_array_equal(loaded, saved)
    assert_same_outputs(reference, reloaded(inputs, training=False))
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


def compile_with_built_optimizer(model, **compile_arguments):
    """`model.compile(**compile_arguments)`, then creates the optimizer's variables.

    Keras on TensorFlow (without a distribution strategy) otherwise creates them inside the first traced
    training step, and a `tf.function` that creates variables is traced twice: building them first halves the
    cost of the first step (measured: 4.4 s -> 2.0 s for a small ResNet, 14 s -> 6.7 s for Inception-v1) and
    gives the same losses.
    """
    model.compile(**compile_arguments)
    model.optimizer.build(model.trainable_variables)
    return model


def inference_loss(model, inputs, targets):
    """The compiled loss (regularization included) of the model's inference-mode outputs, computed eagerly:
    what `model.evaluate` returns, without tracing (and, under `jit_compile=True`, XLA-compiling) a second
    function for it."""
    predictions = model(inputs, training=False)
    return float(keras.ops.convert_to_numpy(model.compute_loss(x=inputs, y=targets, y_pred=predictions, training=False)))


def check_training_lowers_loss(model, inputs, targets=None, loss=None, steps=8, jit_compile=False, learning_rate=1e-2):
    """A few optimizer steps (the compiled training step, XLA-compiled with `jit_compile`) on one fixed batch
    lower the inference-mode loss."""
    outputs = model(inputs, training=False)
    targets = _targets_for(outputs) if targets is None else targets
    compile_with_built_optimizer(
        model, optimizer=keras.optimizers.Adam(learning_rate), loss=loss or _loss_for(outputs), jit_compile=jit_compile
    )
    before = inference_loss(model, inputs, targets)
    for _ in range(steps):
        model.train_on_batch(inputs, targets)
    after = inference_loss(model, inputs, targets)
    assert np.isfinite(after), f"loss became {after}"
    assert after < before, f"training did not lower the loss: {before:.5f} -> {after:.5f}"
    return before, after


def check_mixed_precision(build, inputs, targets=None, loss=None, reference=None,
                          tolerance=MIXED_PRECISION_TOLERANCE):
    """Under `mixed_float16` the model computes in float16 and trains; given a float32 `reference` model of the
    same architecture, the mixed-precision model loaded with its weights gives its outputs to `tolerance`
    times the largest output magnitude."""
    expected = None if reference is None else _as_numpy_list(reference(inputs, training=False))
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = build()
        if reference is not None:
            model.set_weights(reference.get_weights())
        outputs = model(inputs, training=False)
        assert any(layer.compute_dtype == "float16" for layer in model._flatten_layers()), "no float16 compute"
        actual = [leaf.astype("float32") for leaf in _as_numpy_list(outputs)]
        for leaf in actual:
            assert np.isfinite(leaf).all(), "mixed precision gave non-finite outputs"
        if expected is not None:
            for want, got in zip(expected, actual, strict=True):
                scale = max(float(np.abs(want).max(initial=0.0)), 1e-3)
                np.testing.assert_allclose(got, want, rtol=0, atol=tolerance * scale,
                                           err_msg="mixed_float16 outputs differ from float32 ones")
        targets = _targets_for(outputs) if targets is None else targets
        compile_with_built_optimizer(model, optimizer="adam", loss=loss or _loss_for(outputs))
        value = float(model.train_on_batch(inputs, targets))
        assert np.isfinite(value), f"mixed-precision training step gave loss {value}"
    finally:
        keras.config.set_dtype_policy(previous)


def randomize_batch_norm(model, seed=0):
    """Sets every BatchNormalization's gamma, beta and moving statistics away from (1, 0, 0, 1), so that a file
    or a runtime that missed or folded them wrongly shows in the outputs."""
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            values = dict(gamma=rng.uniform(0.5, 1.5, n), beta=rng.normal(0, 0.1, n),
                          moving_mean=rng.normal(0, 0.1, n), moving_variance=rng.uniform(0.5, 1.5, n))
            layer.set_weights([values[weight.name] for weight in layer.weights])  # without gamma or beta too


def run_model_test(
    build,
    inputs,
    expected_output_shape,
    targets=None,
    loss=None,
    run_mixed_precision_check=True,
    run_jit_compile_check=True,
    learning_rate=1e-2,
    mixed_precision_tolerance=MIXED_PRECISION_TOLERANCE,
):
    """Runs every shared check on the model `build()` returns.

    Args:
        build: a zero-argument callable returning a fresh model (called once per check).
        inputs: a batch of inputs.
        expected_output_shape: the output shape for `inputs`, batch included.
        targets: training targets (default: random class ids for a softmax output, else random normals).
        loss: loss for the training checks (default: sparse cross-entropy or MSE as above).
        run_mixed_precision_check: run the mixed_float16 checks. A family runs them (and the jit_compile
            check) on its smallest configuration; its other configurations skip them.
        run_jit_compile_check: run the `jit_compile=True` training check (in the whole suite; `XLA_CHECKS`).
        learning_rate: Adam's step size in the training checks (lower it for models whose activations are
            large at initialization).
        mixed_precision_tolerance: how far mixed_float16 outputs may be from float32 ones, as a fraction of the
            largest float32 output magnitude.
    """
    model = build()
    outputs = model(inputs, training=False)
    assert tuple(outputs.shape) == tuple(expected_output_shape), (
        f"output shape {tuple(outputs.shape)} != expected {tuple(expected_output_shape)}"
    )
    check_serialization(model, inputs)
    check_training_lowers_loss(build(), inputs, targets, loss, learning_rate=learning_rate)
    if run_mixed_precision_check:
        check_mixed_precision(build, inputs, targets, loss, reference=model, tolerance=mixed_precision_tolerance)
    if run_jit_compile_check and XLA_CHECKS:
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
