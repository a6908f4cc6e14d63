"""setup.cfg lists packages by hand (two are mapped from top-level folders); keep that list complete."""

import configparser
import sys
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


def test_the_edge_kit_requirements_cover_what_its_scripts_import():
    import ast

    edge = Path(__file__).resolve().parents[1] / "export"
    listed = {
        line.split(">")[0].split("=")[0].split("<")[0].strip().replace("-", "_")
        for line in (edge / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    # Each third-party module a script of the kit imports, named by its pip distribution.
    distribution = {"cv2": "opencv_python_headless", "ai_edge_litert": "ai_edge_litert", "tflite_runtime": None}
    needed = set()
    for script in edge.glob("*.py"):
        for node in ast.walk(ast.parse(script.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module] if isinstance(node, ast.ImportFrom) and not node.level and node.module else []
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or (edge / f"{top}.py").exists() or top in ("keras_nn", "export", "__future__"):
                    continue
                needed.add(distribution.get(top, top))
    assert needed - {None} <= listed, f"export/requirements.txt lacks {sorted(needed - {None} - listed)}"
