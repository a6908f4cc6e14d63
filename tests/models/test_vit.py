import keras
import numpy as np
import pytest
from testing_utils import run_model_test

import keras_nn
from keras_nn.errors import ConfigError, MissingPathError, ModelFileError, ShapeError
from keras_nn.layers import resample_position_embedding
from keras_nn.models import VisionTransformer

RNG = np.random.default_rng(0)
IMAGES = RNG.random((4, 16, 16, 3), dtype=np.float32)
TINY = dict(num_classes=5, input_shape=(16, 16, 3), patch_size=4, hidden_dim=32, depth=2, num_heads=2, mlp_dim=64)
TINY_DEIT = dict(TINY, distilled=True, drop_path_rate=0.1)


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def softmax(logits):
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def randomized(model, seed=1):
    """Every weight redrawn (the heads start at zero bias, LayerNorms at 1/0): a loader that missed one shows."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.2, w.shape).astype("float32") for w in model.get_weights()])
    return model


# ---------------------------------------------------------------------------------------------------------------
# Published parameter counts
# ---------------------------------------------------------------------------------------------------------------

# timm 1.0 (sum of p.numel() of timm.create_model(name, num_classes=1000)), also the counts of the DeiT paper's
# table 1 (5M, 22M, 86M) and its distilled rows. Building only allocates the weights (about 1-2 s for a base
# model); nothing runs.
TIMM = {
    "vit_tiny_patch16_224": 5_717_416,
    "vit_small_patch16_224": 22_050_664,
    "vit_base_patch16_224": 86_567_656,
    "deit_tiny_patch16_224": 5_717_416,
    "deit_small_patch16_224": 22_050_664,
    "deit_tiny_distilled_patch16_224": 5_910_800,
    "deit_small_distilled_patch16_224": 22_436_432,
    "deit_base_distilled_patch16_224": 87_338_192,
}


def test_every_vit_configuration_has_a_count():
    assert sorted(TIMM) == sorted(name for name in keras_nn.list_models() if name.startswith(("vit_", "deit_")))


@pytest.mark.parametrize("name", sorted(TIMM))
def test_standard_configurations_have_timms_parameter_counts(name):
    model = keras_nn.create_model(name)
    assert model.count_params() == TIMM[name]
    assert model.grid_size == (14, 14) and model.num_prefix_tokens == (2 if "distilled" in name else 1)


# ---------------------------------------------------------------------------------------------------------------
# Shared checks on the smallest configurations
# ---------------------------------------------------------------------------------------------------------------


def test_tiny_vit_shared_checks():
    run_model_test(lambda: VisionTransformer(**TINY), IMAGES, expected_output_shape=(4, 5))


def test_tiny_distilled_deit_shared_checks():
    # XLA compiles the same blocks as the ViT above (5-7 s); mixed precision checks the float32 heads' mean.
    run_model_test(
        lambda: VisionTransformer(**TINY_DEIT), IMAGES, expected_output_shape=(4, 5), run_jit_compile_check=False
    )


# ---------------------------------------------------------------------------------------------------------------
# Heads, features, attention
# ---------------------------------------------------------------------------------------------------------------


def test_vit_output_is_the_softmax_of_its_class_head():
    model = randomized(VisionTransformer(**TINY))
    (logits,) = model.head_logits(IMAGES)
    np.testing.assert_allclose(to_numpy(model(IMAGES)), softmax(to_numpy(logits)), atol=1e-6)


def test_distilled_output_is_the_mean_of_its_two_heads():
    model = randomized(VisionTransformer(**TINY_DEIT))
    class_logits, distillation_logits = (to_numpy(x) for x in model.head_logits(IMAGES))
    assert class_logits.dtype == distillation_logits.dtype == np.float32
    assert np.abs(class_logits - distillation_logits).max() > 0.1  # two different heads, so the mean matters
    mean = (class_logits + distillation_logits) / 2
    np.testing.assert_allclose(to_numpy(model(IMAGES)), softmax(mean), atol=1e-6)
    np.testing.assert_allclose(model.predict(IMAGES, verbose=0), softmax(mean), atol=1e-6)

    logits_model = VisionTransformer(**TINY_DEIT, classifier_activation=None)
    logits_model.set_weights(model.get_weights())
    np.testing.assert_array_equal(to_numpy(logits_model(IMAGES)), mean)
    # In training both heads come back, one for the labels and one for the teacher.
    assert [tuple(x.shape) for x in model.head_logits(IMAGES, training=True)] == [(4, 5), (4, 5)]


@pytest.mark.parametrize("distilled", [False, True])
def test_feature_extractor_outputs(distilled):
    classifier = randomized(VisionTransformer(**TINY, distilled=distilled))
    tokens = to_numpy(classifier.encode(IMAGES))
    prefix = 2 if distilled else 1
    assert tokens.shape == (4, prefix + 16, 32)

    def features(pooling):
        arguments = dict(TINY, distilled=distilled, include_top=False, pooling=pooling)
        model = VisionTransformer(**arguments)
        for layer in model.layers:
            if layer.weights:
                layer.set_weights(classifier.get_layer(layer.name).get_weights())
        return to_numpy(model(IMAGES))

    np.testing.assert_allclose(features(None), tokens, atol=1e-6)
    expected_token = (tokens[:, 0] + tokens[:, 1]) / 2 if distilled else tokens[:, 0]  # timm's pre_logits
    np.testing.assert_allclose(features("token"), expected_token, atol=1e-6)
    if not distilled:
        np.testing.assert_allclose(features("avg"), tokens[:, 1:].mean(1), atol=1e-6)


def test_attention_scores_of_every_block():
    model = VisionTransformer(**TINY_DEIT)
    tokens, scores = model.encode(IMAGES, return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(tokens), to_numpy(model.encode(IMAGES)), atol=1e-6)
    assert len(scores) == 2 and all(tuple(s.shape) == (4, 2, 18, 18) for s in scores)
    np.testing.assert_allclose(to_numpy(scores[1]).sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("num_classes, input_shape", [(7, (16, 24, 3)), (1, (8, 32, 1)), (12, (32, 16, 3))])
def test_any_num_classes_and_non_square_images(num_classes, input_shape):
    model = VisionTransformer(**dict(TINY, num_classes=num_classes, input_shape=input_shape))
    images = RNG.random((2, *input_shape), dtype=np.float32)
    assert model.grid_size == (input_shape[0] // 4, input_shape[1] // 4)
    outputs = to_numpy(model(images))
    assert outputs.shape == (2, num_classes)
    np.testing.assert_allclose(outputs.sum(-1), 1.0, atol=1e-5)


# ---------------------------------------------------------------------------------------------------------------
# Weights files, at the same and at another image size
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A randomized tiny ViT and DeiT at 16x16, and their .weights.h5 files."""
    directory = tmp_path_factory.mktemp("vit_weights")
    files = {}
    for distilled in (False, True):
        model = randomized(VisionTransformer(**TINY, distilled=distilled))
        path = directory / f"{'deit' if distilled else 'vit'}.weights.h5"
        model.save_weights(path)
        files[distilled] = (model, path)
    return files


@pytest.mark.parametrize("distilled", [False, True])
def test_weights_file_round_trip_at_the_same_size(saved, distilled):
    model, path = saved[distilled]
    loaded = VisionTransformer(**TINY, distilled=distilled, weights=str(path))
    for want, got in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(to_numpy(loaded(IMAGES)), to_numpy(model(IMAGES)))
    assert loaded.get_config()["weights"] is None  # the config does not load the file a second time


@pytest.mark.parametrize("distilled", [False, True])
def test_weights_file_at_another_size_resamples_the_position_table(saved, distilled):
    model, path = saved[distilled]
    arguments = dict(TINY, distilled=distilled, input_shape=(32, 32, 3))
    loaded = VisionTransformer(**arguments, weights=path)
    # The same model by hand: every weight copied, the position table resampled from the 4x4 to the 8x8 grid.
    by_hand = VisionTransformer(**arguments)
    for layer in by_hand.layers:
        values = model.get_layer(layer.name).get_weights()
        if layer.name == "position_embedding":
            values = [to_numpy(resample_position_embedding(values[0], (4, 4), (8, 8), 2 if distilled else 1))]
        layer.set_weights(values)
    table = to_numpy(loaded.get_layer("position_embedding").embeddings)
    assert table.shape == ((2 if distilled else 1) + 64, 32)
    np.testing.assert_array_equal(table, to_numpy(by_hand.get_layer("position_embedding").embeddings))
    large = RNG.random((2, 32, 32, 3), dtype=np.float32)
    np.testing.assert_array_equal(to_numpy(loaded(large)), to_numpy(by_hand(large)))


def test_feature_extractors_load_a_classifier_file(saved):
    model, path = saved[False]
    tokens = to_numpy(model.encode(IMAGES))
    every_token = VisionTransformer(**TINY, include_top=False, pooling=None, weights=path)
    np.testing.assert_allclose(to_numpy(every_token(IMAGES)), tokens, atol=1e-6)
    average = VisionTransformer(**TINY, include_top=False, pooling="avg", weights=path)
    np.testing.assert_allclose(to_numpy(average(IMAGES)), tokens[:, 1:].mean(1), atol=1e-6)


def test_a_non_square_model_loads_its_own_file(tmp_path):
    arguments = dict(TINY, input_shape=(16, 24, 3))
    model = randomized(VisionTransformer(**arguments))
    model.save_weights(tmp_path / "wide.weights.h5")
    loaded = VisionTransformer(**arguments, weights=tmp_path / "wide.weights.h5")
    images = RNG.random((2, 16, 24, 3), dtype=np.float32)
    np.testing.assert_array_equal(to_numpy(loaded(images)), to_numpy(model(images)))
    with pytest.raises(ModelFileError, match="neither this model's 4x4 patch grid nor a square one"):
        VisionTransformer(**TINY, weights=tmp_path / "wide.weights.h5")


def test_bad_weights_files(saved, tmp_path):
    _, path = saved[False]
    with pytest.raises(MissingPathError, match="does not exist"):
        VisionTransformer(**TINY, weights=tmp_path / "missing.weights.h5")
    with pytest.raises(ModelFileError, match=r"does not fit model .*Build the model with the configuration"):
        VisionTransformer(**dict(TINY, hidden_dim=16), weights=path)
    cnn = keras_nn.create_model("simple_cnn", num_classes=5, input_shape=(16, 16, 3))
    cnn.save_weights(tmp_path / "cnn.weights.h5")
    with pytest.raises(ModelFileError, match="holds no ViT position embedding"):
        VisionTransformer(**TINY, weights=tmp_path / "cnn.weights.h5")
    with pytest.raises(ConfigError, match="must be None or the path of a weights file"):
        VisionTransformer(**TINY, weights=3)


# ---------------------------------------------------------------------------------------------------------------
# Bad configurations
# ---------------------------------------------------------------------------------------------------------------


def test_bad_configurations_name_the_fix():
    with pytest.raises(ShapeError, match=r"image size 18x16 is not divisible by patch_size=4; resize the images"):
        VisionTransformer(**dict(TINY, input_shape=(18, 16, 3)))
    with pytest.raises(ShapeError, match=r"image size 224x224 is not divisible by patch_size=15"):
        keras_nn.create_model("vit_tiny_patch16_224", patch_size=15)
    with pytest.raises(ConfigError, match="pooling='max' is not allowed; choose one of: token, avg, None"):
        VisionTransformer(**TINY, pooling="max")
    with pytest.raises(ConfigError, match="pooling='avg' does not fit distilled=True.*use pooling='token'"):
        VisionTransformer(**TINY_DEIT, pooling="avg")
    with pytest.raises(ConfigError, match="hidden_dim=30 is not divisible by num_heads=4; change one of them"):
        VisionTransformer(**dict(TINY, hidden_dim=30, num_heads=4))
    with pytest.raises(ConfigError, match="pass include_top=False with it"):
        VisionTransformer(**TINY, pooling=None)
    with pytest.raises(ConfigError, match=r"drop_path_rate=1\.0 must be in \[0, 1\)"):
        VisionTransformer(**dict(TINY, drop_path_rate=1.0))
    with pytest.raises(ConfigError, match="include_top=False and has no heads"):
        VisionTransformer(**TINY, include_top=False).head_logits(IMAGES)
