"""A hand-made decoder for the search tests: the probabilities of every continuation are written out."""

import math

import keras
import numpy as np
import pytest

START, END = 1, 2


def make_tree_decoder(tree, vocab_size=5):
    """A decoder over a tree of prefixes. `tree[node] = {token: (probability, child)}`; node 0 is the root,
    and the state is the node reached by the tokens read so far (`START` goes to the root). A node missing
    from `tree` ends the sequence with probability 1."""
    assert min(tree) == 0

    def step(tokens, states):
        tokens = np.asarray(keras.ops.convert_to_numpy(tokens))
        nodes = np.asarray(keras.ops.convert_to_numpy(states)).astype(int)
        new_nodes = []
        for token, node in zip(tokens, nodes, strict=True):
            new_nodes.append(0 if token == START else tree[node].get(int(token), (0, node))[1])
        log_probs = np.full((len(tokens), vocab_size), -1e9)
        for row, node in enumerate(new_nodes):
            for token, (probability, _) in tree.get(node, {END: (1.0, node)}).items():
                log_probs[row, token] = math.log(probability)
        return log_probs.astype("float32"), np.asarray(new_nodes), np.zeros((len(tokens), 3), "float32")

    return step


@pytest.fixture
def tree_decoder():
    return make_tree_decoder
