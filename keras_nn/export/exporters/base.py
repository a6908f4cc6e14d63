"""`Exporter`: the steps of an export that differ with what is exported. The pipeline
(`keras_nn.export.pipeline.run_export`) runs them in a staging folder and owns everything else: the parity and
latency files, `NOTES.md`, and moving the finished export into place."""

import dataclasses
from pathlib import Path


@dataclasses.dataclass
class ExportedFile:
    """A file (or SavedModel directory) an exporter wrote, and how its recurrent layers were exported.

    `forms` (`{"rnn_form": ..., "rnn_layers": [...]}`) is None where the question does not arise.
    """

    path: Path
    forms: dict | None = None


class Exporter:
    """The steps a kind of export plan defines. Subclasses set `plan_type` and override the steps."""

    #: The `keras_nn.config.export_plan` class this exporter takes.
    plan_type = None

    def check(self, plan, settings):
        """Raises a keras-nn error, before anything is written, when the plan cannot be exported as asked."""

    def write(self, plan, folder, settings):
        """Writes the files into `folder`; returns `ExportedFile`s in export order."""
        raise NotImplementedError

    def parity(self, plan, files):
        """One parity row (a dict with at least `path`, `format`, `runtime`, `samples`) per checked file."""
        raise NotImplementedError

    def timing(self, plan, files):
        """`(paths, inputs)`: the files to time at batch 1 and the inputs whose first example is timed; empty
        paths to time nothing."""
        return [], None

    def notes(self, plan, settings):
        """What `NOTES.md` should say about the files (empty: no NOTES.md)."""
        return ""
