import math
import os

import keras
import numpy as np
import pytest
from testing_utils import check_training_lowers_loss, run_model_test

import keras_nn
from keras_nn.errors import ConfigError
from keras_nn.models import Seq2SeqAttention

SOURCE = np.array([[5, 9, 7, 12, 2, 0, 0], [4, 4, 8, 6, 11, 3, 2]], dtype="int32")
TARGET_IN = np.array([[1, 5, 7, 9, 0], [1, 6, 6, 8, 4]], dtype="int32")
TARGET_OUT = np.array([[5, 7, 9, 2, 0], [6, 6, 8, 4, 2]], dtype="int32")


def tiny(**overrides):
    arguments = dict(
        source_vocab_size=13, target_vocab_size=10, source_length=7, target_length=5, embedding_dim=8,
        encoder_units=6, decoder_units=8, attention_units=5,
    )
    return keras_nn.create_model("seq2seq_attention", **{**arguments, **overrides})


@pytest.mark.parametrize(
    "overrides, mixed",
    [({}, True), ({"cell": "gru", "attention": "luong", "bidirectional": False, "encoder_layers": 2}, False)],
)
def test_shared_model_checks(overrides, mixed):
    run_model_test(
        lambda: tiny(**overrides),
        {"source": SOURCE, "target_in": TARGET_IN},
        expected_output_shape=(2, 5, 10),
        targets=TARGET_OUT,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_mixed_precision_check=mixed,
        run_jit_compile_check=False,  # below, as a slow test: XLA compiling the recurrent loops takes ~15 s
    )


@pytest.mark.slow
def test_trains_under_jit_compile():
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    check_training_lowers_loss(tiny(), {"source": SOURCE, "target_in": TARGET_IN}, TARGET_OUT, loss, jit_compile=True)


def test_decoding_shapes_and_greedy_equals_beam_of_width_one():
    model = tiny()
    greedy = model.greedy_decode(SOURCE, max_length=6)
    beam = model.beam_decode(SOURCE, beam_width=1, length_penalty=0.0, max_length=6)
    assert greedy["tokens"].shape[0] == 2 and greedy["tokens"].shape[1] <= 6
    assert greedy["attention"].shape == (2, greedy["tokens"].shape[1], 7)
    np.testing.assert_array_equal(greedy["tokens"], beam["tokens"])
    np.testing.assert_allclose(greedy["scores"], beam["scores"], rtol=1e-6)
    np.testing.assert_allclose(greedy["attention"], beam["attention"], atol=1e-6)
    # Attention is a distribution over the real source steps: padding gets no weight.
    live = greedy["attention"][0, 0]
    assert live[SOURCE[0] == 0].max() == 0.0 and math.isclose(live.sum(), 1.0, rel_tol=1e-5)


def test_step_decoding_matches_the_teacher_forced_graph():
    model = tiny(attention="luong", luong_score="general")
    logits = keras.ops.convert_to_numpy(model({"source": SOURCE, "target_in": TARGET_IN}))
    outputs, states, mask = model.encode(SOURCE)
    for step in range(TARGET_IN.shape[1]):
        log_probs, states, _ = model.decode_step(TARGET_IN[:, step], states, outputs, mask)
        expected = keras.ops.convert_to_numpy(keras.ops.log_softmax(logits[:, step], axis=-1))
        np.testing.assert_allclose(keras.ops.convert_to_numpy(log_probs), expected, atol=1e-5)


def test_reload_gives_identical_decoding(tmp_path):
    model = tiny(cell="gru")
    path = os.path.join(tmp_path, "s2s.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded) is Seq2SeqAttention
    for decode in ("greedy_decode", "beam_decode"):
        a, b = getattr(model, decode)(SOURCE, max_length=5), getattr(reloaded, decode)(SOURCE, max_length=5)
        np.testing.assert_array_equal(a["tokens"], b["tokens"])
        np.testing.assert_allclose(a["attention"], b["attention"], atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="luong_score='dot' needs decoder_units == encoder output width"):
        tiny(attention="luong", luong_score="dot")
    tiny(attention="luong", luong_score="dot", decoder_units=12)  # 2 x 6 bidirectional
    with pytest.raises(ConfigError, match="attention"):
        tiny(attention="transformer")
    with pytest.raises(ConfigError, match="beam_width"):
        tiny().beam_decode(SOURCE, beam_width=0)

