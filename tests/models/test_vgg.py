import keras
import numpy as np
import pytest
from testing_utils import run_model_test

import keras_nn
from keras_nn.errors import ConfigError, ModelFileError, ShapeError
from keras_nn.models import VGG

RNG = np.random.default_rng(0)


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


# keras.applications VGG16/VGG19 and torchvision vgg11/13/16/19 (identical without batch norm); with batch norm,
# torchvision vgg11_bn ... vgg19_bn, whose count is Keras' trainable count (gamma and beta, no moving stats).
PUBLISHED = {
    "vgg11": (132_863_336, 132_868_840),
    "vgg13": (133_047_848, 133_053_736),
    "vgg16": (138_357_544, 138_365_992),
    "vgg19": (143_667_240, 143_678_248),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_parameter_counts(name):
    plain, batch_norm = PUBLISHED[name]
    assert keras_nn.create_model(name).count_params() == plain
    keras.backend.clear_session()
    assert trainable_count(keras_nn.create_model(name, batch_norm=True)) == batch_norm


def test_vgg16_count_without_building_the_classifier():
    # The convolutional part alone, fast: keras.applications VGG16(include_top=False) has 14,714,688.
    assert keras_nn.create_model("vgg16", include_top=False).count_params() == 14_714_688
    fc = (7 * 7 * 512 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    assert 14_714_688 + fc == PUBLISHED["vgg16"][0]


def test_layer_layout_is_the_papers_table_1():
    for name, convs in (("vgg11", 8), ("vgg13", 10), ("vgg16", 13), ("vgg19", 16)):
        model = keras_nn.create_model(name, include_top=False, input_shape=(32, 32, 3))
        assert sum(isinstance(layer, keras.layers.Conv2D) for layer in model.layers) == convs  # + 3 FC layers


def test_shared_model_checks():
    inputs = RNG.random((4, 32, 32, 3), dtype="float32")
    run_model_test(
        # Five stages and the three dense layers, one narrow convolution per stage (XLA compile time grows with
        # every convolution).
        lambda: keras_nn.create_model("vgg11", num_classes=5, input_shape=(32, 32, 3), filters=(4, 8, 8, 16, 16),
                                      stage_convs=(1, 1, 1, 1, 1), fc_units=16, batch_norm=True),
        inputs,
        expected_output_shape=(4, 5),
    )


@pytest.mark.slow
def test_keras_applications_vgg16_weights_load_with_identical_outputs(tmp_path):
    reference = keras.applications.VGG16(weights=None, input_shape=(32, 32, 3), classes=10)
    path = tmp_path / "vgg16.weights.h5"
    reference.save_weights(path)
    model = keras_nn.create_model("vgg16", input_shape=(32, 32, 3), num_classes=10, weights=str(path))
    x = RNG.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(reference(x)))
    with pytest.raises(ModelFileError, match="block1_conv1_bn"):
        keras_nn.create_model("vgg16", input_shape=(32, 32, 3), num_classes=10, batch_norm=True, weights=str(path))


def test_feature_extractor_and_shapes():
    x = RNG.random((2, 64, 48, 1), dtype="float32")
    model = VGG(num_classes=3, input_shape=(64, 48, 1), filters=(4, 4, 8, 8, 8), fc_units=8,
                classifier_activation=None)
    assert model(x).shape == (2, 3)
    features = VGG(include_top=False, input_shape=(64, 48, 1), filters=(4, 4, 8, 8, 8))
    assert features(x).shape == (2, 2, 1, 8)
    pooled = VGG(include_top=False, pooling="avg", input_shape=(None, None, 1), filters=(4, 4, 8, 8, 8))
    assert pooled(x).shape == (2, 8)


def test_input_too_small_and_bad_values():
    with pytest.raises(ShapeError, match=r"too small .* at least 32"):
        keras_nn.create_model("vgg16", input_shape=(16, 224, 3))
    with pytest.raises(ShapeError, match="fixed input size"):
        keras_nn.create_model("vgg16", input_shape=(None, None, 3))
    with pytest.raises(ConfigError, match="one entry per stage"):
        VGG(stage_convs=(1, 1), filters=(4,))
