"""`gpt_decoder` against keras-hub's GPT-2 (the reference implementation) holding the same weights, through the
weight copy and the checks of bench/generation_bench.py, so the bench's "same work" claim is tested too."""

import importlib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras_hub")  # in the [dev] extra; skipped where it is not installed

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench():
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCH))
        return importlib.import_module("generation_bench")


@pytest.fixture(scope="module")
def pair(bench):
    ours, theirs = bench.build_gpt_pair(
        vocab_size=50, num_layers=2, hidden_dim=32, num_heads=2, intermediate_dim=64, context=24,
        hub_jit_compile=False,
    )
    # Draw every weight (LayerNorm scales and offsets included, which start at 1 and 0 in both and would hide a
    # swapped norm), then copy them again: a wrong entry in the weight map changes the logits.
    rng = np.random.default_rng(0)
    for weight in ours.weights:
        weight.assign(rng.normal(0.0, 0.3, weight.shape).astype("float32") + (1.0 if "gamma" in weight.path else 0.0))
    bench.copy_weights(ours, theirs.backbone)
    return ours, theirs


def test_copied_weights_give_keras_hub_gpt2_logits_whole_and_cached(bench, pair):
    ours, theirs = pair
    sequence = np.random.default_rng(1).integers(0, 50, (1, 12)).astype(np.int32)
    full_error, step_error, scale = bench.logit_differences(
        ours, theirs, bench.cached_steps(ours, theirs, compiled=False), sequence
    )
    assert scale > 1.0  # logits of a size where a wrong weight would show
    assert full_error < 1e-5 and step_error < 1e-5, (full_error, step_error, scale)


def test_greedy_generation_gives_keras_hub_gpt2s_tokens(bench, pair):
    ours, theirs = pair
    prompt = np.array([[3, 14, 15, 9, 2]], np.int32)
    expected = bench.hub_generate(theirs, prompt, 8)
    np.testing.assert_array_equal(ours.generate(prompt, 8, temperature=0.0), expected)
    assert len(set(expected[0, 5:])) > 1  # not one token repeated, which a broken model might give too


def test_every_weight_is_mapped_to_one_of_keras_hubs(bench, pair):
    ours, theirs = pair
    targets = [bench.keras_hub_path(weight.path) for weight in ours.weights]
    assert sorted(targets) == sorted(weight.path for weight in theirs.backbone.weights)
