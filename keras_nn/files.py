"""Writing files so that a crash never leaves a half-written one: write beside, then rename into place."""

import os
import tempfile
from pathlib import Path


def umask():
    """The process's umask, read without changing it where Linux allows (`/proc/self/status`)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere the only way to read it is to set it, and put it back at once
    os.umask(mask)
    return mask


def give_default_mode(path):
    """Gives `path` the permissions an ordinary `open`/`mkdir` would (0o666 or 0o777 less the umask).

    `tempfile` makes owner-only files and folders on purpose; an export or run written through one must not
    stay unreadable to a container's other user or a shared server's group.
    """
    path = Path(path)
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask())
    return path


def atomic_write_bytes(path, data):
    """Writes `data` to `path` through a temporary file beside it and a rename, with the umask's permissions."""
    path = Path(path)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp", delete=False) as staged:
        staged.write(data)
    give_default_mode(staged.name)
    os.replace(staged.name, path)
    return path


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
