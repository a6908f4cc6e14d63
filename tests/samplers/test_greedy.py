import numpy as np

from keras_nn.samplers import greedy_search

END, FILLER, PAD = 2, 5, 0


def test_finished_sequences_are_padded_and_the_search_stops_when_all_have_ended():
    # Row i emits FILLER (log-probability -0.1) until step ends[i], then END (-0.2); every other token -3.
    ends = np.array([0, 2])

    def step(tokens, steps):
        log_probs = np.full((len(tokens), 6), -3.0, np.float32)
        last = steps >= ends
        log_probs[:, FILLER] = np.where(last, -3.0, -0.1)
        log_probs[:, END] = np.where(last, -0.2, -3.0)
        attention = np.stack([steps + 1.0, 10.0 * (steps + 1.0)], axis=-1).astype(np.float32)
        return log_probs, steps + 1, attention

    result = greedy_search(step, np.zeros(2, np.int32), (), start_token=1, end_token=END, max_length=8)
    np.testing.assert_array_equal(result["tokens"], [[END, PAD, PAD], [FILLER, FILLER, END]])
    np.testing.assert_array_equal(result["lengths"], [1, 3])
    np.testing.assert_allclose(result["scores"], [-0.2, -0.1 - 0.1 - 0.2], rtol=1e-6)
    # A row's attention after its end is zero; the live rows keep what the step returned.
    np.testing.assert_array_equal(result["attention"][0], [[1, 10], [0, 0], [0, 0]])
    np.testing.assert_array_equal(result["attention"][1], [[1, 10], [2, 20], [3, 30]])


def test_stops_at_max_length_without_an_end_token():
    def step(tokens, states):
        log_probs = np.log(np.full((len(tokens), 4), 0.1, np.float32))
        log_probs[:, 3] = np.log(0.7)
        return log_probs, states, np.zeros((len(tokens), 1), np.float32)

    result = greedy_search(step, np.zeros(1, np.int32), (), start_token=1, end_token=2, max_length=4)
    np.testing.assert_array_equal(result["tokens"], [[3, 3, 3, 3]])
    np.testing.assert_array_equal(result["lengths"], [4])
    np.testing.assert_allclose(result["scores"], [4 * np.log(0.7)], rtol=1e-6)
