"""Shared pytest setup. The checks every layer and model goes through live in tests/testing_utils.py."""

import os

# Quiet TensorFlow's C++ logs and keep runs on the CPU and repeatable.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # One worker per core: a worker's TensorFlow and oneDNN thread pools of one thread each stop the workers from
    # contending for the same cores (tests/layers: 80.6 s -> 73.8 s on 2 cores). Set before TensorFlow loads.
    for variable in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(variable, "1")

import keras  # noqa: E402
import pytest  # noqa: E402

# Worker processes when neither -n nor -p no:xdist is given: one per core, at most this many. Each worker holds
# its own TensorFlow and models; two peaked at 9.5 GB together on tests/models. `-n auto` asks for more.
MAX_DEFAULT_WORKERS = 2


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """Runs the suite in one pytest-xdist worker per core (MAX_DEFAULT_WORKERS at most) by default, with
    `--dist loadfile`: a file's tests share one worker, so a module fixture (a trained run) is built once. Set
    here rather than in addopts so that `-n 0`, `-p no:xdist`, `--pdb` and a checkout without pytest-xdist still
    run in one process."""
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return
    explicit = config.option.numprocesses is not None
    if explicit or config.getoption("usepdb") or config.getoption("collectonly"):
        return
    workers = min(len(os.sched_getaffinity(0)), MAX_DEFAULT_WORKERS)
    if workers < 2:
        return
    config.option.numprocesses = workers
    if config.option.dist == "no":
        config.option.dist = "loadfile"


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts from the same seed and the float32 policy, whatever the test before it did."""
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")
    # free_memory=False skips a full gc.collect() (0.17 s a test, 100 s over the suite); Python's own
    # generational collector still frees the cycles a test leaves.
    keras.backend.clear_session(free_memory=False)


def pytest_configure(config):
    """The quick tier (`-m "not slow"`) leaves the shared checks' XLA training step to the whole suite."""
    import testing_utils

    testing_utils.XLA_CHECKS = "not slow" not in (config.option.markexpr or "")


def pytest_collection_modifyitems(config, items):
    """Files that hold end-to-end (`slow`) tests run first, each file's tests in their own order.

    `--dist loadfile` hands files to the workers in collection order, so a long file collected last (the translator
    recipe, about 2 minutes) ran alone at the end while the other worker sat idle: the whole suite took 15:14
    where its tests need less. Starting the long files first lets the short ones fill in around them.
    """
    heavy = {item.path for item in items if item.get_closest_marker("slow")}
    items[:] = sorted(items, key=lambda item: item.path not in heavy)
