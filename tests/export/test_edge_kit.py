"""Tests for the edge kit in export/ (installed as keras_nn.edge).

Tiny Keras models are converted here with the real converters (TFLiteConverter, tf2onnx), run through the kit's
runners and compared with Keras. The command-line scripts run in subprocesses from a copy of the folder placed
elsewhere, where TensorFlow, Keras and keras_nn cannot be imported, as on a device: as plain scripts
(`python edge_kit/run_tflite.py`) and as a package (`python -m edge_kit.run_tflite`); installed, as
`python -m keras_nn.edge.run_tflite`.
"""

import ast
import json
import re
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from edge_kit_utils import KIT_DIR, NOT_ON_DEVICE, copy_device_kit, device_env
from edge_kit_utils import run_kit_script as _run_script

from keras_nn.edge import contract
from keras_nn.edge.bench_device import load_runner, time_runners
from keras_nn.edge.run_onnx import ONNXRunner
from keras_nn.edge.run_tflite import TFLiteRunner

KIT_MODULES = sorted(path.stem for path in KIT_DIR.glob("*.py") if path.stem != "__init__")
NUM_CLASSES = 5


def _cnn():
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )


def _lstm():
    return keras.Sequential(
        [keras.Input((8, 8)), keras.layers.LSTM(8), keras.layers.Dense(NUM_CLASSES, activation="softmax")]
    )


def _blob_images(n, seed):
    """8x8 images with a bright 4x4 blob in one of four quadrants (plus noise); label = quadrant."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.normal(0.0, 0.1, (n, 8, 8, 1)).astype(np.float32)
    for i, q in enumerate(y):
        r, c = divmod(int(q), 2)
        x[i, 4 * r : 4 * r + 4, 4 * c : 4 * c + 4, 0] += 1.0
    return x, y


def _to_tflite(saved_model_dir, path, *, int8_data=None, single_batch_lists=False):
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if single_batch_lists:
        # Keras 3 LSTMs lower to a while loop over tensor lists; builtin ops support them only at batch 1.
        converter._experimental_default_to_single_batch_in_tensor_list_ops = True
    if int8_data is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([int8_data[i : i + 1]] for i in range(len(int8_data)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    path.write_bytes(converter.convert())
    return path


def _to_onnx(model, path, example_shape):
    import tf2onnx

    spec = (tf.TensorSpec((None, *example_shape), tf.float32, name="x"),)
    fn = tf.function(lambda x: model(x, training=False))
    tf2onnx.convert.from_function(fn, input_signature=spec, output_path=str(path))
    return path


def _fused_lstm_tflite(path, seed=0, t_steps=8, features=8, units=8):
    """A TFLite model whose recurrence is the fused, stateful UNIDIRECTIONAL_SEQUENCE_LSTM op.

    keras-nn's `rnn_form="fused"` export of a Keras LSTM. Returns (path, reference fn).
    """
    from keras_nn.export import to_tflite

    rng = np.random.default_rng(seed)
    model = keras.Sequential([keras.Input((t_steps, features)), keras.layers.LSTM(units)])
    for variable in model.weights:
        variable.assign(rng.normal(0, 0.3, variable.shape).astype(np.float32))
    to_tflite(model, path, rnn_form="fused")
    return path, lambda x: model.predict(x, verbose=0)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """Converted files, their Keras models and inputs, built once for the module."""
    root = tmp_path_factory.mktemp("edge_kit")
    keras.utils.set_random_seed(0)

    cnn = _cnn()
    x_train, y_train = _blob_images(256, seed=1)
    cnn.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    # A few epochs make the predictions confident, so top-1 agreement under int8 measures quantization, not ties.
    cnn.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0)
    lstm = _lstm()

    cnn.export(str(root / "cnn_sm"), format="tf_saved_model", verbose=False)
    lstm.export(str(root / "lstm_sm"), format="tf_saved_model", verbose=False)
    x_cnn, _ = _blob_images(32, seed=2)
    x_lstm = np.random.default_rng(3).normal(size=(6, 8, 8)).astype(np.float32)
    files = {
        "cnn_f32": _to_tflite(root / "cnn_sm", root / "cnn_f32.tflite"),
        "cnn_int8": _to_tflite(root / "cnn_sm", root / "cnn_int8.tflite", int8_data=x_train[:64]),
        "lstm_f32": _to_tflite(root / "lstm_sm", root / "lstm_f32.tflite", single_batch_lists=True),
        "cnn_onnx": _to_onnx(cnn, root / "cnn.onnx", (8, 8, 1)),
        "lstm_onnx": _to_onnx(lstm, root / "lstm.onnx", (8, 8)),
    }
    return {
        "root": root,
        "files": files,
        "models": {"cnn": cnn, "lstm": lstm},
        "inputs": {"cnn": x_cnn, "lstm": x_lstm},
    }


@pytest.fixture(scope="module")
def device_kit(tmp_path_factory):
    """A copy of export/ on its own, as it is copied onto a device, under another name (`edge_kit`)."""
    return copy_device_kit(tmp_path_factory.mktemp("device"))


def _keras(kit, name, x):
    return keras.ops.convert_to_numpy(kit["models"][name](x, training=False))


# Runners against Keras --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "file_key, model, runner_cls",
    [
        ("cnn_f32", "cnn", TFLiteRunner),
        ("lstm_f32", "lstm", TFLiteRunner),
        ("cnn_onnx", "cnn", ONNXRunner),
        ("lstm_onnx", "lstm", ONNXRunner),
    ],
)
def test_float_runner_matches_keras_and_repeats(kit, file_key, model, runner_cls):
    runner = runner_cls(str(kit["files"][file_key]))
    x = kit["inputs"][model]
    expected = _keras(kit, model, x)
    out = runner.run(x)
    assert out.dtype == np.float32
    assert out.shape == expected.shape
    assert np.abs(out - expected).max() < 1e-4
    np.testing.assert_array_equal(runner.run(x), out)


def test_input_shape_and_dtypes(kit):
    f32 = TFLiteRunner(str(kit["files"]["cnn_f32"]))
    assert f32.input_shape == (-1, 8, 8, 1)
    assert f32.input_dtype == np.float32 and f32.output_dtype == np.float32
    int8 = TFLiteRunner(str(kit["files"]["cnn_int8"]))
    assert int8.input_dtype == np.int8 and int8.output_dtype == np.int8
    onnx = ONNXRunner(str(kit["files"]["lstm_onnx"]))
    assert onnx.input_shape == (-1, 8, 8)
    assert onnx.input_dtype == np.float32


def test_int8_tflite_quantizes_input_and_dequantizes_output(kit):
    runner = TFLiteRunner(str(kit["files"]["cnn_int8"]), num_threads=1)
    x = kit["inputs"]["cnn"]
    expected = _keras(kit, "cnn", x)
    out = runner.run(x)
    assert out.dtype == np.float32 and out.shape == expected.shape
    agreement = np.mean(out.argmax(1) == expected.argmax(1))
    assert agreement >= 0.9, agreement
    # Softmax outputs with an int8 scale of about 1/256: close in scale, not bit-exact.
    assert np.abs(out - expected).max() < 0.1
    assert np.allclose(out.sum(1), 1.0, atol=0.05)
    np.testing.assert_array_equal(runner.run(x), out)

    prepared = runner.prepare(x[:1])
    scale, zero_point = runner._input["quantization"]
    assert prepared.dtype == np.int8
    np.testing.assert_array_equal(prepared, np.clip(np.round(x[:1] / scale) + zero_point, -128, 127))
    raw = runner.invoke_prepared(prepared)
    assert raw.dtype == np.int8
    np.testing.assert_array_equal(runner._dequantize(raw), out[:1])


def test_fused_lstm_state_is_reset_between_invokes(tmp_path):
    path, reference = _fused_lstm_tflite(tmp_path / "fused_lstm.tflite")
    runner = TFLiteRunner(str(path))
    ops = {op["op_name"] for op in runner.interpreter._get_ops_details()}
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops, ops
    x = np.random.default_rng(4).random((3, 8, 8), dtype=np.float32)

    # Without a reset the fused op carries h and c over from the previous invoke: the test is meaningful.
    interp = runner.interpreter
    interp.reset_all_variables()
    raw = []
    for _ in range(2):
        interp.set_tensor(runner._input["index"], x[:1])
        interp.invoke()
        raw.append(interp.get_tensor(runner._output["index"]).copy())
    assert np.abs(raw[0] - raw[1]).max() > 1e-3

    expected = np.concatenate([reference(x[i : i + 1]) for i in range(len(x))])
    first = runner.run(x)
    assert np.abs(first - expected).max() < 1e-5
    np.testing.assert_array_equal(runner.run(x), first)


def test_run_rejects_wrong_shape(kit):
    for runner in (TFLiteRunner(str(kit["files"]["cnn_f32"])), ONNXRunner(str(kit["files"]["cnn_onnx"]))):
        with pytest.raises(ValueError, match=r"\(2, 9, 9, 1\).*expected \(N, 8, 8, 1\)"):
            runner.run(np.zeros((2, 9, 9, 1), np.float32))


def test_runner_missing_and_invalid_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="model file not found"):
        TFLiteRunner(str(tmp_path / "nope.tflite"))
    junk = tmp_path / "junk.onnx"
    junk.write_text("not a model")
    with pytest.raises(ValueError, match="cannot load .*junk.onnx as an ONNX model"):
        ONNXRunner(str(junk))


# Benchmark ---------------------------------------------------------------------------------------------------


def test_load_runner_by_extension(kit, tmp_path):
    assert isinstance(load_runner(str(kit["files"]["cnn_f32"])), TFLiteRunner)
    onnx = load_runner(str(kit["files"]["cnn_onnx"]), num_threads=1)
    assert isinstance(onnx, ONNXRunner)
    options = onnx.session.get_session_options()
    assert options.intra_op_num_threads == 1
    # Idle threads must not spin: in an interleaved benchmark they would steal the next runtime's cores.
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    with pytest.raises(ValueError, match=r"'\.pt'.*\.onnx, \.tflite"):
        load_runner(str(tmp_path / "model.pt"))


def test_time_runners_interleaved(kit):
    runners = {
        "tflite": TFLiteRunner(str(kit["files"]["cnn_f32"]), num_threads=1),
        "onnx": ONNXRunner(str(kit["files"]["cnn_onnx"]), num_threads=1),
    }
    sample = kit["inputs"]["cnn"][:1]
    results = time_runners(runners, sample, warmup=2, runs=15)
    assert [r["name"] for r in results] == ["tflite", "onnx"]
    for r in results:
        assert set(r) == {"name", "median_ms", "p90_ms", "mean_ms", "min_ms", "runs"}
        assert r["runs"] == 15
        assert 0 < r["min_ms"] <= r["median_ms"] <= r["p90_ms"] < 1000
        assert r["min_ms"] <= r["mean_ms"]
    with pytest.raises(ValueError, match="batch dim 1"):
        time_runners(runners, kit["inputs"]["cnn"][:2])


# The scripts on a "device": no TensorFlow, no keras_nn ------------------------------------------------------


def test_kit_sources_import_no_tensorflow_and_leave_sys_path_alone():
    pattern = re.compile(r"^\s*(import|from)\s+(tensorflow|keras|keras_nn|tf_keras|tf2onnx)\b", re.M)
    for path in KIT_DIR.glob("*.py"):
        source = path.read_text()
        assert not pattern.search(source), path
        # Python itself puts a plain script's folder on sys.path; a package imports its siblings relatively.
        assert not re.search(r"sys\.path\s*(\.\w+\(|\[|\+?=)", source), path


def test_kit_imports_nothing_of_keras_nn(kit, device_kit, tmp_path):
    """Every kit module imports as a package, and a script runs end to end, where TF, Keras, keras_nn fail."""
    x = kit["inputs"]["cnn"][:3]
    np.save(tmp_path / "x.npy", x)
    code = f"""
import importlib, sys
for name in {NOT_ON_DEVICE!r}:
    try:
        importlib.import_module(name)
    except ImportError:
        pass
    else:
        sys.exit(f"{{name}} can be imported: the test would prove nothing")
for module in {KIT_MODULES!r}:
    importlib.import_module("{device_kit.name}." + module)
code = importlib.import_module("{device_kit.name}.run_tflite").main(
    [{str(kit["files"]["cnn_f32"])!r}, {str(tmp_path / "x.npy")!r}, "--output", {str(tmp_path / "out.npy")!r}]
)
loaded = sorted(name for name, module in sys.modules.items() if module is not None and name.split(".")[0] in {NOT_ON_DEVICE!r})
sys.exit(code or loaded or None)
"""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=device_kit.parent,
        env=device_env(device_kit),
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == len(x)
    assert np.abs(np.load(tmp_path / "out.npy") - _keras(kit, "cnn", x)).max() < 1e-4


@pytest.mark.parametrize("way", ["script", "package", "installed"])
def test_three_ways_to_run_a_script(kit, device_kit, tmp_path, way):
    """The same file runs as a plain script and as a package from a copy elsewhere, and installed."""
    x = kit["inputs"]["cnn"][:2]
    np.save(tmp_path / "x.npy", x)
    args = [kit["files"]["cnn_f32"], tmp_path / "x.npy", "--output", tmp_path / "out.npy"]
    if way == "installed":
        # The library's own interpreter, where keras_nn (and so TensorFlow) is installed; cwd holds no kit.
        proc = subprocess.run(
            [sys.executable, "-m", "keras_nn.edge.run_tflite", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
    else:
        proc = _run_script(
            device_kit, "run_tflite.py", *args, way=way, cwd=None if way == "package" else tmp_path
        )
    assert proc.returncode == 0, proc.stderr
    assert np.abs(np.load(tmp_path / "out.npy") - _keras(kit, "cnn", x)).max() < 1e-4
    if way == "installed":
        return
    # bench_device imports every runner (and they import each other); operators imports the shared helpers.
    files = [kit["files"]["cnn_f32"], kit["files"]["cnn_onnx"]]
    proc = _run_script(device_kit, "bench_device.py", *files, "--runs", "2", "--warmup", "0", way=way)
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[0] for line in proc.stdout.splitlines()[1:]] == [f.name for f in files]
    proc = _run_script(device_kit, "operators.py", *files, way=way)
    assert proc.returncode == 0, proc.stderr
    assert "CONV_2D x1" in proc.stdout and "Conv x1" in proc.stdout


def test_cli_tflite_single_example_without_batch_dim(kit, device_kit, tmp_path):
    x = kit["inputs"]["cnn"][0]  # (8, 8, 1): no batch dim
    np.save(tmp_path / "one.npy", x)
    out_path = tmp_path / "out.npy"
    proc = _run_script(
        device_kit,
        "run_tflite.py",
        kit["files"]["cnn_f32"],
        tmp_path / "one.npy",
        "--output",
        out_path,
        "--threads",
        "1",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    expected = _keras(kit, "cnn", x[None])
    assert len(lines) == 1
    assert re.fullmatch(rf"0\tclass {expected[0].argmax()}\tscore \d\.\d{{4}}", lines[0]), lines
    out = np.load(out_path)
    assert out.shape == (1, NUM_CLASSES) and np.abs(out - expected).max() < 1e-4


def test_cli_onnx_and_int8_batches(kit, device_kit, tmp_path):
    np.save(tmp_path / "batch.npy", kit["inputs"]["lstm"])
    proc = _run_script(device_kit, "run_onnx.py", kit["files"]["lstm_onnx"], tmp_path / "batch.npy")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == len(kit["inputs"]["lstm"])

    np.save(tmp_path / "images.npy", kit["inputs"]["cnn"][:4])
    proc = _run_script(
        device_kit,
        "run_tflite.py",
        kit["files"]["cnn_int8"],
        tmp_path / "images.npy",
        "--output",
        tmp_path / "int8_out.npy",
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 4
    assert np.load(tmp_path / "int8_out.npy").dtype == np.float32


def test_cli_bench_device(kit, device_kit, tmp_path):
    np.save(tmp_path / "sample.npy", kit["inputs"]["cnn"][:3])  # a batch: the first example is used
    report = tmp_path / "latency.json"
    files = [kit["files"]["cnn_f32"], kit["files"]["cnn_int8"], kit["files"]["cnn_onnx"]]
    proc = _run_script(
        device_kit,
        "bench_device.py",
        *files,
        "--input",
        tmp_path / "sample.npy",
        "--runs",
        "5",
        "--warmup",
        "1",
        "--threads",
        "1",
        "--json",
        report,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].split()[:2] == ["file", "size"]
    for f in files:
        assert f.name in proc.stdout
    data = json.loads(report.read_text())
    assert data["sample_shape"] == [1, 8, 8, 1]
    assert [r["name"] for r in data["results"]] == [f.name for f in files]
    assert all(r["runs"] == 5 and r["median_ms"] > 0 and r["size_kb"] > 0 for r in data["results"])

    # A folder stands for its model files, in name order.
    folder = tmp_path / "export"
    folder.mkdir()
    for f in files:
        shutil.copy(f, folder / f.name)
    (folder / "notes.txt").write_text("not a model")
    proc = _run_script(device_kit, "bench_device.py", folder, "--runs", "2", "--warmup", "0")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split()[0] for line in proc.stdout.splitlines()[1:]]
    assert rows == sorted(f.name for f in files)

    # Without --input a random sample of the first file's input shape is used (dynamic dims -> 1).
    proc = _run_script(
        device_kit, "bench_device.py", kit["files"]["lstm_f32"], "--runs", "3", "--warmup", "0"
    )
    assert proc.returncode == 0, proc.stderr
    assert "lstm_f32.tflite" in proc.stdout


@pytest.mark.parametrize("script, file_key", [("run_tflite.py", "cnn_f32"), ("run_onnx.py", "cnn_onnx")])
def test_cli_wrong_shape_exits_2(kit, device_kit, tmp_path, script, file_key):
    np.save(tmp_path / "bad.npy", np.zeros((2, 9, 9, 1), np.float32))
    proc = _run_script(device_kit, script, kit["files"][file_key], tmp_path / "bad.npy")
    assert proc.returncode == 2
    (err,) = [line for line in proc.stderr.splitlines() if line.startswith(f"{script}: error:")]
    assert "does not match" in err and "bad.npy" in err, err
    assert "(2, 9, 9, 1)" in err and "(N, 8, 8, 1)" in err and "(8, 8, 1)" in err, err
    assert "Traceback" not in proc.stderr


def test_cli_missing_files_and_bad_model_exit_2(kit, device_kit, tmp_path):
    np.save(tmp_path / "x.npy", kit["inputs"]["cnn"][:1])
    proc = _run_script(device_kit, "run_tflite.py", tmp_path / "missing.tflite", tmp_path / "x.npy")
    assert proc.returncode == 2 and "model file not found" in proc.stderr and "missing.tflite" in proc.stderr

    proc = _run_script(device_kit, "run_onnx.py", kit["files"]["cnn_onnx"], tmp_path / "missing.npy")
    assert proc.returncode == 2 and "input file not found" in proc.stderr and "missing.npy" in proc.stderr

    junk = tmp_path / "junk.tflite"
    junk.write_text("not a model")
    proc = _run_script(device_kit, "run_tflite.py", junk, tmp_path / "x.npy")
    assert proc.returncode == 2 and "cannot load" in proc.stderr and "Traceback" not in proc.stderr

    proc = _run_script(device_kit, "bench_device.py", tmp_path / "model.pt", "--runs", "1")
    assert proc.returncode == 2 and "'.pt'" in proc.stderr and "Traceback" not in proc.stderr


def test_device_kit_runs_every_recurrent_form_without_tensorflow(device_kit, tmp_path):
    """The fused and loop TFLite forms, the native ONNX form and both streaming models, on a TF-free kit."""
    from keras_nn.export import to_onnx, to_streaming_onnx, to_streaming_tflite, to_tflite

    model = _lstm()
    rng = np.random.default_rng(7)
    for variable in model.weights:
        variable.assign(rng.normal(0, 0.5, variable.shape).astype(np.float32))
    files = {
        "fused": to_tflite(model, tmp_path / "fused.tflite", rnn_form="fused"),
        "loop": to_tflite(model, tmp_path / "loop.tflite", rnn_form="loop"),
        "onnx": to_onnx(model, tmp_path / "native.onnx"),
        "stream_tflite": to_streaming_tflite(model, tmp_path / "model.stream.tflite"),
        "stream_onnx": to_streaming_onnx(model, tmp_path / "model.stream.onnx"),
    }
    x = rng.random((3, 8, 8), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    expected = list(model.predict(x, verbose=0).argmax(-1))
    scripts = {"fused": "run_tflite.py", "loop": "run_tflite.py", "onnx": "run_onnx.py"}
    scripts.update(stream_tflite="run_streaming.py", stream_onnx="run_streaming.py")
    for key, path in files.items():
        proc = _run_script(device_kit, scripts[key], path, tmp_path / "x.npy")
        assert proc.returncode == 0, (key, proc.stderr)
        assert [
            int(line.split("\t")[1].split()[1]) for line in proc.stdout.strip().splitlines()
        ] == expected, key

    proc = _run_script(device_kit, "operators.py", *files.values())
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(": ", 1) for line in proc.stdout.strip().splitlines())
    assert (
        "UNIDIRECTIONAL_SEQUENCE_LSTM x1" in lines[str(files["fused"])]
        and "WHILE" not in lines[str(files["fused"])]
    )
    assert "WHILE x1" in lines[str(files["loop"])]
    assert "LSTM x1" in lines[str(files["onnx"])] and "Loop" not in lines[str(files["onnx"])]
    assert "Flex" not in proc.stdout

    proc = _run_script(
        device_kit, "bench_device.py", *files.values(), "--input", tmp_path / "x.npy", "--runs", "5"
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 1 + len(files)


# The file and tensor-name contract -----------------------------------------------------------------------------


def test_contract_names():
    assert contract.QUANTIZE_MODES == ("float16", "dynamic", "int8")
    assert [contract.tflite_file(mode) for mode in (None, *contract.QUANTIZE_MODES)] == [
        "model.tflite",
        "model.float16.tflite",
        "model.dynamic.tflite",
        "model.int8.tflite",
    ]
    with pytest.raises(ValueError, match=r"quantize='int4'.*float16, dynamic, int8"):
        contract.tflite_file("int4")
    assert (contract.SAVED_MODEL_DIR, contract.ONNX_FILE) == ("saved_model", "model.onnx")
    assert contract.STREAMING_FILES == {"tflite": "model.stream.tflite", "onnx": "model.stream.onnx"}
    assert contract.DECODER_FILES == {"tflite": "greedy_decoder.tflite", "onnx": "greedy_decoder.onnx"}
    assert contract.ENCODER_FILES == {"tflite": "encoder.tflite", "onnx": "encoder.onnx"}
    assert (contract.PARITY_FILE, contract.LATENCY_FILE, contract.NOTES_FILE) == (
        "parity.json",
        "latency.json",
        "NOTES.md",
    )
    assert (contract.STEP_INPUT, contract.STEP_OUTPUT) == ("step", "output")
    assert [contract.state_name(i) for i in (0, 1, 12)] == ["state_00", "state_01", "state_12"]
    assert contract.new_state_name(contract.state_name(3)) == "new_state_03"


def test_contract_format_and_runtime_of_every_file(tmp_path):
    (tmp_path / contract.SAVED_MODEL_DIR).mkdir()
    expected = {
        contract.SAVED_MODEL_DIR: ("savedmodel", "tensorflow"),
        contract.tflite_file(): ("tflite-float32", "ai-edge-litert"),
        contract.tflite_file("float16"): ("tflite-float16", "ai-edge-litert"),
        contract.tflite_file("dynamic"): ("tflite-dynamic", "ai-edge-litert"),
        contract.tflite_file("int8"): ("tflite-int8", "ai-edge-litert"),
        contract.ONNX_FILE: ("onnx", "onnxruntime"),
        contract.STREAMING_FILES["tflite"]: ("tflite-stream", "ai-edge-litert"),
        contract.STREAMING_FILES["onnx"]: ("onnx-stream", "onnxruntime"),
        contract.DECODER_FILES["tflite"]: ("tflite-float32", "ai-edge-litert"),
        contract.ENCODER_FILES["onnx"]: ("onnx", "onnxruntime"),
        # A quantize mode counts only as a whole word of the name.
        "my-int8_model.tflite": ("tflite-int8", "ai-edge-litert"),
        "int80.tflite": ("tflite-float32", "ai-edge-litert"),
    }
    for name, (fmt, runtime) in expected.items():
        assert (contract.format_of(tmp_path / name), contract.runtime_of(str(tmp_path / name))) == (
            fmt,
            runtime,
        )


def test_contract_is_defined_once():
    """keras_nn.export and the kit's scripts take the names from the contract instead of repeating them."""
    from keras_nn.edge import run_streaming
    from keras_nn.export import runtimes, streaming

    assert streaming.state_name is contract.state_name and streaming.new_state_name is contract.new_state_name
    assert runtimes.format_of is contract.format_of and runtimes.runtime_of is contract.runtime_of
    assert run_streaming.is_streaming_model is contract.is_streaming_model
    names = {contract.SAVED_MODEL_DIR, contract.ONNX_FILE, contract.PARITY_FILE, contract.LATENCY_FILE}
    names |= {contract.NOTES_FILE, contract.STEP_INPUT, contract.STEP_OUTPUT}
    names |= {contract.DETECTOR_INPUT, *contract.DETECTOR_OUTPUTS, contract.LABELS_FILE}
    names |= {contract.tflite_file(mode) for mode in (None, *contract.QUANTIZE_MODES)}
    for files in (contract.STREAMING_FILES, contract.DECODER_FILES, contract.ENCODER_FILES):
        names |= set(files.values())
    owners = [KIT_DIR / f"{module}.py" for module in KIT_MODULES if module != "contract"]
    owners += [
        KIT_DIR.parent / "keras_nn" / "export" / f"{name}.py" for name in ("runtimes", "verify", "benchmark")
    ]
    for path in owners:
        repeated = [
            value
            for value in _code_strings(path)
            if value in names or value.startswith((contract.STATE_PREFIX, contract.NEW_STATE_PREFIX))
        ]
        assert not repeated, (path, repeated)


def _code_strings(path):
    """Every string constant in a Python file, f-string parts included, docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]
