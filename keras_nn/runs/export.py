"""Exporting a run: its task says what to export (`Task.export_plan`), the staged pipeline exports it into the
run's `export/`, and the run's `report.md` (where the task writes one) gets the export's table."""

import os

from keras_nn.edge.contract import NOTES_FILE
from keras_nn.export import ExportSettings, run_export
from keras_nn.runs.load import load_model_file, open_run
from keras_nn.training import create_task
from keras_nn.viz import markdown_table

EXPORT_SECTION = "\n## Export\n"
#: Parity keys that say how often an exported file agrees with Keras, by kind of export.
AGREEMENT_KEYS = ("top1_agreement", "translation_agreement", "greedy_token_agreement", "matched_fraction")
# The error column: the outputs' own error, or a detector's box error (its files return boxes, not logits).
ERROR_KEYS = ("max_abs_error", "boxes_max_abs_error")
# The file's own score: a classifier's accuracy, a detector's mAP@0.5.
SCORE_KEYS = ("accuracy", "map_50")


def parity_summary(row):
    """`(score, agreement, error)` of one parity row, each None where the row has none: the file's own score
    (accuracy, or a detector's mAP@0.5), its agreement with Keras, and its largest error."""
    return tuple(
        next((row[key] for key in keys if row.get(key) is not None), None)
        for keys in (SCORE_KEYS, AGREEMENT_KEYS, ERROR_KEYS)
    )


def export_trained_run(run, task, model, bundle, config, formats=None, quantize=None, rnn_form=None, streaming=False):
    """Exports a trained model of a run into `run.export` as its task's export plan says.

    Args:
        run: the `RunDirectory`.
        task: the run's task (`keras_nn.training.create_task(config["task"])`).
        model, bundle, config: the trained model, its `DatasetBundle` and the resolved recipe.
        formats, quantize, rnn_form: override the recipe's `export` section.
        streaming: also write the single-step models.

    Returns:
        An `ExportReport`.
    """
    settings = ExportSettings.from_recipe(config["export"], formats, quantize, rnn_form, streaming)
    report = run_export(task.export_plan(model, bundle, config), run.export, settings)
    write_export_section(run, report)
    return report


def export_run(run_dir, formats=None, quantize=None, rnn_form=None, streaming=False):
    """Exports a finished run into `run_dir/export`, with the run's own data for calibration and parity.

    Args:
        run_dir: a run directory (holds `config.yaml` and `model.keras`).
        formats, quantize, rnn_form: override the recipe's `export` section.
        streaming: also write the single-step models.

    Returns:
        An `ExportReport`.
    """
    run, config = open_run(run_dir)
    model = load_model_file(run.model)
    task = create_task(config["task"])
    bundle = task.load_data(config)
    return export_trained_run(run, task, model, bundle, config, formats, quantize, rnn_form, streaming)


def write_export_section(run, report):
    """Puts the export's files, parity and latency in the `## Export` section of the run's `report.md`
    (replacing an earlier export's section); does nothing for a run without a report."""
    report_path = run.report
    if not report_path.is_file():
        return
    latency = {row["path"]: row for row in report.latency}
    rows = []
    for row in report.parity:
        _, agreement, error = parity_summary(row)
        timing = latency.get(row["path"])
        rows.append(
            (
                os.path.basename(os.path.normpath(row["path"])),
                row["runtime"],
                row["samples"],
                "-" if error is None else f"{error:.2e}",
                "-" if agreement is None else f"{agreement:.4f}",
                "-" if timing is None else f"{timing['median_ms']:.3f}",
            )
        )
    table = markdown_table(
        ["file", "runtime", "samples", "max abs error", "agreement with Keras", "median ms (batch 1)"], rows
    )
    text = report_path.read_text(encoding="utf-8")
    text = text.split(EXPORT_SECTION)[0].rstrip("\n") + "\n"
    folder = run.export.name
    notes = f" See `{folder}/{NOTES_FILE}`." if report.notes else ""
    text += f"{EXPORT_SECTION}\nFiles in `{folder}/`, each run in its runtime against Keras.{notes}\n\n{table}\n"
    report_path.write_text(text, encoding="utf-8")
