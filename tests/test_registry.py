import pytest

import keras_nn
from keras_nn.errors import ConfigError, UnknownModelError
from keras_nn.models import register_model


def test_list_models_and_filters():
    names = keras_nn.list_models()
    assert names == sorted(names)
    assert {"simple_cnn", "lstm_classifier", "gru_classifier", "rnn_classifier"} <= set(names)
    assert keras_nn.list_models("*rnn_classifier") == ["rnn_classifier"]
    assert {"gru_classifier", "lstm_classifier", "rnn_classifier"} <= set(keras_nn.list_models("*_classifier"))
    cnns = keras_nn.list_models(family="cnn")
    assert "simple_cnn" in cnns and "lstm_classifier" not in cnns


def test_create_model_applies_defaults_and_overrides():
    model = keras_nn.create_model("gru_classifier", input_shape=(5, 2), num_classes=3, units=4)
    assert model.name == "gru_classifier"
    assert model.get_config()["cell"] == "gru"
    assert model.get_config()["units"] == 4


def test_unknown_model_suggests_close_names():
    with pytest.raises(UnknownModelError, match=r"unknown model 'lstm_clasifier'; did you mean lstm_classifier"):
        keras_nn.create_model("lstm_clasifier")
    with pytest.raises(KeyError):  # also a KeyError, for callers that expect a mapping lookup
        keras_nn.create_model("nope")


def test_unknown_argument_names_the_allowed_ones():
    with pytest.raises(ConfigError, match=r"does not take argument\(s\) colour; allowed: .*num_classes"):
        keras_nn.create_model("simple_cnn", colour="red")


def test_names_are_unique_and_lower_case():
    with pytest.raises(ValueError, match="registered twice"):
        register_model("simple_cnn", object, family="cnn", description="")
    with pytest.raises(ValueError, match="lower case"):
        register_model("Upper", object, family="cnn", description="")
