import keras
import numpy as np
import pytest

import keras_nn
from keras_nn.errors import ConfigError
from keras_nn.samplers import sample_next_token, top_p_filter

# Token probabilities out of id order, so the filter must map its ranking back to the ids:
# ranked 3 (0.5), 1 (0.25), 4 (0.15), 0 (0.07), 2 (0.03); the mass ranked before each is 0, .5, .75, .9, .97.
PROBABILITIES = np.array([0.07, 0.25, 0.03, 0.5, 0.15])
LOGITS = np.log(PROBABILITIES)[None]


@pytest.mark.parametrize(
    "p, survivors",
    [(0.3, [3]), (0.7, [1, 3]), (0.8, [1, 3, 4]), (0.95, [0, 1, 3, 4]), (0.99, [0, 1, 2, 3, 4]), (1.0, [0, 1, 2, 3, 4])],
)
def test_the_nucleus_is_the_fewest_most_likely_tokens_that_reach_p(p, survivors):
    filtered = top_p_filter(LOGITS, p)
    np.testing.assert_array_equal(np.flatnonzero(np.isfinite(filtered[0])), survivors)
    np.testing.assert_array_equal(filtered[0, survivors], LOGITS[0, survivors])


def test_draws_follow_the_renormalized_nucleus():
    rng = np.random.default_rng(0)
    draws = sample_next_token(np.repeat(LOGITS, 40000, axis=0), top_p=0.8, rng=rng)
    frequencies = np.bincount(draws, minlength=5) / len(draws)
    # The nucleus {3, 1, 4} holds 0.9: each keeps its share of it, the rest are never drawn.
    np.testing.assert_allclose(frequencies, [0.0, 0.25 / 0.9, 0.0, 0.5 / 0.9, 0.15 / 0.9], atol=0.01)
    assert frequencies[[0, 2]].sum() == 0.0


def test_the_nucleus_is_taken_after_temperature_and_top_k():
    rng = np.random.default_rng(0)
    many = np.repeat(LOGITS, 40000, axis=0)
    # Temperature 0.5 squares the probabilities: 3 and 1 hold 0.25 + 0.0625 of 0.3408, about 0.917 >= 0.9;
    # the nucleus of the untempered distribution at 0.9 would keep token 4 too.
    draws = sample_next_token(many, temperature=0.5, top_p=0.9, rng=rng)
    frequencies = np.bincount(draws, minlength=5) / len(draws)
    np.testing.assert_allclose(frequencies, [0.0, 0.2, 0.0, 0.8, 0.0], atol=0.01)
    assert frequencies[[0, 2, 4]].sum() == 0.0
    # top_k=2 leaves 3 and 1, renormalized to 2/3 and 1/3: token 3 alone reaches 0.6 (before the
    # renormalization it holds only 0.5, and 1 would be kept too).
    draws = sample_next_token(many[:2000], top_k=2, top_p=0.6, rng=rng)
    np.testing.assert_array_equal(draws, np.full(2000, 3))


def tiny_gpt():
    return keras_nn.create_model(
        "gpt_decoder", vocab_size=20, num_layers=2, hidden_dim=16, num_heads=2, intermediate_dim=32,
        max_sequence_length=24,
    )


def test_gpt_generate_samples_from_the_nucleus():
    model = tiny_gpt()
    prompt = np.tile(np.array([[3, 7], [8, 2]], "int32"), (8, 1))
    generated = model.generate(prompt, max_new_tokens=12, temperature=2.0, top_p=0.5, seed=0)
    np.testing.assert_array_equal(
        generated, model.generate(prompt, max_new_tokens=12, temperature=2.0, top_p=0.5, seed=0, use_cache=False)
    )
    logits = keras.ops.convert_to_numpy(model(generated[:, :-1]))[:, 1:].reshape(-1, 20)
    picked = generated[:, 2:].reshape(-1)
    nucleus = np.isfinite(top_p_filter(logits / 2.0, 0.5))
    assert nucleus[np.arange(len(picked)), picked].all()
    # The nucleus is more than the argmax and some picks are not the argmax, so the check above has teeth.
    assert (nucleus.sum(-1) > 1).any() and (picked != logits.argmax(-1)).any()
    np.testing.assert_array_equal(
        model.generate(prompt, max_new_tokens=6, top_p=1.0, seed=4), model.generate(prompt, max_new_tokens=6, seed=4)
    )
    with pytest.raises(ConfigError, match=r"top_p=0 must be a number in \(0, 1\]"):
        model.generate(prompt, max_new_tokens=2, top_p=0)
