"""Local files as a source (`dir:PATH`): class folders of images or text, or one delimited file.

- A folder whose sub-folders are classes holding images (png, jpg, jpeg, bmp, gif) -> form `"image"`
  (or `"sequence"`, rows as timesteps, for grayscale images).
- A folder whose sub-folders hold `.txt` files -> form `"text"` (each file's content is one example).
- A `.csv` / `.tsv` file with a header row and a label column -> form `"tabular"` `(F,)`, or `"sequence"`
  `(timesteps, F / timesteps)`; a single non-numeric feature column -> form `"text"`.
- A `.tsv` / `.txt` file without a header of `label<TAB>text` lines -> form `"text"`.

Class names are the sorted sub-folder names, or the sorted unique labels (numerically when every label is
an integer, so `10` comes after `9`).
"""

from __future__ import annotations

import csv
import logging
import os
import re
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from keras_nn.data.pipeline import (
    LoadOptions,
    assemble,
    image_preprocess,
    is_int,
    resolve_form,
    split_examples,
)
from keras_nn.errors import ConfigError, DataError, MissingPathError

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
TEXT_EXTENSIONS = (".txt",)
TABLE_DELIMITERS = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
# PIL modes of one-channel images; anything else (RGB, RGBA, P, CMYK, ...) is served as RGB.
GRAYSCALE_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
# TensorFlow's BMP and GIF decoders only return RGB, so grayscale ones are decoded as RGB and converted.
_RGB_ONLY_EXTENSIONS = (".bmp", ".gif")
_INT_RE = re.compile(r"^[+-]?\d+$")


def load_dir(
    path: str,
    form: str,
    opts: LoadOptions,
    *,
    label_column: str = "label",
    timesteps: int | None = None,
    source: str | None = None,
):
    """Loads `dir:PATH` (a class-folder tree or a delimited file) as a `DatasetBundle`.

    Args:
        path: a folder of class sub-folders, or a `.csv`, `.tsv` or `.txt` file.
        form: `"auto"` or a form the files support (see the module docstring).
        opts: the checked options.
        label_column: name of the label column in a delimited file with a header.
        timesteps: for numeric delimited files, reshape each row's F features into
            `(timesteps, F / timesteps)` (form `"sequence"`).
        source: the source string to record (defaults to `dir:PATH`).

    Returns:
        The `DatasetBundle`, split (stratified, seeded) into train/validation/test.

    Raises:
        MissingPathError: `path` does not exist.
        DataError: no classes or files, unreadable or mixed-size images, malformed rows.
        ConfigError: the form or `timesteps` does not fit the data.

    Example:
        >>> bundle = load_dir("photos", "auto", LoadOptions(image_size=(64, 64)))
        >>> bundle.class_names
        ['cat', 'dog']
    """
    source = source or f"dir:{path}"
    root = Path(os.path.expanduser(path))
    if not str(path).strip():
        raise MissingPathError(f"no path given in {source!r}; use dir:PATH, e.g. dir:./photos")
    if not root.exists():
        raise MissingPathError(
            f"{source}: path {str(root)!r} does not exist; check the spelling "
            f"(relative paths start from {os.getcwd()})"
        )
    if timesteps is not None and (not is_int(timesteps) or timesteps < 1):
        raise ConfigError(
            f"data.timesteps={timesteps!r} must be an integer >= 1 or null; e.g. data.timesteps=8"
        )
    if root.is_file():
        return _load_table(root, form, opts, label_column=label_column, timesteps=timesteps, source=source)
    return _load_folder(root, form, opts, source=source)


# --------------------------------------------------------------------------------------------- folders


def visible_files(folder: Path) -> list[Path]:
    """Every file under `folder`, in sorted order, hidden files and folders left out."""
    # Hidden files and folders (.DS_Store, .ipynb_checkpoints) are never data. Symlinked sub-folders are
    # not followed (a link loop would never end); a class folder itself may be a link.
    files = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files.extend(Path(dirpath) / f for f in sorted(filenames) if not f.startswith("."))
    return files


def _load_folder(root: Path, form: str, opts: LoadOptions, *, source: str):
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(
            f"{source}: no class sub-folders in {str(root)!r}; put each class's files in its own "
            f"sub-folder, e.g. {root / 'cat' / '1.png'} and {root / 'dog' / '2.png'}"
        )
    class_names = [d.name for d in class_dirs]
    images, texts, skipped = [], [], []
    for label, folder in enumerate(class_dirs):
        for file in visible_files(folder):
            suffix = file.suffix.lower()
            if suffix in IMAGE_EXTENSIONS:
                images.append((file, label))
            elif suffix in TEXT_EXTENSIONS:
                texts.append((file, label))
            else:
                skipped.append(file.relative_to(root))
    if not images and not texts:
        raise DataError(
            f"{source}: the class folders of {str(root)!r} ({', '.join(class_names[:5])}) hold no image "
            f"({', '.join(IMAGE_EXTENSIONS)}) or .txt files; add files or point dir: at the right folder"
        )
    allowed = (("image", "sequence") if images else ()) + (("text",) if texts else ())
    if form == "auto" and images and texts:
        raise DataError(
            f"{source}: {str(root)!r} holds both images ({len(images)}) and .txt files ({len(texts)}); "
            "set data.form=image or data.form=text"
        )
    form = resolve_form(form, allowed, source)
    if form == "text":
        skipped += [file.relative_to(root) for file, _ in images]
        bundle = _text_folder(texts, class_names, form, opts, source=source)
        found, kind = texts, "texts"
    else:
        skipped += [file.relative_to(root) for file, _ in texts]
        listed = set(images)
        bundle = _image_folder(root, images, class_names, form, opts, source=source)  # may leave out unreadable ones
        skipped += [file.relative_to(root) for file, _ in listed - set(images)]
        found, kind = images, "images"
    logger.info(folder_summary(source, len(found), kind, len(class_names), skipped))
    return bundle


def folder_summary(source, count, kind, classes, skipped, shown=3):
    """`dir:PATH: N images in K classes, M files skipped: a.csv, b.doc, ...` (the files it is not reading)."""
    line = f"{source}: {count} {kind} in {classes} classes, {len(skipped)} files skipped"
    if skipped:
        names = ", ".join(str(name) for name in sorted(skipped)[:shown])
        line += f": {names}{', ...' if len(skipped) > shown else ''}"
    return line


def _scan_images(root: Path, images: list, image_size, source: str, skip_unreadable=False) -> tuple[int, int, bool]:
    """Decodes every image once, so that a corrupted file stops the run before anything is written, by name.

    Returns:
        `(height, width, grayscale)` of the first image; grayscale is True when every image is.
    """
    first = None
    grayscale = True
    for file, label in list(images):
        try:
            with Image.open(file) as image:
                width, height = image.size
                mode = image.mode
                image.load()  # the header can be whole while the pixel data is not (TensorFlow would fail mid-epoch)
        except (OSError, SyntaxError, ValueError) as err:  # UnidentifiedImageError is an OSError; bad PNG chunks raise SyntaxError
            if skip_unreadable:
                logger.warning("%s: skipping %s, which cannot be decoded (%s)", source, file.relative_to(root), err)
                images.remove((file, label))
                continue
            raise DataError(
                f"{source}: cannot read image {str(file)!r} ({err}); remove or replace it, or set "
                "data.skip_unreadable=true to leave such files out"
            ) from None
        grayscale = grayscale and mode in GRAYSCALE_MODES
        if first is None:
            first = (file, height, width)
        elif image_size is None and (height, width) != first[1:]:
            name0, h0, w0 = first[0].relative_to(root), first[1], first[2]
            raise DataError(
                f"{source}: images differ in size: {name0} is {h0}x{w0} and {file.relative_to(root)} is "
                f"{height}x{width} (height x width); set data.image_size=[H,W] to resize them with "
                f"padding, e.g. --set data.image_size=[{h0},{w0}]"
            )
    return first[1], first[2], grayscale


def _image_folder(root: Path, images: list, class_names: list[str], form: str, opts: LoadOptions, *, source):
    height, width, grayscale = _scan_images(root, images, opts.image_size, source, opts.skip_unreadable)
    if not images:
        raise DataError(f"{source}: none of the images in {str(root)!r} can be decoded; check the files")
    channels = 1 if grayscale else 3
    if form == "sequence" and channels != 1:
        raise ConfigError(
            f"form 'sequence' needs grayscale images, but {source} has colour images; set data.form=image"
        )
    paths = np.array([str(file) for file, _ in images])
    rgb_only = np.array([file.suffix.lower() in _RGB_ONLY_EXTENSIONS for file, _ in images])
    labels = np.array([label for _, label in images], dtype=np.int32)
    preprocess = image_preprocess(
        normalize=opts.normalize,
        scale=255.0,
        image_size=opts.image_size,
        squeeze_channels=form == "sequence",
    )
    static_shape = (height, width, channels) if opts.image_size is None else (None, None, channels)

    def decode(path, rgb_decoder_only, label):
        data = tf.io.read_file(path)
        if channels == 1:
            image = tf.cond(
                rgb_decoder_only,
                lambda: tf.image.rgb_to_grayscale(
                    tf.io.decode_image(data, channels=3, expand_animations=False)
                ),
                lambda: tf.io.decode_image(data, channels=1, expand_animations=False),
            )
        else:
            # Alpha is dropped: models expect RGB, and palette/grayscale files are expanded to it.
            image = tf.io.decode_image(data, channels=3, expand_animations=False)
        image = tf.ensure_shape(image, static_shape)
        return preprocess(image), label

    examples, counts = split_examples(
        labels,
        opts,
        source,
        lambda idx: tf.data.Dataset.from_tensor_slices((paths[idx], rgb_only[idx], labels[idx])).map(
            decode, num_parallel_calls=tf.data.AUTOTUNE
        ),
    )
    out_h, out_w = opts.image_size or (height, width)
    input_shape = (out_h, out_w) if form == "sequence" else (out_h, out_w, channels)
    return assemble(
        examples,
        opts,
        num_classes=len(class_names),
        input_shape=input_shape,
        class_names=class_names,
        form=form,
        source=source,
        num_examples=counts,
    )


def _text_folder(texts: list, class_names: list[str], form: str, opts: LoadOptions, *, source: str):
    paths = np.array([str(file) for file, _ in texts])
    labels = np.array([label for _, label in texts], dtype=np.int32)

    def make(idx):
        return tf.data.Dataset.from_tensor_slices((paths[idx], labels[idx])).map(
            lambda path, label: (tf.io.read_file(path), label), num_parallel_calls=tf.data.AUTOTUNE
        )

    return _text_dataset(labels, class_names, make, form, opts, source)


def _text_dataset(labels, class_names, make, form, opts, source):
    """Splits text examples by label, `make(indices)` building each split's (string, label) dataset."""
    examples, counts = split_examples(labels, opts, source, make)
    return assemble(
        examples,
        opts,
        num_classes=len(class_names),
        input_shape=(),
        class_names=class_names,
        form=form,
        source=source,
        num_examples=counts,
    )


# ----------------------------------------------------------------------------------------------- tables


def _class_ids(raw_labels: list[str]) -> tuple[np.ndarray, list[str]]:
    """Maps label strings to ids in sorted order (numeric order when every label is an integer)."""
    unique = set(raw_labels)
    if all(_INT_RE.match(v) for v in unique):
        names = sorted(unique, key=lambda v: (int(v), v))
    else:
        names = sorted(unique)
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[v] for v in raw_labels], dtype=np.int32), names


def read_rows(path: Path, delimiter: str) -> list[list[str]]:
    """The non-blank rows of a delimited text file (`,` quoted as CSV, tab unquoted), UTF-8 with or without a
    byte-order mark. Raises `UnicodeDecodeError` for text that is not UTF-8."""
    # utf-8-sig drops the byte-order mark spreadsheet exports put in front of the first header name.
    with open(path, newline="", encoding="utf-8-sig") as handle:
        # Tab-separated files are not quoted; QUOTE_NONE keeps quote characters inside text intact.
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        return [
            row
            for row in csv.reader(handle, delimiter=delimiter, quoting=quoting)
            if any(c.strip() for c in row)
        ]


def _load_table(path: Path, form: str, opts: LoadOptions, *, label_column, timesteps, source):
    suffix = path.suffix.lower()
    if suffix not in TABLE_DELIMITERS:
        raise DataError(
            f"{source}: unsupported file type {suffix or path.name!r}; use a folder of class sub-folders "
            "or a .csv, .tsv or .txt file"
        )
    try:
        rows = read_rows(path, TABLE_DELIMITERS[suffix])
    except UnicodeDecodeError as err:
        raise DataError(f"{source}: {str(path)!r} is not UTF-8 text ({err}); save it as UTF-8") from None
    if not rows:
        raise DataError(
            f"{source}: {str(path)!r} is empty; it needs a header row with a {label_column!r} column and "
            "one row per example"
        )
    header = [name.strip() for name in rows[0]]
    if label_column in header:
        return _header_table(path, header, rows[1:], form, opts, label_column, timesteps, source)
    if suffix in (".tsv", ".txt") and all(len(row) >= 2 for row in rows):
        # label<TAB>text lines; the text itself may contain tabs.
        raw_labels = [row[0].strip() for row in rows]
        strings = ["\t".join(row[1:]) for row in rows]
        return _text_table(raw_labels, strings, form, opts, source, first_line=1)
    raise DataError(
        f"{source}: no column {label_column!r} in the header of {str(path)!r} (columns: "
        f"{', '.join(header[:10])}); set data.label_column to the label's column name"
    )


def _header_table(path, header, rows, form, opts, label_column, timesteps, source):
    if not rows:
        raise DataError(f"{source}: {str(path)!r} has a header but no data rows; add one row per example")
    label_index = header.index(label_column)
    feature_names = [name for i, name in enumerate(header) if i != label_index]
    if not feature_names:
        raise DataError(f"{source}: {str(path)!r} has only the {label_column!r} column; add feature columns")
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise DataError(
                f"{source}: line {line} of {str(path)!r} has {len(row)} fields but the header has "
                f"{len(header)}; fix that line"
            )
    raw_labels = [row[label_index].strip() for row in rows]
    cells = [[c for i, c in enumerate(row) if i != label_index] for row in rows]
    bad = _first_non_numeric(cells)
    if bad is not None and len(feature_names) == 1:
        return _text_table(raw_labels, [row[0] for row in cells], form, opts, source, first_line=2)
    if bad is not None:
        line, column, value = bad
        raise DataError(
            f"{source}: non-numeric value {value!r} in column {feature_names[column]!r} (line {line + 2}) "
            f"of {str(path)!r}; tabular features must be numbers (fix the cell or drop the column)"
        )
    x = np.array(cells, dtype=np.float32)
    num_features = x.shape[1]
    allowed = ("sequence", "tabular") if timesteps is not None else ("tabular", "sequence")
    form = resolve_form(form, allowed, source)
    if form == "tabular" and timesteps is not None:
        raise ConfigError(
            f"data.timesteps={timesteps} only applies to form 'sequence' ({source} was asked for form "
            "'tabular'); set data.form=sequence or data.timesteps=null"
        )
    if form == "sequence":
        steps = timesteps or num_features  # one feature per timestep: a univariate series per row
        if num_features % steps:
            divisors = [d for d in range(1, num_features + 1) if num_features % d == 0]
            raise ConfigError(
                f"data.timesteps={steps} does not divide the {num_features} feature columns of {source}; "
                f"use one of: {', '.join(map(str, divisors))}"
            )
        x = x.reshape(len(x), steps, num_features // steps)
    labels, class_names = _class_ids(_checked_labels(raw_labels, source, first_line=2))
    examples, counts = split_examples(
        labels, opts, source, lambda idx: tf.data.Dataset.from_tensor_slices((x[idx], labels[idx]))
    )
    return assemble(
        examples,
        opts,
        num_classes=len(class_names),
        input_shape=x.shape[1:],
        class_names=class_names,
        form=form,
        source=source,
        num_examples=counts,
    )


def _first_non_numeric(cells: list[list[str]]):
    """Returns (row, column, value) of the first cell that is not a number, or None."""
    try:
        np.array(cells, dtype=np.float32)
        return None
    except ValueError:
        pass
    for r, row in enumerate(cells):
        for c, value in enumerate(row):
            try:
                float(value)
            except ValueError:
                return r, c, value
    return None


def _checked_labels(raw_labels: list[str], source: str, first_line: int) -> list[str]:
    for line, value in enumerate(raw_labels, start=first_line):
        if not value:
            raise DataError(f"{source}: line {line} has an empty label; give every row a label")
    return raw_labels


def _text_table(raw_labels, strings, form, opts, source, first_line):
    form = resolve_form(form, ("text",), source)
    labels, class_names = _class_ids(_checked_labels(raw_labels, source, first_line))
    strings = np.array(strings, dtype=object)
    return _text_dataset(
        labels,
        class_names,
        lambda idx: tf.data.Dataset.from_tensor_slices((strings[idx].tolist(), labels[idx])),
        form,
        opts,
        source,
    )
