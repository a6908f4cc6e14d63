import math
import os

import keras
import numpy as np
import pytest
from testing_utils import check_training_lowers_loss, run_model_test

import keras_nn
from keras_nn.errors import ConfigError
from keras_nn.models import Seq2SeqAttention
from keras_nn.models.seq2seq import beam_search, decode_in_batches, greedy_search, length_penalty_factor

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


# ----------------------------------------------------------------------- search on a hand-made decoder

PAD, START, END, A, B = 0, 1, 2, 3, 4


def toy_step(tree):
    """A decoder over a tree of prefixes. `tree[node] = {token: (probability, child)}`; node 0 is the root,
    and the state is the node reached by the tokens read so far."""
    names = sorted(tree)

    def step(tokens, states):
        tokens = np.asarray(keras.ops.convert_to_numpy(tokens))
        nodes = np.asarray(keras.ops.convert_to_numpy(states)).astype(int)
        new_nodes = []
        for token, node in zip(tokens, nodes, strict=True):
            new_nodes.append(0 if token == START else tree[node].get(int(token), (0, node))[1])
        log_probs = np.full((len(tokens), 5), -1e9)
        for row, node in enumerate(new_nodes):
            for token, (probability, _) in tree.get(node, {END: (1.0, node)}).items():
                log_probs[row, token] = math.log(probability)
        return log_probs.astype("float32"), np.asarray(new_nodes), np.zeros((len(tokens), 3), "float32")

    assert names[0] == 0
    return step


def test_beam_search_finds_what_greedy_misses():
    # Greedy takes A (0.6) and then at best 0.4: 0.24. Beam search keeps B (0.4) whose best is 0.9: 0.36.
    tree = {
        0: {A: (0.6, 1), B: (0.4, 2)},
        1: {A: (0.4, 3), B: (0.3, 3), END: (0.3, 3)},
        2: {A: (0.9, 3), B: (0.05, 3), END: (0.05, 3)},
        3: {END: (1.0, 3)},
    }
    step = toy_step(tree)
    states = np.zeros((1,), "int64")
    greedy = greedy_search(step, states, (), START, END, max_length=5)
    np.testing.assert_array_equal(greedy["tokens"][0], [A, A, END])
    assert math.isclose(greedy["scores"][0], math.log(0.24), rel_tol=1e-5)
    beam = beam_search(step, states, (), START, END, max_length=5, beam_width=2)
    np.testing.assert_array_equal(beam["tokens"][0], [B, A, END])
    assert math.isclose(beam["scores"][0], math.log(0.36), rel_tol=1e-5)
    assert beam["lengths"][0] == 3
    one = beam_search(step, states, (), START, END, max_length=5, beam_width=1)
    np.testing.assert_array_equal(one["tokens"], greedy["tokens"])


def test_length_normalization_prefers_the_longer_sequence():
    # [END] has log-probability -1.0; [A, A, END] has -1.2 but length 3: with alpha = 1 its GNMT-normalized
    # score is -1.2 / ((5 + 3) / 6) = -0.9, better than -1.0 / ((5 + 1) / 6) = -1.0.
    first_a = 1 - math.exp(-1.0)
    rest = math.exp((-1.2 - math.log(first_a)) / 2)
    tree = {
        0: {END: (math.exp(-1.0), 9), A: (first_a, 1)},
        1: {A: (rest, 2), END: (1 - rest, 9)},
        2: {END: (rest, 9), A: (1 - rest, 3)},
        3: {END: (1.0, 9)},
        9: {END: (1.0, 9)},
    }
    step = toy_step(tree)
    states = np.zeros((1,), "int64")
    raw = beam_search(step, states, (), START, END, max_length=6, beam_width=2, length_penalty=0.0)
    np.testing.assert_array_equal(raw["tokens"][0][: raw["lengths"][0]], [END])
    assert math.isclose(raw["scores"][0], -1.0, rel_tol=1e-5)
    normalized = beam_search(step, states, (), START, END, max_length=6, beam_width=2, length_penalty=1.0)
    np.testing.assert_array_equal(normalized["tokens"][0][: normalized["lengths"][0]], [A, A, END])
    assert math.isclose(normalized["scores"][0], -1.2, rel_tol=1e-5)
    assert math.isclose(normalized["normalized_scores"][0], -0.9, rel_tol=1e-5)
    assert math.isclose(length_penalty_factor(3, 1.0), 8 / 6)
    assert length_penalty_factor(7, 0.0) == 1.0


def test_chunks_that_end_at_different_steps_decode_like_one_batch():
    # A scripted decoder: sequence i emits token 5 until step source[i, 0], then the end token (2).
    vocab, end = 6, 2

    def start(chunk):
        chunk = np.asarray(chunk)
        return np.zeros(len(chunk), np.int32), (chunk[:, :1].astype(np.float32),)

    def step(tokens, steps, lengths):
        ends = steps + 1 >= lengths[:, 0]
        log_probs = np.full((len(tokens), vocab), -5.0, np.float32)
        log_probs[:, 5] = np.where(ends, -5.0, -0.1)
        log_probs[:, end] = np.where(ends, -0.1, -5.0)
        return log_probs, steps + 1, np.ones((len(tokens), 1), np.float32)

    source = np.array([[1], [5], [2], [1]], np.int32)  # chunks of 2 stop after 5 and 2 steps
    whole = decode_in_batches(source, start, step, 1, end, max_length=8, batch_size=4)
    chunked = decode_in_batches(source, start, step, 1, end, max_length=8, batch_size=2)
    for key in whole:
        np.testing.assert_array_equal(chunked[key], whole[key], err_msg=key)
    assert whole["tokens"].shape == (4, 5) and list(whole["lengths"]) == [1, 5, 2, 1]
