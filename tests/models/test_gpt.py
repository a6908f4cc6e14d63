import os

import keras
import numpy as np
import pytest
from testing_utils import run_model_test

import keras_nn
from keras_nn.errors import ConfigError, ShapeError
from keras_nn.models import GPTDecoder

TINY = dict(
    vocab_size=20, num_layers=2, hidden_dim=16, num_heads=2, intermediate_dim=32, max_sequence_length=24
)
TOKENS = np.array([[3, 7, 1, 9, 4, 4, 12, 5], [8, 2, 2, 6, 15, 11, 0, 3]], "int32")
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def numpy(value):
    return keras.ops.convert_to_numpy(value)


def tiny(**overrides):
    return keras_nn.create_model("gpt_decoder", **{**TINY, **overrides})


def test_gpt2_small_has_the_published_parameter_count():
    # Hugging Face gpt2: 124,439,808 (output projection tied); the docstring derives it.
    assert keras_nn.create_model("gpt_decoder").count_params() == 124_439_808


def test_shared_model_checks():
    run_model_test(
        # One block (the smallest configuration): stacked blocks are covered by the cache and reload tests.
        lambda: tiny(num_layers=1),
        TOKENS[:, :-1],
        expected_output_shape=(2, 7, 20),
        targets=TOKENS[:, 1:],
        loss=LOSS,
        learning_rate=3e-3,
    )


def test_causality():
    model = tiny()
    logits = numpy(model(TOKENS))
    for t in (0, 3, 6):
        changed = TOKENS.copy()
        changed[:, t + 1 :] = (changed[:, t + 1 :] + 5) % 20
        other = numpy(model(changed))
        np.testing.assert_allclose(other[:, : t + 1], logits[:, : t + 1], atol=1e-5)
        assert not np.allclose(other[:, t + 1 :], logits[:, t + 1 :], atol=1e-4)


def test_cached_steps_match_the_full_forward_pass():
    model = tiny()
    logits = numpy(model(TOKENS))
    length = TOKENS.shape[1]
    cache = np.zeros((2, 2, 2, length, 2, 8), "float32")
    # A 3-token prompt, then one token at a time.
    step_logits, cache = model.call_with_cache(TOKENS[:, :3], cache, 0)
    np.testing.assert_allclose(numpy(step_logits), logits[:, 2], atol=1e-5)
    for t in range(3, length):
        step_logits, cache = model.call_with_cache(TOKENS[:, t : t + 1], cache, t)
        np.testing.assert_allclose(numpy(step_logits), logits[:, t], atol=1e-5)


def test_cached_generation_equals_uncached():
    model = tiny()
    prompt = TOKENS[:, :4]
    # The cached path samples inside one compiled loop (float32), the uncached one in NumPy (float64), from the
    # same Gumbel noise: every setting gives the same tokens (each setting compiles its own loop, so a few).
    settings = (
        {"top_k": 1},
        {"top_k": 5, "seed": 3},
        {"top_p": 0.8, "seed": 5},
        {"temperature": 0.7, "top_k": 6, "top_p": 0.9, "seed": 2},
    )
    for options in settings:
        cached = model.generate(prompt, max_new_tokens=10, **options)
        uncached = model.generate(prompt, max_new_tokens=10, use_cache=False, **options)
        assert cached.shape == (2, 14)
        np.testing.assert_array_equal(cached[:, :4], prompt)
        np.testing.assert_array_equal(cached, uncached)
    # Greedy generation picks the argmax of the full forward pass at every step.
    greedy = model.generate(prompt, max_new_tokens=10, temperature=0.0)
    np.testing.assert_array_equal(numpy(model(greedy[:, :-1]))[:, 3:].argmax(-1), greedy[:, 4:])
    assert model.generate(prompt[0], max_new_tokens=2, top_k=1).shape == (6,)


def test_top_k_only_picks_among_the_k_most_likely():
    model = tiny()
    prompt = np.tile(TOKENS[:, :2], (8, 1))
    generated = model.generate(prompt, max_new_tokens=12, top_k=3, temperature=2.0, seed=0)
    logits = numpy(model(generated[:, :-1]))[:, 1:]
    picked = generated[:, 2:]
    top3 = np.argsort(-logits, axis=-1)[..., :3]
    assert (top3 == picked[..., None]).any(-1).all()
    # Hot sampling is not greedy: some picks are not the argmax, so the check above has teeth.
    assert (picked != top3[..., 0]).any()


@pytest.mark.slow
def test_learns_and_generates_a_repeating_pattern():
    pattern = np.array([1, 2, 3, 4, 5, 6], "int32")
    sequences = np.stack([np.resize(np.roll(pattern, -offset), 17) for offset in range(6)])
    model = tiny(dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=LOSS, jit_compile=False)
    model.fit(sequences[:, :-1], sequences[:, 1:], epochs=60, batch_size=6, verbose=0)
    generated = model.generate(np.array([[4, 5, 6, 1]]), max_new_tokens=12, temperature=0.0)
    np.testing.assert_array_equal(generated[0], np.resize(np.roll(pattern, -3), 16))


def test_reload_gives_identical_generation(tmp_path):
    model = tiny()
    path = os.path.join(tmp_path, "gpt.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded) is GPTDecoder
    a = model.generate(TOKENS[:, :3], max_new_tokens=6, top_k=4, seed=1)
    np.testing.assert_array_equal(a, reloaded.generate(TOKENS[:, :3], max_new_tokens=6, top_k=4, seed=1))


def test_bad_arguments():
    model = tiny()
    with pytest.raises(ShapeError, match="exceeds max_sequence_length=24"):
        model.generate(TOKENS, max_new_tokens=20)
    with pytest.raises(ConfigError, match="top_k=0"):
        model.generate(TOKENS, max_new_tokens=2, top_k=0)
    with pytest.raises(ConfigError, match="temperature=-1"):
        model.generate(TOKENS, max_new_tokens=2, temperature=-1)
    with pytest.raises(ConfigError, match="not divisible by num_heads"):
        tiny(num_heads=5)


def test_every_kernel_and_embedding_has_gpt2_initialisation():
    """GPT-2 draws its dense kernels and token embedding from N(0, 0.02) and its position embedding from
    N(0, 0.01), as OpenAI's released model.py does (`wte` 0.02, `wpe` 0.01; keras-hub's `GPT2Backbone` swaps
    the two embeddings' deviations); biases zero, LayerNorm gamma one."""
    from models.initialisation_testing import check_initialisation

    keras.utils.set_random_seed(0)
    decoder = GPTDecoder(
        vocab_size=300, num_layers=2, hidden_dim=32, num_heads=2, intermediate_dim=64, max_sequence_length=64
    )
    stddevs = {"position_embedding": 0.01, "default": 0.02}
    assert check_initialisation(decoder, stddevs) == 2 + 6 * 2
