import os

import keras
import numpy as np
import pytest
from testing_utils import check_training_lowers_loss, compile_with_built_optimizer, run_model_test

import keras_nn
from keras_nn.errors import ConfigError
from keras_nn.losses import MaskedSparseCategoricalCrossentropy
from keras_nn.models import TransformerTranslator

PAD, START, END = 0, 2, 3
SOURCE = np.array([[5, 9, 7, 12, 6, 0, 0], [4, 4, 8, 6, 11, 10, 5]], dtype="int32")
TARGET_IN = np.array([[START, 5, 7, 9, 4, 0], [START, 6, 6, 8, 4, 7]], dtype="int32")
TARGET_OUT = np.array([[5, 7, 9, 4, END, 0], [6, 6, 8, 4, 7, END]], dtype="int32")


def tiny(**overrides):
    arguments = dict(
        source_vocab_size=13,
        target_vocab_size=10,
        shared_embeddings=False,
        num_layers=2,
        d_model=16,
        num_heads=2,
        intermediate_dim=32,
        max_length=9,
    )
    return keras_nn.create_model("transformer_translator", **{**arguments, **overrides})


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_base_configuration_has_the_papers_parameter_count():
    # Counted in TransformerTranslator's docstring: 18,944,000 shared embedding + 6 x 3,152,384 encoder layers
    # + 6 x 4,204,032 decoder layers. Table 3 of the paper rounds the base model to 65M.
    model = keras_nn.create_model("transformer_translator")
    assert model.count_params() == 63_082_496
    assert abs(model.count_params() - 65e6) / 65e6 < 0.03
    assert model.get_layer("shared_embedding").embeddings.shape == (37000, 512)


def test_parameter_count_of_a_small_configuration_by_hand():
    d, ff, layers, source_vocab, target_vocab = 16, 32, 2, 13, 10
    attention = 4 * (d * d + d)
    feedforward = d * ff + ff + ff * d + d
    encoder_layer = attention + feedforward + 2 * 2 * d
    decoder_layer = 2 * attention + feedforward + 3 * 2 * d
    # Separate source and target embeddings, and a separate (bias-free) output projection.
    embeddings = source_vocab * d + target_vocab * d + d * target_vocab
    assert tiny().count_params() == embeddings + layers * (encoder_layer + decoder_layer)
    assert tiny(norm_first=True).count_params() == tiny().count_params() + 2 * 2 * d  # two final LayerNorms


def test_shared_model_checks():
    # One layer each, to keep tracing cheap. Pre-LN is round-tripped below.
    run_model_test(
        lambda: tiny(num_layers=1, dropout=0.1),
        {"source": SOURCE, "target_in": TARGET_IN},
        expected_output_shape=(2, 6, 10),
        targets=TARGET_OUT,
        loss=MaskedSparseCategoricalCrossentropy(label_smoothing=0.1),
        run_jit_compile_check=False,  # below, as a slow test: XLA compiling the training step takes ~10-20 s
    )


@pytest.mark.slow
def test_trains_under_jit_compile():
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=0.1)
    check_training_lowers_loss(
        tiny(num_layers=1), {"source": SOURCE, "target_in": TARGET_IN}, TARGET_OUT, loss, jit_compile=True
    )


def test_decode_step_matches_the_teacher_forced_graph():
    model = tiny(norm_first=True)
    logits = to_numpy(model({"source": SOURCE, "target_in": TARGET_IN}))
    states, (cross_caches, source_mask) = model.initial_decoding_state(SOURCE, max_length=9)
    for step in range(TARGET_IN.shape[1]):
        log_probs, states, attention = model.decode_step(
            TARGET_IN[:, step], states, cross_caches, source_mask
        )
        expected = to_numpy(keras.ops.log_softmax(logits[:, step], axis=-1))
        np.testing.assert_allclose(to_numpy(log_probs), expected, atol=1e-5)
        assert to_numpy(attention)[0, 5:].max() == 0.0  # padded source tokens get no attention
    np.testing.assert_array_equal(to_numpy(states["index"]), [6, 6])


@pytest.mark.parametrize("norm_first", [False, True])
def test_cached_and_uncached_greedy_decoding_give_the_same_tokens(norm_first):
    model = tiny(norm_first=norm_first)
    cached = model.greedy_decode(SOURCE, max_length=8)
    uncached = model.greedy_decode(SOURCE, max_length=8, use_cache=False)
    assert cached["tokens"].shape[1] == 8  # an untrained model rarely stops: the whole length is compared
    np.testing.assert_array_equal(cached["tokens"], uncached["tokens"])
    np.testing.assert_allclose(cached["scores"], uncached["scores"], rtol=1e-5)
    np.testing.assert_allclose(cached["attention"], uncached["attention"], atol=1e-5)


def test_beam_decoding():
    model = tiny()
    greedy = model.greedy_decode(SOURCE, max_length=8)
    one = model.beam_decode(SOURCE, beam_width=1, length_penalty=0.0, max_length=8)
    np.testing.assert_array_equal(one["tokens"], greedy["tokens"])
    np.testing.assert_allclose(one["scores"], greedy["scores"], rtol=1e-5)
    beam = model.beam_decode(SOURCE, beam_width=3, length_penalty=0.6, max_length=8)
    assert beam["tokens"].shape[0] == 2 and beam["attention"].shape[::2] == (2, 7)
    lengths = beam["lengths"].astype(float)
    np.testing.assert_allclose(
        beam["normalized_scores"], beam["scores"] / ((5 + lengths) / 6) ** 0.6, rtol=1e-5
    )
    with pytest.raises(ConfigError, match="beam_width"):
        model.beam_decode(SOURCE, beam_width=0)


def test_encoder_model_shares_the_encoder():
    model = tiny()
    encoder = model.encoder_model(source_length=7)
    np.testing.assert_allclose(to_numpy(encoder(SOURCE)), to_numpy(model.encode(SOURCE)), atol=1e-6)
    assert encoder.count_params() < model.count_params()
    assert any(weight is model.source_embedding.embeddings for weight in encoder.weights)


def test_attention_maps():
    maps = tiny().attention_maps(SOURCE, TARGET_IN)
    assert len(maps) == 2 and maps[0].shape == (2, 2, 6, 7)
    for weights in maps:
        np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
        assert weights[0, ..., 5:].max() == 0.0


def test_reload_gives_identical_decoding(tmp_path):
    model = tiny(source_vocab_size=13, target_vocab_size=13, shared_embeddings=True, norm_first=True)
    path = os.path.join(tmp_path, "translator.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded) is TransformerTranslator
    inputs = {"source": SOURCE, "target_in": TARGET_IN}
    np.testing.assert_array_equal(to_numpy(reloaded(inputs)), to_numpy(model(inputs)))
    for decode in ("greedy_decode", "beam_decode"):
        a, b = getattr(model, decode)(SOURCE, max_length=5), getattr(reloaded, decode)(SOURCE, max_length=5)
        np.testing.assert_array_equal(a["tokens"], b["tokens"])


def test_bad_arguments():
    with pytest.raises(ConfigError, match="shared_embeddings=True needs one joint vocabulary"):
        tiny(shared_embeddings=True)
    with pytest.raises(ConfigError, match="divisible by num_heads=3"):
        tiny(num_heads=3)
    with pytest.raises(ConfigError, match="end_token"):
        tiny(end_token=10)


def reversal_task(rng, count, length=5):
    """Synthetic data: random token strings (ids 4..11), the target is the source reversed."""
    source = np.zeros((count, length), "int32")
    target_in = np.zeros((count, length + 1), "int32")
    target_out = np.zeros((count, length + 1), "int32")
    for row in range(count):
        size = rng.integers(2, length + 1)
        tokens = rng.integers(4, 12, size=size)
        source[row, :size] = tokens
        target_in[row, 0], target_in[row, 1 : size + 1] = START, tokens[::-1]
        target_out[row, :size], target_out[row, size] = tokens[::-1], END
    return source, target_in, target_out


@pytest.mark.slow
def test_a_tiny_translator_learns_to_reverse():
    rng = np.random.default_rng(0)
    source, target_in, target_out = reversal_task(rng, 1280)
    test_source, _, test_target = reversal_task(rng, 100)
    model = tiny(
        source_vocab_size=12,
        target_vocab_size=12,
        num_layers=1,
        d_model=32,
        num_heads=4,
        intermediate_dim=64,
        dropout=0.0,
    )
    compile_with_built_optimizer(
        model, optimizer=keras.optimizers.Adam(1e-2), loss=MaskedSparseCategoricalCrossentropy(label_smoothing=0.0)
    )
    model.fit({"source": source, "target_in": target_in}, target_out, batch_size=64, epochs=20, verbose=0)
    tokens = model.greedy_decode(test_source, max_length=6)["tokens"]
    expected = test_target[:, : tokens.shape[1]]
    assert tokens.shape[1] <= 6
    exact = (tokens == expected).all(axis=1).mean()
    assert exact >= 0.95, f"only {exact:.0%} of held-out strings reversed exactly"
    # The trained model's cached and uncached decoding agree too, and beam search does at least as well.
    np.testing.assert_array_equal(
        model.greedy_decode(test_source[:10], 6, use_cache=False)["tokens"], tokens[:10]
    )
    beam = model.beam_decode(test_source, beam_width=3, max_length=6)["tokens"]
    assert (beam == test_target[:, : beam.shape[1]]).all(axis=1).mean() >= exact - 0.02
