"""`ExportReport`: what every export returns, whichever exporter wrote the files."""

import dataclasses
from pathlib import Path


@dataclasses.dataclass
class ExportReport:
    """What an export wrote: the files, a parity row per checked file and a latency row per timed file.

    Args:
        export_dir: the export directory.
        files: the paths written (files and SavedModel directories), in export order.
        parity: one dict per checked file (`path`, `format`, `runtime`, `samples`, `max_abs_error`, ...; each
            exporter's docstring lists its keys), as in `parity.json`.
        latency: one dict per timed file (`path`, `file`, `format`, `size_bytes`, `median_ms`, `p90_ms`, ...), as
            in `latency.json`.
        forms: file name -> how its recurrent layers were exported (`rnn_form` and, per layer, the form it took);
            parity rows carry the same keys.
        kept: the earlier export's files of formats not asked for this time, left in place.
        notes: what `NOTES.md` says about the files (empty when the files need no note).
    """

    export_dir: Path
    files: list
    parity: list
    latency: list
    forms: dict = dataclasses.field(default_factory=dict)
    notes: str = ""
    kept: list = dataclasses.field(default_factory=list)

    def rows(self):
        """One dict per file joining parity and latency, in export order (for tables)."""
        latency = {row["path"]: row for row in self.latency}
        rows = []
        for parity in self.parity:
            timing = latency.get(parity["path"], {})
            rows.append({**parity, **{k: timing.get(k) for k in ("median_ms", "p90_ms", "size_bytes")}})
        return rows
