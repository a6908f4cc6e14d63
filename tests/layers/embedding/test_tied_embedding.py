"""TiedEmbedding: an Embedding forward, its own matrix transposed (plus a bias) in reverse."""

import keras
import numpy as np
import pytest
from testing_utils import run_model_test

from keras_nn.layers import TiedEmbedding

VOCAB, WIDTH = 11, 4
IDS = np.array([[1, 5, 10, 0], [3, 3, 7, 2]], dtype="int32")


def randomized(layer, seed=0):
    rng = np.random.default_rng(seed)
    for variable in layer.weights:
        variable.assign(rng.normal(size=variable.shape).astype("float32"))
    return layer


def test_forward_is_an_embedding_and_reverse_is_the_transposed_matrix_plus_bias():
    layer = TiedEmbedding(VOCAB, WIDTH)
    layer.build()
    randomized(layer)
    matrix, bias = (keras.ops.convert_to_numpy(w) for w in (layer.embeddings, layer.output_bias))
    reference = keras.layers.Embedding(VOCAB, WIDTH)
    reference.build()
    reference.set_weights([matrix])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(IDS)), keras.ops.convert_to_numpy(reference(IDS)))
    hidden = np.random.default_rng(1).normal(size=(2, 3, WIDTH)).astype("float32")
    logits = keras.ops.convert_to_numpy(layer(hidden, reverse=True))
    assert logits.shape == (2, 3, VOCAB) and logits.dtype == np.float32
    np.testing.assert_allclose(logits, hidden @ matrix.T + bias, rtol=1e-6, atol=1e-6)


def test_one_matrix_serves_both_ends():
    layer = TiedEmbedding(VOCAB, WIDTH, use_bias=False)
    layer.build()
    assert [w.path for w in layer.weights] == ["tied_embedding/embeddings"]
    hidden = keras.ops.convert_to_tensor(np.eye(WIDTH, dtype="float32"))
    layer.embeddings.assign(np.arange(VOCAB * WIDTH, dtype="float32").reshape(VOCAB, WIDTH))
    # e_k @ E^T is column k of E^T: the projection reads the embedding's current values.
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer(hidden, reverse=True)), np.arange(VOCAB * WIDTH).reshape(VOCAB, WIDTH).T
    )


def test_untied_variant_keeps_a_separate_projection():
    layer = TiedEmbedding(VOCAB, WIDTH, tie_weights=False)
    layer.build()
    assert sorted(w.path.split("/")[-1] for w in layer.weights) == ["embeddings", "output_bias", "reverse_embeddings"]


def build_round_trip_model():
    tokens = keras.Input((None,), dtype="int32")
    embedding = TiedEmbedding(VOCAB, WIDTH, name="tied")
    return keras.Model(tokens, embedding(embedding(tokens), reverse=True))


@pytest.mark.parametrize("use_bias", [True, False])
def test_shared_checks_in_a_model_that_embeds_and_projects_back(use_bias):
    def build():
        tokens = keras.Input((None,), dtype="int32")
        embedding = TiedEmbedding(VOCAB, WIDTH, use_bias=use_bias, name="tied")
        return keras.Model(tokens, embedding(embedding(tokens), reverse=True))

    targets = np.roll(IDS, -1, axis=1)
    model = run_model_test(
        build,
        IDS,
        (2, 4, VOCAB),
        targets=targets,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_mixed_precision_check=use_bias,
        run_jit_compile_check=use_bias,
    )
    assert len(model.weights) == (2 if use_bias else 1)


def test_logits_are_float32_under_mixed_precision():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = build_round_trip_model()
        assert model.outputs[0].dtype == "float32"
        assert keras.ops.convert_to_numpy(model(IDS)).dtype == np.float32
    finally:
        keras.config.set_dtype_policy(previous)
    assert model.get_layer("tied").compute_dtype == "float16"
