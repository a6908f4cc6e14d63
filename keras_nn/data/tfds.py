"""TensorFlow Datasets as a source (`tfds:NAME`, `tfds:NAME:CONFIG`, `tfds:NAME/CONFIG[:VERSION]`).

The builder's own train/validation/test splits are used where they exist; missing ones are carved out of
`train` with TFDS split slicing (`train[:90%]`, `train[90%:]`), which is deterministic and reads only the
requested records.
"""

from __future__ import annotations

import re

import tensorflow as tf

from keras_nn.data.pipeline import LoadOptions, assemble, image_preprocess, resolve_form
from keras_nn.errors import DataError, UnknownDatasetError

# Split names some builders use instead of "validation".
_VALIDATION_NAMES = ("validation", "valid", "val", "dev")
_VERSION_RE = re.compile(r"^\d+(\.(\d+|\*)){0,2}$")
_CATALOG = "https://www.tensorflow.org/datasets/catalog/overview"
LIST_HINT = f'list names with `python -c "import tensorflow_datasets as tfds; print(tfds.list_builders())"` or see {_CATALOG}'


def tfds_name(spec: str) -> str:
    """Turns what follows `tfds:` into the name TFDS expects.

    Args:
        spec: `NAME`, `NAME:CONFIG`, `NAME:CONFIG:VERSION`, `NAME:VERSION` or the TFDS spelling
            `NAME/CONFIG[:VERSION]`.

    Returns:
        The TFDS name, e.g. `"imdb_reviews/plain_text"` or `"mnist:3.*.*"`.

    Example:
        >>> tfds_name("imdb_reviews:plain_text")
        'imdb_reviews/plain_text'
    """
    spec = spec.strip()
    parts = spec.split(":")
    if "/" in parts[0] or len(parts) == 1 or _VERSION_RE.match(parts[1]):
        return spec
    name = f"{parts[0]}/{parts[1]}"
    return name + (":" + ":".join(parts[2:]) if len(parts) > 2 else "")


def _pct(value: float) -> str:
    # Plain decimal (never exponent notation), which the TFDS split grammar accepts.
    return f"{value * 100:.6f}".rstrip("0").rstrip(".") + "%"


def plan_splits(available: set[str], opts: LoadOptions) -> dict[str, str | None]:
    """Chooses the TFDS split spec of train, validation and test.

    Args:
        available: split names the builder has.
        opts: the options (fractions used for the carved splits).

    Returns:
        `{"train": spec, "validation": spec or None, "test": spec or None}`, e.g.
        `{"train": "train[:90%]", "validation": "train[90%:]", "test": "test"}`.

    Example:
        >>> plan_splits({"train", "test"}, LoadOptions(validation_fraction=0.1))["validation"]
        'train[90%:]'
    """
    validation_name = next((n for n in _VALIDATION_NAMES if n in available), None)
    test_name = "test" if "test" in available else None
    # Carve from the front of train: [kept train | validation | test], test at the very end, so the test
    # split does not move when validation_fraction changes.
    end = 1.0
    test = test_name
    if test is None and opts.test_fraction > 0:
        end = 1.0 - opts.test_fraction
        test = f"train[{_pct(end)}:]"
    validation = validation_name
    train_end = end
    if validation is None and opts.validation_fraction > 0:
        train_end = end * (1.0 - opts.validation_fraction)
        validation = f"train[{_pct(train_end)}:{_pct(end) if end < 1.0 else ''}]"
    train = "train" if train_end == 1.0 else f"train[:{_pct(train_end)}]"
    return {"train": train, "validation": validation, "test": test}


def _feature_kind(feature, tfds) -> tuple[str, tuple, object]:
    """Classifies the input feature: ('image'|'text'|'tabular'|'sequence', shape, numpy dtype)."""
    shape = tuple(feature.shape)
    dtype = tf.as_dtype(feature.dtype)
    if isinstance(feature, tfds.features.Image):
        return "image", shape, dtype
    if dtype == tf.string:
        return "text", shape, dtype
    kinds = {1: "tabular", 2: "sequence", 3: "image"}
    if len(shape) in kinds:
        return kinds[len(shape)], shape, dtype
    return "unsupported", shape, dtype


def load_tfds(
    spec: str, form: str, opts: LoadOptions, data_dir: str | None = None, source: str | None = None
):
    """Loads a TensorFlow Datasets builder as a `DatasetBundle`.

    Args:
        spec: what follows `tfds:` (see `tfds_name`).
        form: `"auto"` or a form the input feature supports: images -> `"image"` (and `"sequence"`, rows
            as timesteps, for one-channel images), strings -> `"text"`, 1-D tensors -> `"tabular"`.
        opts: the checked options.
        data_dir: TFDS data directory (None for TFDS's default, `~/tensorflow_datasets`).
        source: the source string to record.

    Returns:
        The `DatasetBundle`; images are float32 in [0, 1] when `opts.normalize`, strings pass through.

    Raises:
        UnknownDatasetError: TFDS has no data set (or config) of that name.
        DataError: the data set has no supervised `(input, label)` pair, no class label, no train split,
            or images of varying size without `image_size`.
        ConfigError: the form is not available.

    Example:
        >>> bundle = load_tfds("mnist", "auto", LoadOptions(batch_size=128))
        >>> bundle.input_shape, bundle.num_classes
        ((28, 28, 1), 10)
    """
    # TFDS is slow to import; only pay for it when a tfds: source is asked for.
    import tensorflow_datasets as tfds

    name = tfds_name(spec)
    source = source or f"tfds:{spec}"
    if not name:
        raise UnknownDatasetError(
            f"no TFDS name given in {source!r}; use tfds:NAME, e.g. tfds:mnist; {LIST_HINT}"
        )
    builder = open_builder(name, source, data_dir)

    # Check the features before downloading anything: a wrong form should fail in a second, not an hour.
    info = builder.info
    keys = info.supervised_keys
    if not (isinstance(keys, tuple) and len(keys) >= 2 and all(isinstance(k, str) for k in keys[:2])):
        raise DataError(
            f"{source} has no simple (input, label) supervised keys (got {keys!r}); "
            "use a classification data set such as tfds:mnist"
        )
    input_key, label_key = keys[0], keys[1]
    label = info.features[label_key]
    if not isinstance(label, tfds.features.ClassLabel):
        raise DataError(
            f"{source}: label feature {label_key!r} is {type(label).__name__}, not a class label; "
            "only classification data sets are supported"
        )
    kind, shape, dtype = _feature_kind(info.features[input_key], tfds)
    if kind == "unsupported":
        raise DataError(f"{source}: input feature {input_key!r} of shape {shape} is not supported")
    allowed = (kind,)
    if kind == "image" and shape[-1] == 1:
        allowed = ("image", "sequence")
    form = resolve_form(form, allowed, source)
    if kind == "image" and opts.image_size is None and None in shape[:2]:
        raise DataError(
            f"{source} images have no fixed size (shape {shape}); set data.image_size=[H,W] "
            "(e.g. --set data.image_size=[224,224]) to resize them with padding"
        )

    builder.download_and_prepare()
    available = set(builder.info.splits.keys())
    if not available:
        # No split metadata (e.g. tfds.testing.mock_data without metadata files): assume the common
        # train/test layout; TFDS accepts any split name in that case.
        available = {"train", "test"}
    if "train" not in available:
        raise DataError(
            f"{source} has no 'train' split (splits: {', '.join(sorted(available))}); pick another data set"
        )
    plan = plan_splits(available, opts)
    wanted = {split: s for split, s in plan.items() if s is not None}
    datasets, info = tfds.load(
        name,
        split=list(wanted.values()),
        as_supervised=True,
        with_info=True,
        data_dir=data_dir,
        shuffle_files=False,
    )

    if kind == "image":
        scale = float(dtype.max) if dtype.is_integer else 1.0
        preprocess = image_preprocess(
            normalize=opts.normalize,
            scale=scale,
            image_size=opts.image_size,
            squeeze_channels=form == "sequence",
        )
    else:

        def preprocess(x):
            return tf.cast(x, tf.float32) if kind in ("tabular", "sequence") else x

    def to_example(*example):
        # Some builders add a third supervised element (sample weights); keep (x, y).
        return preprocess(example[0]), tf.cast(example[1], tf.int32)

    examples = {split: None for split in plan}
    num_examples = {}
    for split, ds in zip(wanted, datasets, strict=True):
        examples[split] = ds.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
        n = int(ds.cardinality().numpy())
        if n < 0 and wanted[split] in info.splits:
            n = info.splits[wanted[split]].num_examples
        num_examples[split] = n

    if kind == "image":
        height, width = opts.image_size or shape[:2]
        input_shape = (height, width) if form == "sequence" else (height, width, shape[-1])
    else:
        input_shape = shape
    return assemble(
        examples,
        opts,
        num_classes=label.num_classes,
        input_shape=input_shape,
        class_names=label.names,
        form=form,
        source=source,
        num_examples=num_examples,
    )


def open_builder(name: str, source: str, data_dir=None):
    """The TFDS builder of `name` (`NAME` or `NAME/CONFIG`), its config checked first.

    Raises:
        UnknownDatasetError: TFDS has no such data set or config, naming `source` and how to list the names.
    """
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.registered import DatasetNotFoundError

    check_config(name, source, tfds, DatasetNotFoundError)
    try:
        return tfds.builder(name, data_dir=data_dir)
    except DatasetNotFoundError:
        raise UnknownDatasetError(f"unknown TFDS data set {name!r} in {source!r}; {LIST_HINT}") from None


def check_config(name: str, source: str, tfds, not_found_error) -> None:
    """Raises UnknownDatasetError for `NAME/CONFIG` when the builder class exists but has no such config."""
    base, _, rest = name.partition("/")
    if not rest:
        return
    config = rest.split(":")[0]
    try:
        builder_cls = tfds.builder_cls(base.split(":")[0])
    except not_found_error:
        # Maybe a data set that exists only as files in data_dir; tfds.builder decides below.
        return
    configs = [c.name for c in getattr(builder_cls, "BUILDER_CONFIGS", None) or []]
    if config not in configs:
        choices = (
            ", ".join(f"tfds:{base}/{c}" for c in configs) if configs else f"tfds:{base} (it has no configs)"
        )
        raise UnknownDatasetError(
            f"TFDS data set {base!r} has no config {config!r} in {source!r}; use {choices}"
        )
