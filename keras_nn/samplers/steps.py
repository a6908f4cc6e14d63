"""The step-function contract the searches decode with, and how they read a step's outputs.

A step function is `step_fn(tokens [B], states, *static) -> (log_probs [B, V], new_states, attention [B, S])`:
`states` is any nest of `[B, ...]` tensors the decoder carries from step to step (RNN states, a key/value
cache), `static` a tuple of per-sequence tensors every step reads unchanged (encoder outputs, source mask).
"""

import keras
import numpy as np


def to_numpy(value):
    """A backend tensor (or array) as a NumPy array: the searches keep their bookkeeping in NumPy."""
    return np.asarray(keras.ops.convert_to_numpy(value))


def batch_size_of(states, static):
    """The batch size of a search: the leading dimension of the first static tensor, else of the first state."""
    return to_numpy(keras.tree.flatten(static)[0] if static else keras.tree.flatten(states)[0]).shape[0]
