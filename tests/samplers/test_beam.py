import math

import numpy as np

from keras_nn.samplers import beam_search, greedy_search, length_penalty_factor

PAD, START, END, A, B = 0, 1, 2, 3, 4


def test_beam_search_finds_what_greedy_misses(tree_decoder):
    # Greedy takes A (0.6) and then at best 0.4: 0.24. Beam search keeps B (0.4) whose best is 0.9: 0.36.
    tree = {
        0: {A: (0.6, 1), B: (0.4, 2)},
        1: {A: (0.4, 3), B: (0.3, 3), END: (0.3, 3)},
        2: {A: (0.9, 3), B: (0.05, 3), END: (0.05, 3)},
        3: {END: (1.0, 3)},
    }
    step = tree_decoder(tree)
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


def test_length_normalization_prefers_the_longer_sequence(tree_decoder):
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
    step = tree_decoder(tree)
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
