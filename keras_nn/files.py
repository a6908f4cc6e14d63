"""Writing files so that a crash never leaves a half-written one: write beside, then rename into place."""

import os
from pathlib import Path


def atomic_write_text(path, text, encoding="utf-8"):
    """Writes `text` to `path` through a temporary file beside it and a rename; returns the path."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding=encoding)
    os.replace(temporary, path)
    return path


def save_model(model, path):
    """Saves a `.keras` file by writing a temporary file and renaming it, so no half-written model remains."""
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.tmp.keras")
    model.save(temporary)
    os.replace(temporary, path)
    return path


def save_figure(figure, path, dpi=110):
    """Saves a matplotlib figure as a PNG through a temporary file beside `path` and a rename; returns the path."""
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.tmp.png")
    figure.savefig(temporary, format="png", dpi=dpi)
    os.replace(temporary, path)
    return path
