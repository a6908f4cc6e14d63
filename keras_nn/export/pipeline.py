"""The one staged export pipeline every exporter runs through.

`run_export(plan, export_dir, settings)` picks the exporter for the plan (a model, a seq2seq model with its
greedy decoder, a translator), and then, the same for all of them:

1. checks the plan against the settings before anything is written;
2. writes every file into a staging folder beside `export_dir`;
3. checks parity of each file in its runtime and times the files at batch 1;
4. writes `parity.json`, `latency.json` and, where the exporter has something to say, `NOTES.md`;
5. copies in the earlier export's files of the formats not asked for this time (with their parity and latency
   rows), then moves the staging folder into place, replacing the earlier export only now. A failure in any
   step leaves the earlier export as it was and no staging folder behind.

It returns one `ExportReport` whatever the exporter.
"""

import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from keras_nn.config.export_plan import ModelExport
from keras_nn.config.vocabulary import EXPORT_FORMATS, QUANTIZE_MODES
from keras_nn.edge.contract import LATENCY_FILE, NOTES_FILE, PARITY_FILE, format_of
from keras_nn.export.benchmark import benchmark
from keras_nn.export.exporters import exporter_for
from keras_nn.export.report import ExportReport
from keras_nn.export.settings import ExportSettings
from keras_nn.files import atomic_write_text, give_default_mode

logger = logging.getLogger(__name__)


def _replace_directory(staging, destination):
    """Moves `staging` to `destination`, replacing what was there; the earlier one stays until the move."""
    previous = None
    if destination.exists():
        previous = destination.with_name(f".{destination.name}-previous-{os.getpid()}")
        shutil.rmtree(previous, ignore_errors=True)
        os.replace(destination, previous)
    try:
        os.replace(staging, destination)
    except OSError:
        if previous is not None:
            os.replace(previous, destination)
        raise
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def _keep_other_formats(export_dir, staging, settings, parity, latency):
    """Copies into `staging` the earlier export's files of the formats this export was not asked for, with their
    parity and latency rows, so that `--format onnx` does not delete the SavedModel and the TFLite files.

    A format asked for is replaced whole (every TFLite variant with `tflite`). Returns the names kept.
    """
    if not export_dir.is_dir():
        return []
    kept = []
    for path in sorted(export_dir.iterdir()):
        family = format_of(path).split("-")[0]
        if family not in EXPORT_FORMATS or family in settings.formats or (staging / path.name).exists():
            continue
        if path.is_dir():
            shutil.copytree(path, staging / path.name)
        else:
            shutil.copy2(path, staging / path.name)
        kept.append(path.name)
    for rows, name in ((parity, PARITY_FILE), (latency, LATENCY_FILE)):
        earlier = export_dir / name
        if kept and earlier.is_file():
            rows += [row for row in json.loads(earlier.read_text()) if Path(row["path"]).name in kept]
    return kept


def run_export(plan, export_dir, settings=None):
    """Exports a plan of `keras_nn.config.export_plan` into `export_dir` through the staged pipeline.

    Args:
        plan: a `ModelExport`, `Seq2SeqDecoderExport` or `TranslatorExport` (a task's `export_plan`).
        export_dir: the directory to fill; an earlier export there is replaced only when this one succeeded.
        settings: an `ExportSettings` (default: every format, float32 only).

    Returns:
        An `ExportReport` whose paths point into `export_dir`.
    """
    settings = settings or ExportSettings()
    exporter = exporter_for(plan)
    exporter.check(plan, settings)
    export_dir = Path(export_dir)
    export_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = give_default_mode(tempfile.mkdtemp(dir=export_dir.parent, prefix=f".{export_dir.name}-staging-"))
    started = time.perf_counter()
    try:
        logger.info("export: writing %s into %s", ", ".join(settings.formats), export_dir)
        files = exporter.write(plan, staging, settings)
        logger.info("export: wrote %d file(s) in %.0f s", len(files), time.perf_counter() - started)
        checking = time.perf_counter()
        parity = exporter.parity(plan, files)
        if parity:
            logger.info(
                "export: checked parity of %d file(s) in their runtimes (%.0f s)",
                len(parity),
                time.perf_counter() - checking,
            )
        timed, inputs = exporter.timing(plan, files)
        if timed:
            logger.info("export: timing %d file(s) at batch 1, %d runs each", len(timed), settings.benchmark_runs)
        latency = benchmark(timed, inputs, runs=settings.benchmark_runs) if timed else []
        notes = exporter.notes(plan, settings)

        def final(path):
            return str(export_dir / Path(path).relative_to(staging))

        for row in [*parity, *latency]:
            row["path"] = final(row["path"])
        kept = _keep_other_formats(export_dir, staging, settings, parity, latency)
        atomic_write_text(staging / PARITY_FILE, json.dumps(parity, indent=2))
        atomic_write_text(staging / LATENCY_FILE, json.dumps(latency, indent=2))
        if notes:
            atomic_write_text(staging / NOTES_FILE, notes + "\n")
        _replace_directory(staging, export_dir)
        logger.info("export: done in %.0f s", time.perf_counter() - started)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportReport(
        export_dir=export_dir,
        files=[Path(final(file.path)) for file in files],
        parity=parity,
        latency=latency,
        forms={file.path.name: file.forms for file in files if file.forms is not None},
        notes=notes,
        kept=[export_dir / name for name in kept],
    )


def export_model(
    model,
    export_dir,
    formats=EXPORT_FORMATS,
    quantize=QUANTIZE_MODES,
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

    Example:
    >>> report = keras_nn.export.export_model(model, "export", quantize=["int8"], representative_data=x_train,
    ...                                       verify_inputs=x_test, verify_labels=y_test)
    """
    settings = ExportSettings(
        formats=tuple(formats),
        quantize=tuple(quantize),
        rnn_form=rnn_form,
        streaming=streaming,
        representative_samples=representative_samples,
        benchmark_runs=benchmark_runs,
    )
    plan = ModelExport(
        model, representative_data=representative_data, verify_inputs=verify_inputs, verify_labels=verify_labels
    )
    return run_export(plan, export_dir, settings)
