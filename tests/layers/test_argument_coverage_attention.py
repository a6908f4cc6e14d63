"""Argument coverage: keras-nn's attention, Transformer and position layers accept every constructor and call
argument of their Keras / keras-hub counterparts, in the counterpart's positional order, with the same
defaults. A Keras or keras-hub release that adds or moves an argument fails here, not in a user's code.

Deliberate differences are listed in `DIFFERENCES`, each with its reason; anything else fails.
"""

import inspect

import keras
import pytest

from keras_nn import layers
from keras_nn.errors import ConfigError

keras_hub = pytest.importorskip("keras_hub")

PAIRS = {
    "MultiHeadAttention": (keras.layers.MultiHeadAttention, layers.MultiHeadAttention),
    "TransformerEncoderBlock": (keras_hub.layers.TransformerEncoder, layers.TransformerEncoderBlock),
    "TransformerDecoderBlock": (keras_hub.layers.TransformerDecoder, layers.TransformerDecoderBlock),
    "PositionEmbedding": (keras_hub.layers.PositionEmbedding, layers.PositionEmbedding),
    "SinusoidalPositionEncoding": (keras_hub.layers.SinePositionEncoding, layers.SinusoidalPositionEncoding),
}

BLOCK_CONSTRUCTOR = {
    # keras-nn's blocks took (num_heads, intermediate_dim) before keras-hub compatibility was a goal; swapping
    # them would silently change every existing positional call. Both names are accepted as keywords.
    "order": "keras-nn's positional order is (num_heads, intermediate_dim); keras-hub's the reverse",
    "defaults": {
        # A block made for training (the paper's rate, as BERT and GPT-2 use); keras-hub defaults to none.
        "dropout",
        # None means "not given", so that norm_first (keras-nn's name) and normalize_first can be told apart
        # and must agree; both resolve to False, keras-hub's default.
        "normalize_first",
    },
}

# Beyond the counterparts' arguments (allowed, after theirs): MultiHeadAttention's `cache` and
# `cache_update_index` and a default for `value` (the query: self-attention, or cross-attention from a cache);
# the blocks' `key_dim`, `drop_path_rate`, `norm_first`, `cross_attention` and `return_attention_scores`.
DIFFERENCES = {
    ("TransformerEncoderBlock", "__init__"): BLOCK_CONSTRUCTOR,
    ("TransformerDecoderBlock", "__init__"): BLOCK_CONSTRUCTOR,
}


def parameters(function):
    """The named parameters after `self`, without `*args` / `**kwargs`."""
    return [
        p
        for p in list(inspect.signature(function).parameters.values())[1:]
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


@pytest.mark.parametrize("method", ["__init__", "call"])
@pytest.mark.parametrize("name", sorted(PAIRS))
def test_every_counterpart_argument_is_accepted(name, method):
    theirs, ours = (getattr(cls, method) for cls in PAIRS[name])
    allowed = DIFFERENCES.get((name, method), {})
    their_parameters = parameters(theirs)
    our_parameters = {p.name: p for p in parameters(ours)}
    missing = [p.name for p in their_parameters if p.name not in our_parameters]
    assert not missing, f"{name}.{method} lacks the counterpart's arguments {missing}"
    if "order" not in allowed:
        # Positional calls mean the same: the counterpart's parameters open ours, in its order; ours follow.
        assert list(our_parameters)[: len(their_parameters)] == [p.name for p in their_parameters]
    different = {
        p.name
        for p in their_parameters
        if p.default is not inspect.Parameter.empty and our_parameters[p.name].default != p.default
    }
    assert different == set(allowed.get("defaults", ())), f"{name}.{method}: defaults differ for {different}"


def test_the_allow_list_names_only_real_differences():
    """Each allowed difference exists (the list shrinks when a counterpart catches up)."""
    for (name, method), allowed in DIFFERENCES.items():
        theirs, ours = (getattr(cls, method) for cls in PAIRS[name])
        their_names = [p.name for p in parameters(theirs)]
        our_names = [p.name for p in parameters(ours)]
        if "order" in allowed:
            assert our_names[: len(their_names)] != their_names
        for argument in allowed.get("defaults", ()):
            assert argument in their_names


def test_the_keras_hub_aliases_mean_the_same():
    """`normalize_first` is `norm_first`; keras-hub's config (with its build shapes) loads."""
    block = layers.TransformerEncoderBlock(2, 8, normalize_first=True)
    assert block.norm_first and block.normalize_first
    with pytest.raises(ConfigError, match="disagree"):
        layers.TransformerEncoderBlock(2, 8, norm_first=False, normalize_first=True)
    encoder = layers.TransformerEncoderBlock.from_config(
        keras_hub.layers.TransformerEncoder(
            16, 2, normalize_first=True, kernel_initializer="he_normal"
        ).get_config()
    )
    assert encoder.norm_first and isinstance(encoder.kernel_initializer, keras.initializers.HeNormal)
    theirs = keras_hub.layers.TransformerDecoder(16, 2, normalize_first=True, dropout=0.2)
    theirs(keras.ops.ones((1, 3, 8)))
    ours = layers.TransformerDecoderBlock.from_config(theirs.get_config())
    assert ours.built and not ours.cross_attention and ours.norm_first
    assert sorted(tuple(w.shape) for w in ours.weights) == sorted(tuple(w.shape) for w in theirs.weights)
