"""The recipe schema (`keras_nn.config.recipe`) and recipes resolved with their task options
(`keras_nn.runs.load_recipe`)."""

import pytest
import yaml

from keras_nn.config import recipe as recipes
from keras_nn.errors import ConfigError, MissingPathError
from keras_nn.runs import load_recipe, resolve_recipe


def test_every_shipped_recipe_validates():
    names = recipes.recipe_names()
    assert {"digits_cnn", "digits_lstm"} <= set(names)
    for name in names:
        resolved = load_recipe(name)
        assert resolved["name"] == name
        assert resolved["expected"]["min"] is not None, f"{name} states no expected result"


def test_defaults_fill_every_section():
    resolved = recipes.validate({"model": {"name": "simple_cnn"}})
    assert resolved["optimizer"] == {
        "name": "adam", "learning_rate": 1e-3, "weight_decay": None, "momentum": 0.9, "clipnorm": None,
        "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
    }
    assert resolved["training"]["epochs"] == 10
    assert resolved["data"]["source"] == "embedded:digits"


def test_unknown_key_names_the_key_and_the_allowed_ones():
    with pytest.raises(ConfigError, match=r"unknown recipe key 'data.batchsize' \(did you mean 'batch_size'\?\); allowed keys under 'data': source, form, batch_size"):
        recipes.validate({"data": {"batchsize": 8}})
    with pytest.raises(ConfigError, match=r"unknown recipe key 'optimiser'.*allowed keys at the top level"):
        recipes.validate({"optimiser": {}})


def test_bad_values_name_the_key_and_the_allowed_values():
    with pytest.raises(ConfigError, match=r"'optimizer.name' = 'adamx' is not allowed; choose one of: adam, adamw, sgd, rmsprop"):
        recipes.validate({"optimizer": {"name": "adamx"}})
    with pytest.raises(ConfigError, match=r"'training.epochs' = 0 must be >= 1"):
        recipes.validate({"training": {"epochs": 0}})
    with pytest.raises(ConfigError, match=r"'data.batch_size' = 'big' must be int"):
        recipes.validate({"data": {"batch_size": "big"}})
    with pytest.raises(ConfigError, match=r"'training.xla' = 1 must be bool"):
        recipes.validate({"training": {"xla": 1}})
    with pytest.raises(ConfigError, match=r"'export.quantize' has 'int4'; allowed values: float16, dynamic, int8"):
        recipes.validate({"export": {"quantize": ["int4"]}})
    with pytest.raises(ConfigError, match=r"'data.image_size' = \[32\] must be \[height, width\]"):
        recipes.validate({"data": {"image_size": [32]}})


def test_model_section_passes_its_own_arguments_through():
    resolved = recipes.validate({"model": {"name": "lstm_classifier", "units": 16, "bidirectional": True}})
    assert resolved["model"] == {"name": "lstm_classifier", "units": 16, "bidirectional": True}


def test_overrides_are_typed_and_checked():
    raw = recipes.apply_overrides(
        {"training": {"epochs": 5}},
        ["training.epochs=3", "data.image_size=[32, 32]", "optimizer.learning_rate=1e-2", "model.units=8",
         "training.xla=true", "data.data_dir=null"],
    )
    resolved = recipes.validate(raw)
    assert resolved["training"]["epochs"] == 3
    assert resolved["data"]["image_size"] == [32, 32]
    assert resolved["optimizer"]["learning_rate"] == 0.01
    assert resolved["model"]["units"] == 8
    assert resolved["training"]["xla"] is True
    with pytest.raises(ConfigError, match=r"unknown recipe key 'training.epoch' \(did you mean 'epochs'\?\)"):
        recipes.apply_overrides({}, ["training.epoch=3"])
    with pytest.raises(ConfigError, match="must look like key.subkey=value"):
        recipes.apply_overrides({}, ["epochs"])


def test_recipe_files_and_names(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\ntraining:\n  epochs: 2\n")
    assert load_recipe(str(path))["training"]["epochs"] == 2
    with pytest.raises(MissingPathError, match="missing.yaml"):
        load_recipe(str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match=r"unknown recipe 'nope'; give a .yaml path or one of: .*digits_cnn"):
        load_recipe("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("training: [epochs\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_recipe(str(bad))


def test_dumped_recipe_reloads_identically():
    for name in ("digits_lstm", "image_classification", "translator"):
        resolved = load_recipe(name)
        assert resolve_recipe(yaml.safe_load(recipes.dump_recipe(resolved))) == resolved


def test_task_options_are_checked_by_the_task_schema():
    resolved = load_recipe("seq2seq")
    assert resolved["task_options"]["beam_width"] == 4 and resolved["task_options"]["max_decode_length"] is None
    with pytest.raises(ConfigError, match=r"unknown recipe key 'task_options.beam_widht' \(did you mean 'beam_width'\?\)"):
        load_recipe("seq2seq", ["task_options.beam_widht=3"])
    with pytest.raises(ConfigError, match=r"'task_options.beam_width' = 0 must be >= 1"):
        load_recipe("seq2seq", ["task_options.beam_width=0"])
    with pytest.raises(ConfigError, match=r"recipe key 'task' = 'taggin' is not allowed; choose one of: .*tagging"):
        resolve_recipe({"task": "taggin"})
