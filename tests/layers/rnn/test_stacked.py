import keras
import pytest
from layers.rnn.recurrent_testing import SEQUENCES

from keras_nn import layers
from keras_nn.errors import ConfigError


def test_stacked_rnn():
    stack = layers.stacked_rnn("gru", [6, 4], num_layers=2, bidirectional=True, merge_mode="sum", name="enc")
    assert [layer.name for layer in stack] == ["bidirectional_enc_1", "bidirectional_enc_2"]
    assert [layer.return_sequences for layer in stack] == [True, False]
    model = keras.Sequential(stack)
    assert model(SEQUENCES).shape == (3, 4)

    reference = keras.Sequential([
        keras.layers.Bidirectional(keras.layers.GRU(6, return_sequences=True), merge_mode="sum"),
        keras.layers.Bidirectional(keras.layers.GRU(4), merge_mode="sum"),
    ])
    reference(SEQUENCES)
    assert model.count_params() == reference.count_params()

    plain = layers.stacked_rnn(keras.layers.LSTM, 3, num_layers=3, return_sequences=True, dropout=0.1)
    assert all(isinstance(layer, keras.layers.LSTM) and layer.return_sequences for layer in plain)


def test_errors_name_the_bad_value():
    with pytest.raises(ConfigError, match="cell_type='rnn'"):
        layers.stacked_rnn("rnn", 3)
    with pytest.raises(ConfigError, match="2 entries for num_layers=3"):
        layers.stacked_rnn("lstm", [3, 4], num_layers=3)
