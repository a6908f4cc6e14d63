import keras
import numpy as np
import pytest
from testing_utils import compile_with_built_optimizer, run_model_test

import keras_nn
from keras_nn.errors import ConfigError, ShapeError
from keras_nn.export.signature import inference_function
from keras_nn.layers import InceptionBlock
from keras_nn.models import InceptionV1
from keras_nn.models.inception import INCEPTION_V1_BLOCKS

RNG = np.random.default_rng(0)


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_parameter_counts():
    # torchvision googlenet (aux_logits=False / True): its "5x5" branch uses 3x3 kernels.
    torchvision = keras_nn.create_model("inception_v1", kernel_size_5x5=3)
    assert trainable_count(torchvision) == 6_624_904
    keras.backend.clear_session()
    assert trainable_count(keras_nn.create_model("inception_v1", kernel_size_5x5=3, aux_heads=True)) == 13_004_888
    keras.backend.clear_session()
    # The paper's 5x5 kernels add (5*5 - 3*3) * #5x5reduce * #5x5 weights per module.
    extra = 16 * sum(f[3] * f[4] for f in INCEPTION_V1_BLOCKS.values())
    assert trainable_count(keras_nn.create_model("inception_v1")) == 6_624_904 + extra == 7_005_832
    keras.backend.clear_session()
    # The 2014 network: biased convolutions, no batch norm (the paper's Table 1 says about 6.8M).
    paper = keras_nn.create_model("inception_v1", batch_norm=False, local_response_norm=True)
    assert paper.count_params() == 6_998_552


def test_layout_follows_table_1():
    model = keras_nn.create_model("inception_v1", include_top=False)
    blocks = [layer for layer in model.layers if isinstance(layer, InceptionBlock)]
    assert [b.name for b in blocks] == [f"inception_{n}" for n in INCEPTION_V1_BLOCKS]
    sizes = {b.name[-2:]: (b.output.shape[1], b.output.shape[-1]) for b in blocks}
    assert sizes["3a"] == (28, 256) and sizes["3b"] == (28, 480) and sizes["4a"] == (14, 512)
    assert sizes["4e"] == (14, 832) and sizes["5b"] == (7, 1024)


@pytest.mark.slow
def test_shared_model_checks():
    # The smallest input the network takes: the time goes into tracing its 200 layers, whatever the size.
    inputs = RNG.random((4, 32, 32, 3), dtype="float32")
    run_model_test(
        lambda: keras_nn.create_model("inception_v1", num_classes=5, input_shape=(32, 32, 3)),
        inputs,
        expected_output_shape=(4, 5),
        # With Adam(1e-2) on a handful of images a 22-layer batch-normalized network moves so far per step that
        # the moving statistics used by the check's inference-mode loss no longer fit (measured: 1.8 -> 6565
        # after 8 steps); 1e-3 is the Keras default.
        learning_rate=1e-3,
        # XLA-compiling the 200-layer training step alone takes minutes on a 2-core CPU; the jit_compile check
        # runs on InceptionBlock and ConvBNAct (tests/layers/test_conv_blocks.py), and the rest of the model is
        # Keras' own pooling and dense layers.
        run_jit_compile_check=False,
    )


def aux_model():
    return keras_nn.create_model("inception_v1", num_classes=4, input_shape=(65, 65, 3), aux_heads=True)


@pytest.mark.slow
def test_aux_heads_train_with_weighted_losses_and_infer_with_one_output(tmp_path):
    model = aux_model()
    x = RNG.random((2, 65, 65, 3), dtype="float32")
    y = np.array([1, 3])
    assert model(x).shape == (2, 4)  # inference: the main output alone
    train_outputs = model(x, training=True)
    assert isinstance(train_outputs, list) and [tuple(o.shape) for o in train_outputs] == [(2, 4)] * 3
    assert [layer.name for layer in model.layers if layer.name.endswith("_predictions")] == [
        "aux1_predictions", "aux2_predictions"]

    # Eager, to keep the test fast: the overrides are plain Python either way (the graph-mode fit path runs in
    # the shared checks of the aux-free model and in test_aux_model_fits_in_graph_mode_and_exports_one_output).
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"], run_eagerly=True)
    loss = keras.ops.convert_to_numpy(model.compute_loss(x, y, train_outputs))
    cross_entropy = [keras.ops.convert_to_numpy(keras.losses.sparse_categorical_crossentropy(y, o)).mean()
                     for o in train_outputs]
    np.testing.assert_allclose(loss, cross_entropy[0] + 0.3 * (cross_entropy[1] + cross_entropy[2]), rtol=1e-5)

    history = model.fit(x, y, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "accuracy"}
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    np.testing.assert_allclose(logs["loss"], cross_entropy_of(model(x), y), rtol=1e-4)  # the main loss alone

    # A saved model keeps its auxiliary heads.
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded, InceptionV1) and reloaded.aux_heads
    np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(model(x)), atol=1e-6)


def cross_entropy_of(probabilities, labels):
    return float(keras.ops.convert_to_numpy(keras.losses.sparse_categorical_crossentropy(labels, probabilities)).mean())


@pytest.mark.slow
def test_aux_model_fits_in_graph_mode_and_exports_one_output():
    model = aux_model()
    x = RNG.random((2, 65, 65, 3), dtype="float32")
    compile_with_built_optimizer(model, optimizer="adam", loss="sparse_categorical_crossentropy")
    assert np.isfinite(model.fit(x, np.array([0, 2]), epochs=1, verbose=0).history["loss"][0])
    # Every exporter runs this inference function: one output, no auxiliary branch. The aux model's TFLite and
    # ONNX files and their parity are tests/export/test_every_model_exports.py's inception_v1 case.
    assert inference_function(model)(x).shape == (2, 4)


def test_options_and_feature_extractor():
    x = RNG.random((2, 64, 64, 3), dtype="float32")
    paper = keras_nn.create_model("inception_v1", batch_norm=False, local_response_norm=True, num_classes=3,
                                  input_shape=(64, 64, 3), classifier_activation=None)
    assert paper(x).shape == (2, 3)
    assert paper.get_layer("conv1").conv.use_bias and paper.get_layer("lrn2") is not None
    pooled = keras_nn.create_model("inception_v1", include_top=False, pooling="avg", input_shape=(None, None, 3))
    assert pooled(x).shape == (2, 1024)


def test_input_too_small_and_bad_values():
    with pytest.raises(ShapeError, match=r"too small .* at least 32"):
        keras_nn.create_model("inception_v1", input_shape=(31, 64, 3))
    with pytest.raises(ShapeError, match=r"too small .* at least 65"):
        keras_nn.create_model("inception_v1", input_shape=(64, 64, 3), aux_heads=True)
    with pytest.raises(ConfigError, match="aux_heads=True needs include_top=True"):
        keras_nn.create_model("inception_v1", aux_heads=True, include_top=False)
    with pytest.raises(ConfigError, match="kernel_size_5x5=7"):
        keras_nn.create_model("inception_v1", kernel_size_5x5=7)
