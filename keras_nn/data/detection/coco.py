"""`coco:PATH.json`: a COCO-format annotation file (`images`, `annotations`, `categories`).

Boxes are COCO's `bbox: [x, y, width, height]` in pixels of the image's `width` x `height` (read from the
file when the JSON leaves them out). Categories become class ids 0, 1, ... in the order of their COCO ids, so
the 80 COCO categories (ids 1..90 with gaps) become ids 0..79. Crowd annotations (`iscrowd: 1`) are skipped,
as COCO's own evaluation ignores them. Image files are looked up relative to the JSON's folder, then in its
`images/` sub-folder. An image without annotations is background.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from keras_nn.data.detection.records import BadLabels, LabeledImage, check_box
from keras_nn.errors import DataError, MissingPathError


def read_coco_json(path: str, problems: BadLabels, source: str) -> tuple[list[LabeledImage], list[str]]:
    """Reads a COCO annotation file into checked records.

    Args:
        path: the JSON file.
        problems: where bad annotations and missing images go (raises at the first in `"error"` mode).
        source: the source string, for messages.

    Returns:
        `(records, class_names)`; records in the JSON's image order.

    Raises:
        MissingPathError: the JSON file does not exist.
        DataError: the file is not COCO JSON, or (in `"error"` mode) the first bad annotation or missing image.
    """
    file = Path(os.path.expanduser(path.strip()))
    if not path.strip() or not file.is_file():
        raise MissingPathError(
            f"{source}: {str(file)!r} is not a file; use coco:PATH.json with PATH a COCO annotation file "
            f"(relative paths start from {os.getcwd()})"
        )
    try:
        data = json.loads(file.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{file}: not a readable JSON file ({err.__class__.__name__}: {err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DataError(f"{file}: no 'images' list; a COCO file has 'images', 'annotations' and 'categories'")
    categories = data.get("categories")
    if not isinstance(categories, list) or not categories:
        raise DataError(f"{file}: no 'categories' list; add e.g. [{{'id': 1, 'name': 'cat'}}]")
    try:
        categories = sorted(categories, key=lambda c: int(c["id"]))
        class_of = {int(c["id"]): i for i, c in enumerate(categories)}
        names = [str(c.get("name", c["id"])) for c in categories]
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{file}: every category needs an integer 'id' (and a 'name')") from None

    images, order = {}, []
    for entry in data["images"]:
        if not isinstance(entry, dict) or "id" not in entry or "file_name" not in entry:
            raise DataError(f"{file}: an image entry without 'id' and 'file_name': {str(entry)[:80]}")
        images[entry["id"]] = entry
        order.append(entry["id"])
    rows = {image_id: [] for image_id in order}
    for ann in data.get("annotations") or []:
        where = f"{file}: annotation {ann.get('id', '?') if isinstance(ann, dict) else '?'}"
        row, problem = _annotation_row(ann, images, class_of, file)
        if problem:
            problems.report(where, problem)
        elif row is not None:
            rows[ann["image_id"]].append(row)

    records = []
    for image_id in order:
        entry = images[image_id]
        image_path = _resolve(file.parent, str(entry["file_name"]))
        if image_path is None:
            problems.report(
                f"{file}: image {image_id}",
                f"references missing image {entry['file_name']!r} (looked in {file.parent} and "
                f"{file.parent / 'images'})",
            )
            continue
        records.append(
            LabeledImage(
                path=image_path,
                boxes=np.asarray(rows[image_id], np.float32).reshape(-1, 5),
                name=f"{file}: image {image_id} ({image_path})",
            )
        )
    return records, names


def _resolve(folder: Path, file_name: str) -> Path | None:
    for candidate in (folder / file_name, folder / "images" / file_name):
        if candidate.is_file():
            return candidate
    return None


def _annotation_row(ann, images, class_of, file: Path):
    """`([class, x1, y1, x2, y2], None)`, `(None, None)` for a crowd annotation, or `(None, problem)`."""
    if not isinstance(ann, dict):
        return None, "not an object"
    if ann.get("iscrowd", 0):
        return None, None
    image_id = ann.get("image_id")
    if image_id not in images:
        return None, f"image_id {image_id!r} is not in 'images'"
    category = ann.get("category_id")
    if category not in class_of:
        return None, f"category_id {category!r} is not in 'categories' (ids {sorted(class_of)})"
    bbox = ann.get("bbox")
    try:
        x, y, w, h = (float(v) for v in bbox)
    except (TypeError, ValueError):
        return None, f"malformed bbox {bbox!r} (expected [x, y, width, height] in pixels)"
    width, height = _image_size(images[image_id], file.parent)
    if width is None:
        return None, f"image {image_id} has no width/height and its file cannot be read"
    problem, box = check_box(x / width, y / height, (x + w) / width, (y + h) / height)
    if problem:
        return None, f"{problem}: bbox {bbox} in a {width:g}x{height:g} image"
    return [class_of[category], *box], None


def _image_size(entry: dict, folder: Path):
    if entry.get("width") and entry.get("height"):
        return float(entry["width"]), float(entry["height"])
    if "_size" not in entry:
        path = _resolve(folder, str(entry["file_name"]))
        try:
            with Image.open(path) as image:
                entry["_size"] = tuple(float(v) for v in image.size)
        except Exception:  # missing or unreadable: reported when the image is read
            entry["_size"] = (None, None)
    return entry["_size"]
