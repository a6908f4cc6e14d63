"""The export step of a run: every requested format, parity against Keras, latency, in one directory."""

import copy
import dataclasses
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from keras_nn.errors import ConfigError
from keras_nn.export.benchmark import benchmark
from keras_nn.export.onnx import to_onnx
from keras_nn.export.savedmodel import to_saved_model
from keras_nn.export.signature import check_inputs, has_recurrent_layers
from keras_nn.export.streaming import to_streaming_onnx, to_streaming_tflite
from keras_nn.export.tflite import choose_rnn_form, convert_tflite
from keras_nn.export.verify import verify

logger = logging.getLogger(__name__)

FORMATS = ("savedmodel", "tflite", "onnx")
TFLITE_FILES = {
    None: "model.tflite",
    "float16": "model.float16.tflite",
    "dynamic": "model.dynamic.tflite",
    "int8": "model.int8.tflite",
}
STREAMING_FILES = {"tflite": "model.stream.tflite", "onnx": "model.stream.onnx"}


@dataclasses.dataclass
class ExportReport:
    """What an export wrote: the files, a parity row and a latency row per file.

    `forms` maps each file name to how its recurrent layers were exported (`rnn_form` and, per layer, the form
    it took); parity rows carry the same keys.
    """

    export_dir: Path
    files: list
    parity: list
    latency: list
    forms: dict = dataclasses.field(default_factory=dict)

    def rows(self):
        """One dict per file joining parity and latency, in export order (for tables)."""
        latency = {row["path"]: row for row in self.latency}
        rows = []
        for parity in self.parity:
            timing = latency.get(parity["path"], {})
            rows.append({**parity, **{k: timing.get(k) for k in ("median_ms", "p90_ms", "size_bytes")}})
        return rows


def _form_info(result):
    return {"rnn_form": result.rnn_form, "rnn_layers": result.layers}


def _write_files(
    model, staging, formats, quantize, representative_data, rnn_form, representative_samples, streaming
):
    files, forms = [], {}
    if "savedmodel" in formats:
        files.append(to_saved_model(model, staging / "saved_model"))
    if "tflite" in formats:
        if rnn_form == "auto":
            # Measured once, on the float32 file; the quantized variants take the same form.
            rnn_form = choose_rnn_form(model, representative_data=representative_data)[0] or "auto"
        for mode in (None, *quantize):
            result = convert_tflite(
                model,
                staging / TFLITE_FILES[mode],
                quantize=mode,
                representative_data=representative_data,
                rnn_form=rnn_form,
                representative_samples=representative_samples,
            )
            files.append(result.path)
            forms[result.path.name] = _form_info(result)
    if "onnx" in formats:
        files.append(to_onnx(model, staging / "model.onnx"))
        # Which layers became native LSTM/GRU nodes shows in the file's operators (parity rows list them).
        forms["model.onnx"] = {
            "rnn_form": "native" if has_recurrent_layers(model) else None,
            "rnn_layers": [],
        }
    if streaming:
        writers = {"tflite": to_streaming_tflite, "onnx": to_streaming_onnx}
        for target in ("tflite", "onnx"):
            if target in formats:
                files.append(writers[target](model, staging / STREAMING_FILES[target]))
                forms[STREAMING_FILES[target]] = {"rnn_form": "streaming", "rnn_layers": []}
    return files, forms


def export_model(
    model,
    export_dir,
    formats=FORMATS,
    quantize=("float16", "dynamic", "int8"),
    representative_data=None,
    verify_inputs=None,
    verify_labels=None,
    rnn_form="auto",
    representative_samples=200,
    benchmark_runs=100,
    streaming=False,
):
    """Exports `model` to every format, checks parity in each runtime, and times each file at batch 1.

    The files are written to a staging folder beside `export_dir` and moved into place only when every
    conversion succeeded, so a failed export leaves no half-written directory (an earlier export stays).

    Args:
        model: the trained Keras model.
        export_dir: the directory to fill (`saved_model/`, `model*.tflite`, `model.onnx`, `parity.json`,
            `latency.json`).
        formats: any of `savedmodel`, `tflite`, `onnx`.
        quantize: TFLite variants besides float32: `float16`, `dynamic`, `int8`.
        representative_data: training inputs for int8 calibration.
        verify_inputs: test inputs for parity (None skips parity and latency).
        verify_labels: their labels, for each file's accuracy.
        rnn_form: see `to_tflite` (`auto` is measured once, on the float32 file).
        representative_samples: examples used for int8 calibration.
        benchmark_runs: timed batch-1 invokes per file.
        streaming: also write the single-step models `model.stream.tflite` / `model.stream.onnx` (see
            `keras_nn.export.streaming`; forward recurrent models only).

    Returns:
        An `ExportReport`.
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ConfigError(
            f"export formats {unknown or formats} not allowed; choose from: {', '.join(FORMATS)}"
        )
    bad = sorted(set(quantize) - {"float16", "dynamic", "int8"})
    if bad:
        raise ConfigError(f"quantize {bad} not allowed; choose from: float16, dynamic, int8")
    if verify_inputs is not None:
        verify_inputs = check_inputs(model, verify_inputs, what="verification inputs")
    if "int8" in quantize and "tflite" in formats and representative_data is None:
        raise ConfigError("int8 export needs representative_data (a batch of training inputs)")

    export_dir = Path(export_dir)
    export_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=export_dir.parent, prefix=f".{export_dir.name}-staging-"))
    try:
        staged_files, forms = _write_files(
            model,
            staging,
            formats,
            quantize,
            representative_data,
            rnn_form,
            representative_samples,
            streaming,
        )
        parity, latency = [], []
        if verify_inputs is not None:
            reference = np.asarray(model.predict(verify_inputs, verbose=0, batch_size=256))
            for path in staged_files:
                row = verify(model, path, verify_inputs, verify_labels, reference=reference)
                parity.append({**row, **forms.get(Path(path).name, {})})
            latency = benchmark(staged_files, verify_inputs, runs=benchmark_runs)
        if export_dir.exists():
            shutil.rmtree(export_dir)
        os.replace(staging, export_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    def moved(path):
        return str(export_dir / Path(path).relative_to(staging))

    for row in [*parity, *latency]:
        row["path"] = moved(row["path"])
    files = [Path(moved(path)) for path in staged_files]
    (export_dir / "parity.json").write_text(json.dumps(parity, indent=2))
    (export_dir / "latency.json").write_text(json.dumps(latency, indent=2))
    return ExportReport(export_dir, files, parity, latency, forms)


def export_run(
    run_dir, model=None, bundle=None, config=None, formats=None, quantize=None, rnn_form=None, streaming=False
):
    """Exports a finished run into `run_dir/export`, with the run's own data for calibration and parity.

    Args:
        run_dir: a run directory (holds `config.yaml` and `model.keras` when `model`/`config` are not given).
        model, bundle, config: the trained model, its `DatasetBundle` and the resolved recipe, when the caller
            already has them.
        formats, quantize, rnn_form: override the recipe's `export` section.
        streaming: also write the single-step models (see `export_model`).

    Returns:
        An `ExportReport`.
    """
    from keras_nn.training.tasks import Task, get_task
    from keras_nn.training.trainer import load_data, load_run

    run_dir = Path(run_dir)
    if model is None or config is None:
        model, config = load_run(run_dir)
    if bundle is None:
        bundle = load_data(config)
    task = get_task(config["task"])
    if type(task).export is not Task.export:
        # Tasks with an export of their own (seq2seq's greedy decoder, the translator's strings-in SavedModel)
        # write it whether the run is exporting at the end of training or `keras-nn export RUN_DIR` asks.
        return _task_export(task, run_dir, model, bundle, config, formats)
    section = config["export"]
    representative, _ = bundle.as_numpy("train", limit=section["representative_samples"])
    inputs, labels = bundle.as_numpy("test", limit=section["verify_samples"])
    return export_model(
        model,
        run_dir / "export",
        formats=formats or section["formats"] or FORMATS,
        quantize=section["quantize"] if quantize is None else quantize,
        representative_data=representative,
        verify_inputs=inputs,
        verify_labels=labels,
        rnn_form=rnn_form or section["rnn_form"],
        representative_samples=section["representative_samples"],
        benchmark_runs=section["benchmark_runs"],
        streaming=streaming,
    )


def _task_export(task, run_dir, model, bundle, config, formats):
    config = copy.deepcopy(config)
    if formats:
        config["export"]["formats"] = list(formats)
    result = task.export(run_dir, model, bundle, config)
    if isinstance(result, ExportReport):
        return result
    result = result or {}
    export_dir = Path(result.get("export_dir", Path(run_dir) / "export"))
    return ExportReport(export_dir, list(result.get("files", [])), list(result.get("parity", [])), [])
