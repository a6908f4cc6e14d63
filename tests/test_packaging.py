"""setup.cfg lists packages by hand (two are mapped from top-level folders); keep that list complete."""

import configparser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not (ROOT / "setup.cfg").exists(), reason="needs the checkout")
def test_every_package_folder_is_listed_in_setup_cfg():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "keras_nn").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found | {"keras_nn.recipes", "keras_nn.edge"} == listed


def test_recipes_and_edge_kit_are_importable_from_the_installed_package():
    from keras_nn.config import recipe_names
    from keras_nn.edge import bench_device, run_onnx, run_tflite  # noqa: F401

    assert "digits_cnn" in recipe_names()
