"""keras-nn's layers and models on the JAX and PyTorch backends, and data-parallel training on JAX.

Each backend's checks run in one subprocess (a process has one Keras backend; JAX and Keras import once) that
refuses TensorFlow imports, as on a GPU machine that has JAX and no TensorFlow: tests/backends/backend_cases.py
lists the checks, tests/backends/run_backend_checks.py runs them. The PyTorch run is skipped where `torch` is
not installed (it is not in the dev extra: `pip install torch --index-url https://download.pytorch.org/whl/cpu`
to run it).
"""

import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_nn
from keras_nn.models.registry import get_model_entry

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

import backend_cases  # noqa: E402

# The builder class of every registered configuration, and the case that checks it.
FAMILY_CASES = {
    "AlexNet": "alexnet", "InceptionV1": "inception_v1", "LeNet5": "lenet5", "MobileNetV2": "mobilenet_v2",
    "ResNet": "resnet", "SimpleCNN": "simple_cnn", "VGG": "vgg", "YOLO": "yolo",
    "BertEncoder": "bert_encoder", "BertMaskedLM": "bert_masked_lm", "BertClassifier": "bert_classifier",
    "GPTDecoder": "gpt_decoder", "TransformerTranslator": "transformer_translator",
    "VisionTransformer": "vision_transformer",
    "RecurrentClassifier": "recurrent_classifier", "Forecaster": "forecaster", "SequenceTagger": "sequence_tagger",
    "Seq2SeqAttention": "seq2seq_attention", "RecurrentLanguageModel": "language_model",
    "DeepAutoencoder": "deep_autoencoder", "DeepBeliefNetwork": "dbn", "RestrictedBoltzmannMachine": "rbm",
    "DCGAN": "dcgan", "SimCLR": "simclr",
}


def test_the_cases_cover_every_registered_family_and_public_layer():
    builders = {get_model_entry(name).builder.__name__ for name in keras_nn.list_models()}
    assert builders == set(FAMILY_CASES), "add a case to tests/backends/backend_cases.py for each new family"
    assert set(FAMILY_CASES.values()) <= set(backend_cases.CASES)
    source = inspect.getsource(backend_cases)
    public = [name for name in dir(keras_nn.layers) if not name.startswith("_")
              and not inspect.ismodule(getattr(keras_nn.layers, name))]
    missing = [name for name in public if not re.search(rf"\blayers\.{name}\b", source)]
    assert not missing, f"public layers with no backend check: {missing}"


# Cases known to fail on PyTorch (none now): the check fails when one of them starts to pass, so that the list is
# kept short.
TORCH_KNOWN_FAILURES = set()


# XLA compiles each case's programs and, on JAX, every operation of an eager call on its own: compile time is the
# job's time. LLVM's lowest optimization level (the tiny ResNet's step: 5.3 -> 3.3 CPU s) and XLA's CPU loop
# emitters instead of its fusion emitters (20 random initializers of new shapes: 3.9 -> 1.8 CPU s) compile the
# same graphs faster; speed is not what these checks measure.
FAST_COMPILE_XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"


def run_checks(backend, output, timeout=900, known_failures=()):
    environment = {**os.environ, "KERAS_BACKEND": backend, "BACKEND_CHECKS_OUTPUT": str(output),
                   "XLA_FLAGS": FAST_COMPILE_XLA_FLAGS}
    proc = subprocess.run([sys.executable, str(HERE / "run_backend_checks.py")], env=environment, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    lines = proc.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("{"), proc.stderr[-4000:]
    result = json.loads(lines[-1])
    assert result["backend"] == backend
    failures = "\n\n".join(f"{name}:\n{error}" for name, error in result["failed"].items())
    assert set(result["failed"]) == set(known_failures), f"failed on {backend}:\n{failures}"
    assert set(result["passed"]) == set(backend_cases.CASES) - set(known_failures)
    # Keras itself probes for TensorFlow (optional, e.g. serialization_lib's tf.TensorShape check); keras-nn must not.
    ours = [entry for entry in result["tensorflow_imports"] if "keras_nn" in entry or "/tests/" in entry]
    assert not ours, f"keras-nn asked for TensorFlow on {backend}: {ours}"
    assert proc.returncode == (1 if known_failures else 0), proc.stderr[-4000:]


def check_dcgan_step_matches_tensorflow(saved):
    """The DCGAN step the backend's case took (backend_cases.dcgan_step, saved with its initial weights) gives
    TensorFlow's update: the same step here, from the same weights, eager (TensorFlow's tape)."""
    saved = np.load(saved)
    arrays = [saved[f"arr_{index}"] for index in range(len(saved.files))]
    count = (len(arrays) - 1) // 2
    initial, updated, losses = arrays[:count], arrays[count:-1], arrays[-1]
    gan, _, logs = backend_cases.dcgan_step(initial, run_eagerly=True)
    np.testing.assert_allclose(losses, [float(logs["d_loss"]), float(logs["g_loss"])], rtol=1e-5)
    for weight, before, theirs in zip(gan.weights, initial, updated, strict=True):
        ours = keras.ops.convert_to_numpy(weight)
        # The update (SGD: 0.5 times the gradient) to 1e-4 of its largest entry; updates reach 0.3 here.
        scale = np.abs(ours - before).max()
        np.testing.assert_allclose(theirs - before, ours - before, rtol=0, atol=1e-4 * scale + 1e-9,
                                   err_msg=weight.path)


@pytest.mark.slow  # one subprocess: every family and layer on JAX
def test_every_family_and_layer_on_the_jax_backend(tmp_path):
    pytest.importorskip("jax")
    run_checks("jax", tmp_path)
    check_dcgan_step_matches_tensorflow(tmp_path / "dcgan_step_jax.npz")


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed (not in the dev extra)")
def test_every_family_and_layer_on_the_torch_backend(tmp_path):
    run_checks("torch", tmp_path, known_failures=TORCH_KNOWN_FAILURES)
    check_dcgan_step_matches_tensorflow(tmp_path / "dcgan_step_torch.npz")


@pytest.mark.slow  # a subprocess that trains simple_cnn over two XLA host devices
def test_data_parallel_on_two_jax_devices():
    pytest.importorskip("jax")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "jax_data_parallel.py"), "--epochs", "2", "--cpu-devices", "2"],
        env={**os.environ, "XLA_FLAGS": ""}, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["backend"] == "jax" and result["devices"] == ["cpu:0", "cpu:1"]
    # The compiled step receives each global batch of 64 as two shards of 32, one per device.
    assert result["batch_sharding"] == [{"devices": 2, "shard_shape": [32, 8, 8, 1], "global_shape": [64, 8, 8, 1]}]
    assert result["weights_replicated"]
    first, last = result["epoch_loss"]
    assert last < 0.6 * first, result["epoch_loss"]
    # Ten classes: chance is 0.1; two epochs of the digits CNN measured 0.74 (three: 0.98).
    assert result["test_accuracy"] > 0.5, result
