"""Shared test helpers for the edge kit (export/, installed as keras_nn.edge): a copy of the kit as a device has
it, and its scripts run in a fresh interpreter where TensorFlow, Keras and keras_nn cannot be imported."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

KIT_DIR = Path(__file__).resolve().parents[1] / "export"
# What a device lacks; a subprocess with the device kit's sitecustomize.py cannot import any of them.
NOT_ON_DEVICE = ("tensorflow", "keras", "keras_nn", "tf2onnx", "tf_keras")


def copy_device_kit(root):
    """A copy of export/ on its own under `root/edge_kit`, as it is copied onto a device; returns its path.

    Beside it, `no_tensorflow/sitecustomize.py` puts None in sys.modules for every package a device lacks; a
    fresh interpreter with that folder on PYTHONPATH then fails on any import of them.
    """
    root = Path(root)
    dest = root / "edge_kit"
    shutil.copytree(KIT_DIR, dest, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "no_tensorflow").mkdir()
    (root / "no_tensorflow" / "sitecustomize.py").write_text(
        f"import sys\n\nfor name in {NOT_ON_DEVICE!r}:\n    sys.modules[name] = None\n"
    )
    return dest


def device_env(device_kit):
    """The environment of a device-like interpreter for a kit copied by `copy_device_kit`."""
    return {**os.environ, "PYTHONPATH": str(Path(device_kit).parent / "no_tensorflow")}


def run_kit_script(device_kit, script, *args, way="script", cwd=None, timeout=120):
    """Run a kit script the way a device user does, in a fresh interpreter without TensorFlow, Keras, keras_nn.

    way="script": `python edge_kit/run_tflite.py ...` (Python puts the script's folder on sys.path);
    way="package": `python -m edge_kit.run_tflite ...` from the folder above the copy.
    """
    device_kit = Path(device_kit)
    if way == "script":
        command = [sys.executable, str(device_kit / script)]
    else:
        command = [sys.executable, "-m", f"{device_kit.name}.{Path(script).stem}"]
    return subprocess.run(
        command + [str(arg) for arg in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or device_kit.parent,
        env=device_env(device_kit),
    )
