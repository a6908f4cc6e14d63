"""Shared pytest setup. The layer/model checks of DESIGN.md live in tests/testing_utils.py."""

import os

# Quiet TensorFlow's C++ logs and keep runs on the CPU and repeatable.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import pytest  # noqa: E402

# Worker processes when neither -n nor -p no:xdist is given: one per core, at most this many (each worker holds
# its own TensorFlow and models, a few GB at its peak).
MAX_DEFAULT_WORKERS = 4


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """Runs the suite on every core by default (pytest-xdist), with `--dist loadgroup` so that tests marked
    `xdist_group` share one worker and its fixtures. Set here rather than in addopts so that `-n 0`,
    `-p no:xdist`, `--pdb` and a checkout without pytest-xdist still run in one process."""
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return
    explicit = config.option.numprocesses is not None
    if explicit or config.getoption("usepdb") or config.getoption("collectonly"):
        return
    config.option.numprocesses = min(len(os.sched_getaffinity(0)), MAX_DEFAULT_WORKERS)
    if config.option.dist == "no":
        config.option.dist = "loadgroup"


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts from the same seed and the float32 policy, whatever the test before it did."""
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session()
