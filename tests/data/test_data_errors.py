"""Every error load_dataset raises on purpose: type, one line, names the bad value and the fix."""

import pytest

from keras_nn.data import load_dataset
from keras_nn.errors import ConfigError, DataError, MissingPathError, UnknownDatasetError, UsageError


def _message(excinfo):
    message = str(excinfo.value)
    assert "\n" not in message
    assert isinstance(excinfo.value, UsageError)  # the CLI turns these into exit code 2
    return message


@pytest.mark.parametrize("source", ["foo:bar", "mnist", "", "http://example.com/data"])
def test_unknown_scheme_lists_the_three_schemes(source):
    with pytest.raises(UnknownDatasetError) as err:
        load_dataset(source)
    message = _message(err)
    assert repr(source) in message
    assert "embedded:" in message and "tfds:" in message and "dir:" in message


def test_bare_embedded_name_suggests_the_scheme():
    with pytest.raises(UnknownDatasetError, match="did you mean embedded:digits"):
        load_dataset("digits")


def test_unknown_embedded_name_lists_embedded_sets():
    with pytest.raises(UnknownDatasetError) as err:
        load_dataset("embedded:mnist_small")
    message = _message(err)
    assert "'mnist_small'" in message and "embedded:digits" in message


def test_missing_path(tmp_path):
    missing = tmp_path / "no_such_folder"
    with pytest.raises(MissingPathError) as err:
        load_dataset(f"dir:{missing}")
    assert str(missing) in _message(err)
    assert isinstance(err.value, FileNotFoundError)


def test_empty_folder(tmp_path):
    with pytest.raises(DataError) as err:
        load_dataset(f"dir:{tmp_path}")
    assert str(tmp_path) in _message(err)


@pytest.mark.parametrize("form", ["text", "tabular"])
def test_form_not_available_for_digits(form):
    with pytest.raises(ConfigError) as err:
        load_dataset("embedded:digits", form=form)
    message = _message(err)
    assert repr(form) in message and "image" in message and "sequence" in message


def test_unknown_form():
    with pytest.raises(ConfigError) as err:
        load_dataset("embedded:digits", form="video")
    message = _message(err)
    assert "'video'" in message and "tabular" in message


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"validation_fraction": 1.5}, "validation_fraction=1.5"),
        ({"validation_fraction": -0.1}, "validation_fraction=-0.1"),
        ({"test_fraction": 1.0}, "test_fraction=1.0"),
        ({"test_fraction": "0.2"}, "test_fraction='0.2'"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"shuffle_buffer": -5}, "shuffle_buffer=-5"),
        ({"image_size": [0, 8]}, "image_size=[0, 8]"),
        ({"image_size": [8, 8, 3]}, "image_size=[8, 8, 3]"),
        ({"seed": 1.5}, "seed=1.5"),
    ],
)
def test_bad_options(kwargs, name):
    with pytest.raises(ConfigError) as err:
        load_dataset("embedded:digits", **kwargs)
    assert name in _message(err)


def test_too_few_examples_to_split(tmp_path):
    path = tmp_path / "tiny.csv"
    path.write_text("x,label\n1,a\n2,b\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_dataset(f"dir:{path}", test_fraction=0.5, validation_fraction=0.5)
    assert "validation_fraction" in _message(err)


def test_as_numpy_on_absent_or_unknown_split():
    bundle = load_dataset("embedded:digits", validation_fraction=0.0)
    with pytest.raises(DataError, match="'validation'"):
        bundle.as_numpy("validation")
    with pytest.raises(ConfigError, match="'dev'"):
        bundle.as_numpy("dev")
