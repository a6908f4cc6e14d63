"""`bert_encoder` against keras-hub's `BertBackbone` (the reference implementation) holding the same weights.

Every weight is drawn at random (LayerNorm scales and offsets included: at their initial 1 and 0 a swapped or
misplaced norm would not show) and copied into keras-hub's model by path. The hidden states and the pooled output
then agree to 1e-5 with padding in the batch. The mutation tests change one thing on keras-hub's side at a time
(where the LayerNorm sits, the GELU variant, which position row a token reads, whether the padding mask is applied)
and check that the parity test would have failed: each changes the outputs by more than ten times its
tolerance (the GELU variant, the subtlest, by 6.4e-4).
"""

import re

import keras
import numpy as np
import pytest

from keras_nn.models import create_model

keras_hub = pytest.importorskip("keras_hub")

SIZES = {"num_layers": 2, "hidden_dim": 32, "num_heads": 2, "intermediate_dim": 64, "dropout": 0.0}
VOCAB, CONTEXT = 50, 24
TOLERANCE = 1e-5

# keras-nn weight path -> keras-hub BertBackbone weight path (the rest are the same).
WEIGHT_MAP = (
    (r"(transformer_layer_\d+)/self_attention/", r"\1/self_attention_layer/"),
    (r"(transformer_layer_\d+)/self_attention_norm/", r"\1/self_attention_layer_norm/"),
    (r"(transformer_layer_\d+)/intermediate_dense/", r"\1/feedforward_intermediate_dense/"),
    (r"(transformer_layer_\d+)/output_dense/", r"\1/feedforward_output_dense/"),
    (r"(transformer_layer_\d+)/feedforward_norm/", r"\1/feedforward_layer_norm/"),
)


def keras_hub_path(path):
    for pattern, replacement in WEIGHT_MAP:
        path = re.sub(pattern, replacement, path)
    return path


@pytest.fixture(scope="module")
def pair():
    ours = create_model("bert_encoder", vocab_size=VOCAB, max_sequence_length=CONTEXT, **SIZES)
    theirs = keras_hub.models.BertBackbone(
        vocabulary_size=VOCAB, max_sequence_length=CONTEXT, num_segments=2, **SIZES
    )
    rng = np.random.default_rng(0)
    by_path = {weight.path: weight for weight in theirs.weights}
    for weight in ours.weights:
        value = rng.normal(0.0, 0.3, weight.shape).astype("float32") + (1.0 if "gamma" in weight.path else 0.0)
        weight.assign(value)
        by_path.pop(keras_hub_path(weight.path)).assign(value)
    assert not by_path, f"keras-hub weights without a keras-nn twin: {sorted(by_path)}"
    return ours, theirs


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(1)
    token_ids = rng.integers(0, VOCAB, (3, 12)).astype("int32")
    segment_ids = (np.arange(12) >= 6).astype("int32")[None].repeat(3, axis=0)
    padding_mask = np.ones((3, 12), "int32")
    padding_mask[1, 8:] = 0
    padding_mask[2, 3:] = 0
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


def largest_differences(ours, theirs, inputs):
    mine = ours(inputs, training=False)
    reference = theirs(inputs, training=False)
    return {
        key: float(np.abs(keras.ops.convert_to_numpy(mine[key]) - keras.ops.convert_to_numpy(reference[key])).max())
        for key in ("sequence_output", "pooled_output")
    }


def test_copied_weights_give_keras_hub_berts_hidden_states(pair, inputs):
    ours, theirs = pair
    differences = largest_differences(ours, theirs, inputs)
    assert max(differences.values()) < TOLERANCE, differences


def test_every_weight_has_the_same_shape_as_its_keras_hub_twin(pair):
    ours, theirs = pair
    shapes = {weight.path: tuple(weight.shape) for weight in theirs.weights}
    assert {keras_hub_path(w.path): tuple(w.shape) for w in ours.weights} == shapes


def roll_positions(theirs):
    weight = theirs.get_layer("position_embedding").position_embeddings
    weight.assign(np.roll(weight.numpy(), 1, axis=0))
    return lambda: weight.assign(np.roll(weight.numpy(), -1, axis=0))


def set_on_blocks(theirs, name, value, target=lambda block: block):
    blocks = [theirs.get_layer(f"transformer_layer_{index}") for index in range(SIZES["num_layers"])]
    previous = [getattr(target(block), name) for block in blocks]
    for block in blocks:
        setattr(target(block), name, value)

    def undo():
        for block, old in zip(blocks, previous, strict=True):
            setattr(target(block), name, old)

    return undo


MUTATIONS = {
    "pre-LN blocks instead of post-LN": lambda theirs: set_on_blocks(theirs, "normalize_first", True),
    "the exact (erf) GELU instead of its tanh approximation": lambda theirs: set_on_blocks(
        theirs, "activation", keras.activations.gelu, target=lambda block: block._feedforward_intermediate_dense
    ),
    "positions shifted by one": roll_positions,
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_the_parity_check_fails_for_a_wrong_bert(pair, inputs, mutation):
    ours, theirs = pair
    # keras-hub's functional backbone traces its blocks once; a fresh call of the same layers sees the change.
    undo = MUTATIONS[mutation](theirs)
    try:
        differences = largest_differences(ours, theirs, inputs)
    finally:
        undo()
    assert differences["sequence_output"] > 10 * TOLERANCE, (mutation, differences)
    assert max(largest_differences(ours, theirs, inputs).values()) < TOLERANCE  # undone


def test_padding_is_applied_as_keras_hub_applies_it(pair, inputs):
    ours, theirs = pair
    unpadded = dict(inputs, padding_mask=np.ones_like(inputs["padding_mask"]))
    # Without padding the rows that have it change, so the parity above did check the padding mask.
    changed = np.abs(
        keras.ops.convert_to_numpy(ours(unpadded)["sequence_output"])
        - keras.ops.convert_to_numpy(ours(inputs)["sequence_output"])
    ).max(axis=(1, 2))
    assert changed[0] == 0.0 and changed[1] > 100 * TOLERANCE and changed[2] > 100 * TOLERANCE, changed
