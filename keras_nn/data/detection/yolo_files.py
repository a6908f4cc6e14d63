"""`dir:PATH`: a folder of images with YOLO-format `.txt` labels.

Two layouts are read:
- Ultralytics: `images/` and `labels/` side by side, optionally with split sub-folders
  (`images/train/a.jpg` + `labels/train/a.txt`; `train`, `val`/`valid`/`validation`, `test`).
- Side by side: `a.jpg` next to `a.txt` (optionally in split sub-folders too).

Each label line is `class cx cy w h`, normalized to the image (an Ultralytics polygon line `class x1 y1 x2 y2
...` is read as its bounding box). An image without a label file, or with an empty one, is background.
Class names come from `classes.txt` (one per line) or `data.yaml` (`names:` a list or an `{id: name}` map);
without either they are the ids, `"0"`, `"1"`, ... up to the largest id used.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import yaml

from keras_nn.data.detection.records import BadLabels, LabeledImage, check_box
from keras_nn.data.files import IMAGE_EXTENSIONS, visible_files
from keras_nn.errors import DataError, MissingPathError

#: Folder names read as splits.
SPLIT_FOLDERS = {"train": "train", "val": "validation", "valid": "validation", "validation": "validation", "test": "test"}
NAME_FILES = ("classes.txt", "data.yaml", "dataset.yaml", "data.yml")


def read_yolo_folder(path: str, problems: BadLabels, source: str) -> tuple[list[LabeledImage], list[str]]:
    """Reads every image of a YOLO folder and its checked boxes.

    Args:
        path: the folder.
        problems: where bad lines and labels go (raises at the first in `"error"` mode).
        source: the source string, for messages.

    Returns:
        `(records, class_names)`; records in sorted path order.

    Raises:
        MissingPathError: the folder does not exist.
        DataError: no images, an unreadable names file, or (in `"error"` mode) the first bad label.
    """
    root = Path(os.path.expanduser(path.strip()))
    if not path.strip() or not root.is_dir():
        raise MissingPathError(
            f"{source}: {str(root)!r} is not a folder; use dir:PATH with PATH a folder of images and YOLO "
            f"'.txt' labels (relative paths start from {os.getcwd()})"
        )
    names, names_file = read_class_names(root)
    images = [f for f in visible_files(root) if f.suffix.lower() in IMAGE_EXTENSIONS]
    if not images:
        raise DataError(
            f"{source}: no images ({', '.join(IMAGE_EXTENSIONS)}) under {str(root)!r}; put them in "
            f"{root / 'images'} with labels in {root / 'labels'}, or side by side with their .txt files"
        )
    parsed = []
    for image in images:
        rel = image.relative_to(root)
        label = _label_path(root, rel)
        rows = _read_label_file(label, names, names_file, problems) if label is not None else []
        if rows is None:  # the whole label file was unreadable and is skipped with its image
            continue
        parsed.append((image, rows, _split_of(rel)))
    if names is None:
        # Without a names file the ids name themselves; ids are checked non-negative already.
        top = max((int(r[0]) for _, rows, _ in parsed for r in rows), default=-1)
        names = [str(i) for i in range(top + 1)]
    records = [
        LabeledImage(path=image, boxes=np.asarray(rows, np.float32).reshape(-1, 5), split=split, name=str(image))
        for image, rows, split in parsed
    ]
    return records, names


def read_class_names(root: Path) -> tuple[list[str] | None, str | None]:
    """Class names from `classes.txt` or `data.yaml` in `root` (or `root/labels`); `(None, None)` if none."""
    for folder in (root, root / "labels"):
        for name in NAME_FILES:
            file = folder / name
            if not file.is_file():
                continue
            if file.suffix == ".txt":
                text = _read_text(file)
                return [line.strip() for line in text.splitlines() if line.strip()], str(file)
            try:
                data = yaml.safe_load(_read_text(file))
            except yaml.YAMLError as err:
                raise DataError(f"{file}: not valid YAML ({err.__class__.__name__}); fix the file") from None
            names = data.get("names") if isinstance(data, dict) else None
            if isinstance(names, dict):
                try:
                    ids = sorted(int(k) for k in names)
                except (TypeError, ValueError):
                    raise DataError(f"{file}: 'names' keys must be class ids 0, 1, ...; got {list(names)}") from None
                if ids != list(range(len(ids))):
                    raise DataError(f"{file}: 'names' ids must be 0..{len(ids) - 1} without gaps; got {ids}")
                by_id = {int(k): v for k, v in names.items()}
                return [str(by_id[i]) for i in ids], str(file)
            if isinstance(names, list) and names:
                return [str(n) for n in names], str(file)
            raise DataError(
                f"{file}: no 'names' list or map of class names; add e.g. 'names: [cat, dog]' or "
                "'names: {0: cat, 1: dog}'"
            )
    return None, None


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{file}: cannot be read as UTF-8 text ({err.__class__.__name__}); fix the file") from None


def _label_path(root: Path, rel: Path) -> Path | None:
    """The label file of an image: `labels/` in place of the last `images/` folder, else side by side."""
    parts = list(rel.parts)
    candidates = []
    if "images" in parts[:-1]:
        i = len(parts) - 2 - parts[:-1][::-1].index("images")
        candidates.append(root.joinpath(*parts[:i], "labels", *parts[i + 1 :]).with_suffix(".txt"))
    candidates.append((root / rel).with_suffix(".txt"))
    return next((c for c in candidates if c.is_file()), None)


def _split_of(rel: Path) -> str | None:
    folders = [p.lower() for p in rel.parts[:-1] if p.lower() != "images"]
    return next((SPLIT_FOLDERS[p] for p in folders if p in SPLIT_FOLDERS), None)


def _read_label_file(label: Path, names, names_file, problems: BadLabels) -> list | None:
    try:
        text = label.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        problems.report(str(label), f"cannot read the label file ({err.__class__.__name__}); its image is left out")
        return None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{label}:{number}"
        row, problem = parse_yolo_line(line, names, names_file)
        if problem:
            problems.report(where, problem)
        else:
            rows.append(row)
    return rows


def parse_yolo_line(line: str, names: list[str] | None, names_file: str | None) -> tuple[list | None, str | None]:
    """Parses one YOLO label line into `[class_id, x1, y1, x2, y2]`; returns `(row, None)` or `(None, problem)`.

    Args:
        line: `class cx cy w h` (normalized) or an Ultralytics polygon `class x1 y1 x2 y2 x3 y3 ...`.
        names: the class names (None: any non-negative id).
        names_file: where the names came from, for the message.

    Example:
        >>> parse_yolo_line("1 0.5 0.5 0.2 0.4", ["a", "b"], "classes.txt")
        ([1, 0.4, 0.3, 0.6, 0.7], None)
    """
    fields = line.split()
    expected = "expected 'class cx cy w h' with cx, cy, w, h in [0, 1]"
    try:
        values = [float(v) for v in fields]
    except ValueError:
        return None, f"malformed line {line.strip()!r} ({expected})"
    polygon = len(values) >= 7 and len(values) % 2 == 1
    if len(values) != 5 and not polygon:
        return None, f"malformed line {line.strip()!r}: {len(values)} values ({expected})"
    cls = values[0]
    if cls != int(cls) or cls < 0:
        return None, f"class id {fields[0]!r} is not a whole number >= 0"
    cls = int(cls)
    if names is not None and cls >= len(names):
        return None, (
            f"class id {cls} is beyond the {len(names)} classes in {names_file} (ids 0..{len(names) - 1})"
        )
    if polygon:
        xs, ys = values[1::2], values[2::2]
        x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
    else:
        cx, cy, w, h = values[1:]
        x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    problem, box = check_box(x1, y1, x2, y2)
    if problem:
        if max(values[1:]) > 1.5:
            problem += "; YOLO labels are fractions of the image size, not pixels"
        return None, problem
    return [cls, *box], None
