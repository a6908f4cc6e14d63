"""The GPT decoder's cached step: a Keras model, a TFLite file (builtin ops only) and an ONNX file, each fed a
sequence one token at a time (the cache fed back) against the whole-sequence model's logits at every position."""

import json

import numpy as np
import pytest

import keras_nn
from keras_nn.cli import main
from keras_nn.edge.bench_device import load_runner
from keras_nn.edge.contract import CACHED_STEP_FILES, format_of, is_cached_step_model
from keras_nn.edge.edge_common import EdgeKitUsageError
from keras_nn.edge.operators import flex_operators, operators
from keras_nn.errors import ConfigError
from keras_nn.export.cached_decoder import (
    CachedStepRunner,
    cache_shape,
    cached_step_model,
    check_cached_step,
    to_cached_step_onnx,
    to_cached_step_tflite,
)
from keras_nn.runs import train_run as train

VOCAB, CONTEXT = 20, 10


@pytest.fixture(scope="module")
def gpt():
    keras_nn_model = keras_nn.create_model(
        "gpt_decoder", vocab_size=VOCAB, num_layers=2, hidden_dim=16, num_heads=2, intermediate_dim=32,
        max_sequence_length=CONTEXT, dropout=0.0,
    )
    # Larger position embeddings than the init's 0.01, so a wrong position in a step shows in the logits.
    table = keras_nn_model.position_embedding.weights[0]
    table.assign(np.random.default_rng(1).normal(0, 0.5, table.shape).astype("float32"))
    return keras_nn_model


@pytest.fixture(scope="module")
def sequence():
    return np.random.default_rng(0).integers(1, VOCAB, (2, CONTEXT)).astype("int32")


def test_keras_cached_step_equals_the_whole_sequence_at_every_position(gpt, sequence):
    step = cached_step_model(gpt)
    assert [tensor.name for tensor in step.inputs] == ["token_ids", "cache", "cache_index"]
    assert tuple(step.inputs[1].shape) == cache_shape(gpt) == (None, 2, 2, CONTEXT, 2, 8)
    whole = np.asarray(gpt(sequence))
    cache = np.zeros((2, *cache_shape(gpt)[1:]), "float32")
    for position in range(CONTEXT):
        out = step(
            {"token_ids": sequence[:, position : position + 1], "cache": cache,
             "cache_index": np.array([position], "int32")}
        )
        np.testing.assert_allclose(np.asarray(out["logits"]), whole[:, position], atol=1e-5)
        cache = np.asarray(out["new_cache"])
    # Every position's keys and values were written: no zero row left in the cache.
    assert np.all(np.abs(cache).sum(axis=(-1, -2)) > 0)


def test_tflite_cached_step_is_builtin_only_with_parity(gpt, sequence, tmp_path):
    path = to_cached_step_tflite(gpt, tmp_path / CACHED_STEP_FILES["tflite"])
    counts = operators(str(path))
    assert flex_operators(counts) == [] and counts["DYNAMIC_UPDATE_SLICE"] == 4  # keys and values, per layer
    assert is_cached_step_model(path) and format_of(path) == "tflite-cached-step"
    row = check_cached_step(gpt, path, sequence[:1])
    assert row["max_abs_error"] < 1e-5 and row["greedy_token_agreement"] == 1.0 and row["positions"] == CONTEXT
    assert row["median_ms_per_token"] > 0 and row["flex_operators"] == [] and row["operators"] == counts
    # The edge kit's bench times one-input models: it names the cached step instead of failing inside a runner.
    with pytest.raises(EdgeKitUsageError, match="cached step"):
        load_runner(str(path))


def test_onnx_cached_step_with_parity(gpt, sequence, tmp_path):
    path = to_cached_step_onnx(gpt, tmp_path / CACHED_STEP_FILES["onnx"])
    counts = operators(str(path))
    assert counts["ScatterND"] == 4 and "XlaDynamicUpdateSlice" not in counts
    row = check_cached_step(gpt, path, sequence[1:])
    assert row["max_abs_error"] < 1e-5 and row["greedy_token_agreement"] == 1.0
    # A step past the first writes at its index only: the cache rows before it are the ones fed in.
    runner = CachedStepRunner(path)
    cache = np.random.default_rng(2).random((1, *cache_shape(gpt)[1:])).astype("float32")
    new = runner(sequence[:1, :1], cache, np.array([3], "int32"))["new_cache"]
    changed = np.abs(new - cache).sum(axis=(0, 1, 2, 4, 5)) > 0
    assert changed.tolist() == [index == 3 for index in range(CONTEXT)]


def test_a_model_without_a_cache_is_refused():
    lstm = keras_nn.create_model("lstm_language_model", vocab_size=VOCAB, units=8, embedding_dim=4)
    with pytest.raises(ConfigError, match="no key/value cache"):
        cached_step_model(lstm)


@pytest.mark.slow
def test_export_streaming_on_a_gpt_run_writes_the_cached_step(tmp_path):
    # End to end (a 1-epoch run, then `keras-nn export RUN --streaming`): about a minute on 2 cores.
    config = {
        "name": "tiny_gpt",
        "task": "language_model",
        "task_options": {"corpus_size": 200, "sequence_length": 16, "sample_length": 4, "prompts": ["the"],
                         "sampling": [{"temperature": 1.0}]},
        "model": {"name": "gpt_decoder", "num_layers": 1, "hidden_dim": 16, "num_heads": 2, "intermediate_dim": 32,
                  "max_sequence_length": 16, "dropout": 0.0},
        "data": {"source": "generated:sentences", "batch_size": 16},
        "training": {"epochs": 1},
        "export": {"formats": ["tflite", "onnx"], "quantize": [], "verify_samples": 4, "representative_samples": 4},
    }
    root = tmp_path / "run"
    train(config, root, verbose=0)
    assert main(["export", str(root), "--streaming"]) == 0

    rows = {row["format"]: row for row in json.loads((root / "export" / "parity.json").read_text())}
    for target in ("tflite", "onnx"):
        assert (root / "export" / CACHED_STEP_FILES[target]).is_file()
        row = rows[f"{target}-cached-step"]
        assert row["greedy_token_agreement"] == 1.0 and row["max_abs_error"] < 1e-4 and row["positions"] == 16
    assert "model.cached_step.tflite" in (root / "report.md").read_text()
    # keras-nn bench times the other files and leaves the cached steps (three inputs) to their parity rows.
    assert main(["bench", str(root / "export"), "--runs", "3"]) == 0
