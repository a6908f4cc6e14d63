import keras
import numpy as np
import pytest

from keras_nn.errors import ConfigError
from keras_nn.losses import MaskedSparseCategoricalCrossentropy

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(2, 4, 7)).astype("float32")
TARGETS = np.array([[3, 5, 0, 0], [1, 6, 2, 4]], "int32")  # 0 is padding: 6 real tokens


def keras_reference(targets, logits, smoothing):
    """keras CategoricalCrossentropy(label_smoothing) on one-hot targets, over the unpadded positions only."""
    real = targets != 0
    loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing)
    return float(loss(keras.ops.one_hot(targets[real], logits.shape[-1]), logits[real]))


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_equals_keras_categorical_crossentropy_over_real_tokens(smoothing):
    value = float(MaskedSparseCategoricalCrossentropy(label_smoothing=smoothing)(TARGETS, LOGITS))
    np.testing.assert_allclose(value, keras_reference(TARGETS, LOGITS, smoothing), rtol=1e-5)


def test_padded_positions_contribute_nothing():
    loss = MaskedSparseCategoricalCrossentropy()
    changed = LOGITS.copy()
    changed[0, 2:] = RNG.normal(size=(2, 7)) * 50  # whatever the model says at padding
    assert float(loss(TARGETS, changed)) == pytest.approx(float(loss(TARGETS, LOGITS)), rel=1e-6)
    # Not the mean over all 8 positions: padding is not counted as a zero-loss token either.
    unmasked = MaskedSparseCategoricalCrossentropy(pad_id=None)(TARGETS, LOGITS)
    assert float(unmasked) != pytest.approx(float(loss(TARGETS, LOGITS)), rel=1e-3)


def test_probabilities_input_and_sample_weight():
    probabilities = keras.ops.softmax(LOGITS)
    from_probs = MaskedSparseCategoricalCrossentropy(from_logits=False)(TARGETS, probabilities)
    np.testing.assert_allclose(float(from_probs), keras_reference(TARGETS, LOGITS, 0.1), rtol=1e-4)
    weights = np.array([[1, 1, 1, 1], [0, 0, 0, 0]], "float32")  # only the first sequence counts
    weighted = MaskedSparseCategoricalCrossentropy()(TARGETS, LOGITS, sample_weight=weights)
    first = MaskedSparseCategoricalCrossentropy(reduction="sum")(TARGETS[:1], LOGITS[:1])
    np.testing.assert_allclose(float(weighted), float(first) / 6, rtol=1e-5)  # sum over 2 tokens / 6 real


def test_serializes_and_trains_in_fit():
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=0.2, pad_id=0)
    rebuilt = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(rebuilt) is MaskedSparseCategoricalCrossentropy and rebuilt.get_config() == loss.get_config()
    inputs = keras.Input((4, 3))
    model = keras.Model(inputs, keras.layers.Dense(7)(inputs))
    model.compile(optimizer="adam", loss=loss)
    features = RNG.normal(size=(2, 4, 3)).astype("float32")
    np.testing.assert_allclose(
        model.evaluate(features, TARGETS, verbose=0), float(loss(TARGETS, model(features))), rtol=1e-5
    )
    with pytest.raises(ConfigError, match="label_smoothing"):
        MaskedSparseCategoricalCrossentropy(label_smoothing=1.0)
