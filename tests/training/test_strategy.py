"""Which tf.distribute strategy a run trains under."""

import json

import pytest
import tensorflow as tf

from keras_nn.errors import ConfigError
from keras_nn.training.strategy import get_strategy, is_chief, resolve_strategy_name, strategy_label


def test_strategy_resolution(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert resolve_strategy_name("auto") == "one_device"  # no GPU here
    assert resolve_strategy_name("mirrored") == "mirrored"
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}))
    assert resolve_strategy_name("auto") == "multi_worker"
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG is not valid JSON"):
        resolve_strategy_name("auto")
    with pytest.raises(ConfigError, match="choose one of: auto, one_device"):
        resolve_strategy_name("gpus")


def test_one_device_and_mirrored_strategies_build_here(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    one = get_strategy("one_device")
    assert one.num_replicas_in_sync == 1 and is_chief(one)
    # No GPU here: TensorFlow's default strategy, not OneDeviceStrategy("/cpu:0") (whose input pipeline logs a
    # GeneratorDataset warning every epoch).
    if not tf.config.list_physical_devices("GPU"):
        assert one is tf.distribute.get_strategy() and strategy_label(one) == "DefaultStrategy"
    mirrored = get_strategy("mirrored")  # falls back to the CPU as its one replica
    assert mirrored.num_replicas_in_sync >= 1
    with pytest.raises(ConfigError, match="needs TF_CONFIG"):
        get_strategy("multi_worker")
