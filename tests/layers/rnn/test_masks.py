"""Masks go in and come out of the recurrent layers as they do with the `keras.layers` counterparts.

Keras's rule (`keras/src/layers/rnn/rnn.py` `RNN.compute_mask`, `bidirectional.py` `Bidirectional.compute_mask`;
checked in `rnn_test`, `bidirectional_test.test_masking`): the output keeps the input mask with
`return_sequences=True` and has none otherwise; returned states have none; `Bidirectional` with `merge_mode=None`
gives each of its two outputs the mask. The numbers under a mask are covered by the parity tests
(`recurrent_testing.check_parity_with_keras`, `test_bidirectional.test_bidirectional_parity_with_keras`); here:
which outputs carry a mask, and a mask carried through a model of several layers.
"""

import itertools

import keras
import numpy as np
from layers.rnn.recurrent_testing import max_difference, randomize

from keras_nn import layers

MERGE_MODES = ["concat", "sum", "ave", "mul", None]


def _output_masks(outputs, symbolic):
    """The mask Keras attached to each output: None, or its shape (symbolic) / its values (eager)."""
    masks = []
    for output in outputs if isinstance(outputs, (list, tuple)) else [outputs]:
        mask = getattr(output, "_keras_mask", None)
        if mask is None:
            masks.append(None)
        elif symbolic:
            masks.append(tuple(mask.shape))
        else:
            masks.append(keras.ops.convert_to_numpy(mask).tolist())
    return masks


def _layer(library, kind, wrap, merge_mode, **kwargs):
    layer = getattr(library, kind)(2, **kwargs)
    return library.Bidirectional(layer, merge_mode=merge_mode) if wrap else layer


def test_output_masks_match_keras_in_a_functional_graph():
    """Masking -> layer, for return_sequences x return_state, alone and in Bidirectional with each merge mode.
    LSTM (two states); SimpleRNN and GRU share its `compute_mask` (`RecurrentSequence`)."""
    cases = [(False, None)] + [(True, mode) for mode in MERGE_MODES]
    for (return_sequences, return_state), (wrap, merge_mode) in itertools.product(
        itertools.product([False, True], repeat=2), cases
    ):
        kwargs = {"return_sequences": return_sequences, "return_state": return_state}
        found = {}
        for library in (keras.layers, layers):
            masked = keras.layers.Masking()(keras.Input((4, 3)))
            found[library] = _output_masks(_layer(library, "LSTM", wrap, merge_mode, **kwargs)(masked), True)
        assert found[layers] == found[keras.layers], (kwargs, wrap, merge_mode)
        # Not vacuous: with sequences, a mask comes out.
        assert (found[layers][0] is not None) == return_sequences


def test_output_masks_match_keras_eagerly():
    sequences = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 0]], bool)
    for merge_mode, return_state in [(None, True), ("concat", False)]:
        kwargs = {"return_sequences": True, "return_state": return_state}
        found = [
            _output_masks(
                _layer(library, "LSTM", True, merge_mode, **kwargs)(
                    keras.ops.convert_to_tensor(sequences), mask=keras.ops.convert_to_tensor(mask)
                ),
                False,
            )
            for library in (keras.layers, layers)
        ]
        assert found[0] == found[1], (merge_mode, return_state)
        assert found[1][0] == mask.tolist()


def _tagger(library):
    """Embedding(mask_zero) -> Bidirectional(GRU, sequences) -> LSTM(sequences) -> SimpleRNN(last): the mask must
    reach every recurrent layer for the outputs to agree."""
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(12, 4, mask_zero=True, name="embedding")(tokens)
    x = library.Bidirectional(library.GRU(5, return_sequences=True), merge_mode="concat")(x)
    x = library.LSTM(5, return_sequences=True)(x)
    return keras.Model(tokens, library.SimpleRNN(3)(x))


def test_mask_is_carried_through_a_stack_of_layers():
    reference, ours = _tagger(keras.layers), _tagger(layers)
    randomize(reference, np.random.default_rng(9))
    ours.set_weights(reference.get_weights())
    tokens = np.array([[3, 5, 7, 0, 0, 0], [0, 0, 2, 9, 4, 1], [6, 0, 8, 0, 11, 0]], "int32")
    assert max_difference(reference(tokens), ours(tokens)) < 1e-5
    # Padding really is skipped: the trailing zeros of the first row change nothing.
    assert max_difference(ours(tokens[:1, :3]), ours(tokens[:1])) < 1e-6
