"""What the dot-product attention tests share: queries, values and key tokens with padding."""

import keras
import numpy as np

RNG = np.random.default_rng(0)
QUERY = RNG.normal(size=(2, 5, 8)).astype("float32")
VALUE = RNG.normal(size=(2, 7, 6)).astype("float32")
KEY_TOKENS = np.array([[4, 9, 3, 0, 0, 0, 0], [5, 2, 7, 7, 1, 8, 6]], "int32")  # row 0: 4 keys are padding


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)
