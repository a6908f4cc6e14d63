import keras
import numpy as np
import pytest
from testing_utils import randomize_batch_norm, run_model_test

import keras_nn
from keras_nn.errors import ConfigError, ModelFileError, ShapeError
from keras_nn.layers import BottleneckBlock, ResidualBlock
from keras_nn.models import ResNet

RNG = np.random.default_rng(0)


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


# ---------------------------------------------------------------------------------------------------------------
# Published parameter counts
# ---------------------------------------------------------------------------------------------------------------

# keras.applications ResNet50/101/152 (count_params with weights=None, checked against keras 3.15) and
# torchvision resnet18/34/50/101/152 (sum of p.numel(), which is Keras' trainable count).
KERAS_APPLICATIONS = {"resnet50": 25_636_712, "resnet101": 44_707_176, "resnet152": 60_419_944}
TORCHVISION = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032, "resnet101": 44_549_160,
               "resnet152": 60_192_808}


@pytest.mark.parametrize("name", ["resnet18", "resnet34"])
def test_basic_block_resnets_have_torchvision_parameter_counts(name):
    assert trainable_count(keras_nn.create_model(name)) == TORCHVISION[name]


@pytest.mark.parametrize("name", ["resnet50", pytest.param("resnet101", marks=pytest.mark.slow),
                                  pytest.param("resnet152", marks=pytest.mark.slow)])
def test_bottleneck_resnets_have_keras_applications_and_torchvision_counts(name):
    model = keras_nn.create_model(name)
    assert model.count_params() == KERAS_APPLICATIONS[name]
    # keras.applications keeps a bias in every convolution; torchvision has none.
    conv_biases = sum(int(layer.bias.shape[0]) for layer in model._flatten_layers()
                      if isinstance(layer, keras.layers.Conv2D) and layer.use_bias)
    assert trainable_count(model) - conv_biases == TORCHVISION[name]


def test_torchvision_variant_has_no_conv_bias_and_strides_the_3x3():
    model = keras_nn.create_model("resnet18", use_bias=False)
    assert not any(layer.use_bias for layer in model._flatten_layers() if isinstance(layer, keras.layers.Conv2D))
    v15 = keras_nn.create_model("resnet50", stride_on="3x3", include_top=False, input_shape=(32, 32, 3))
    block = v15.get_layer("conv3_block1")
    assert block.conv1.conv.strides == (1, 1) and block.conv2.conv.strides == (2, 2)


def test_resnet50_count_is_keras_applications_own():
    assert keras.applications.ResNet50(weights=None).count_params() == KERAS_APPLICATIONS["resnet50"]


# The paper's Table 6 (0.27M, 0.46M, 0.66M, 0.85M, 1.7M) to the parameter: option A shortcuts have none, so the
# count is the convolutions, the batch norms' gamma/beta and the classifier.
CIFAR = {"resnet20_cifar": (269_722, 0.27), "resnet32_cifar": (464_154, 0.46), "resnet44_cifar": (658_586, 0.66),
         "resnet56_cifar": (853_018, 0.85), "resnet110_cifar": (1_727_962, 1.7)}


@pytest.mark.parametrize("name", sorted(CIFAR))
def test_cifar_resnets_match_the_paper(name):
    exact, published = CIFAR[name]
    model = keras_nn.create_model(name)
    count = trainable_count(model)
    assert count == exact
    assert round(count / 1e6, 2 if published < 1 else 1) == published
    depth = int(name[len("resnet"):].split("_")[0])
    convs = sum(isinstance(layer, keras.layers.Conv2D) for layer in model._flatten_layers())
    assert convs + 1 == depth  # 6n + 1 convolutions and the classifier: the paper's 6n + 2 layers


def test_option_b_adds_projection_parameters():
    option_b = keras_nn.create_model("resnet20_cifar", shortcut="projection")
    # Two projections (16->32, 32->64) with their batch norms.
    assert trainable_count(option_b) == 269_722 + (16 * 32 + 32 * 64) + 2 * (32 + 64)


# ---------------------------------------------------------------------------------------------------------------
# Shared checks, shapes, options
# ---------------------------------------------------------------------------------------------------------------


# The shared check compares inference-mode losses before and after 8 steps; batch norm's moving statistics
# must follow the weights within those 8 steps, hence a fast momentum here (real training uses 0.9).
FAST_BN = {"batch_norm_momentum": 0.5}


def test_shared_model_checks():
    # resnet20_cifar's layout (CIFAR stem, basic blocks, option A) with one narrow block per stage; the
    # bottleneck block has its own shared checks in tests/layers/test_conv_blocks.py.
    inputs = RNG.random((4, 8, 8, 3), dtype="float32")
    run_model_test(
        lambda: keras_nn.create_model("resnet20_cifar", input_shape=(8, 8, 3), num_classes=5, blocks=(1, 1, 1),
                                      filters=(4, 8, 16), stem_filters=4, **FAST_BN),
        inputs,
        expected_output_shape=(4, 5),
    )


def test_output_shapes_num_classes_and_input_shape():
    model = keras_nn.create_model("resnet18", num_classes=7, input_shape=(48, 40, 1), classifier_activation=None)
    out = keras.ops.convert_to_numpy(model(RNG.random((2, 48, 40, 1), dtype="float32")))
    assert out.shape == (2, 7) and not np.allclose(out.sum(-1), 1.0)
    blocks = [layer for layer in model.layers if isinstance(layer, ResidualBlock)]
    assert len(blocks) == 8 and blocks[2].name == "conv3_block1" and blocks[2].strides == 2
    model = keras_nn.create_model("resnet110_cifar")
    assert model(np.zeros((1, 32, 32, 3), "float32")).shape == (1, 10)
    assert len([layer for layer in model.layers if isinstance(layer, ResidualBlock)]) == 54


def test_feature_extractor():
    x = RNG.random((2, 64, 64, 3), dtype="float32")
    features = keras_nn.create_model("resnet50", include_top=False, input_shape=(64, 64, 3))
    assert features(x).shape == (2, 2, 2, 2048)
    assert isinstance(features.get_layer("conv5_block3"), BottleneckBlock)
    for pooling in ("avg", "max"):
        pooled = keras_nn.create_model("resnet20_cifar", include_top=False, pooling=pooling)
        assert pooled(x[:, :32, :32]).shape == (2, 64)
    with pytest.raises(ConfigError, match="include_top=False"):
        keras_nn.create_model("resnet18", pooling="avg")


def test_input_too_small_names_the_minimum():
    with pytest.raises(ShapeError, match=r"too small .* at least 32"):
        keras_nn.create_model("resnet18", input_shape=(31, 64, 3))
    with pytest.raises(ShapeError, match=r"too small .* at least 4"):
        keras_nn.create_model("resnet20_cifar", input_shape=(3, 3, 3))
    with pytest.raises(ShapeError, match="rank 3"):
        keras_nn.create_model("resnet20_cifar", input_shape=(32, 32))


def test_bad_values_are_named():
    with pytest.raises(ConfigError, match="block_type='huge'"):
        ResNet(block_type="huge")
    with pytest.raises(ConfigError, match="one entry per stage"):
        ResNet(blocks=(1, 1), filters=(4,))
    with pytest.raises(ConfigError, match="classifier_activation"):
        keras_nn.create_model("resnet20_cifar", classifier_activation="relu")


# ---------------------------------------------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------------------------------------------


def test_keras_applications_resnet50_weights_load_with_identical_outputs(tmp_path):
    reference = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=6)
    randomize_batch_norm(reference)
    path = tmp_path / "resnet50.weights.h5"
    reference.save_weights(path)
    x = RNG.uniform(-100, 100, (2, 64, 64, 3)).astype("float32")
    model = keras_nn.create_model("resnet50", weights=str(path), input_shape=(64, 64, 3), num_classes=6)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(reference(x)))
    assert model.get_config()["weights"] is None  # the file is not needed to reload a saved model

    # A feature extractor takes the backbone of a full model's file.
    features = keras_nn.create_model("resnet50", weights=str(path), input_shape=(64, 64, 3), include_top=False,
                                     pooling="avg")
    backbone = keras.Model(reference.input, reference.get_layer("avg_pool").output)
    np.testing.assert_array_equal(np.asarray(features(x)), np.asarray(backbone(x)))


def test_weights_round_trip_and_mismatch_errors(tmp_path):
    model = keras_nn.create_model("resnet20_cifar", input_shape=(8, 8, 3))
    randomize_batch_norm(model)
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    loaded = keras_nn.create_model("resnet20_cifar", input_shape=(8, 8, 3), weights=str(path))
    x = RNG.random((2, 8, 8, 3), dtype="float32")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))

    with pytest.raises(ModelFileError, match=r"predictions: file \[\(64, 10\), \(10,\)\], model \[\(64, 4\)"):
        keras_nn.create_model("resnet20_cifar", num_classes=4, weights=str(path))
    with pytest.raises(ModelFileError, match="weight layers are not in the file"):
        keras_nn.create_model("resnet32_cifar", weights=str(path))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        keras_nn.create_model("resnet20_cifar", weights=str(tmp_path / "missing.weights.h5"))
    (tmp_path / "junk.weights.h5").write_text("not hdf5")
    with pytest.raises(ModelFileError, match="cannot read weights file"):
        keras_nn.create_model("resnet20_cifar", weights=str(tmp_path / "junk.weights.h5"))
