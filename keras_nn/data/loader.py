"""`load_dataset`: one entry point for every data source, chosen by the source string's scheme."""

from __future__ import annotations

from keras_nn.config.vocabulary import DATA_SCHEMES
from keras_nn.data.bundle import DatasetBundle
from keras_nn.data.detection.loader import DETECTION_SOURCES
from keras_nn.data.embedded import EMBEDDED, load_embedded
from keras_nn.data.pipeline import FORMS, check_options
from keras_nn.errors import ConfigError, UnknownDatasetError

#: The schemes `load_dataset` reads itself (`generated:` sources belong to the tasks that make them, `coco:` to
#: the detection loader).
SCHEMES = tuple(scheme for scheme in DATA_SCHEMES if scheme not in ("generated", "coco"))
_SCHEME_HELP = "use embedded:NAME (e.g. embedded:digits), tfds:NAME (e.g. tfds:mnist) or dir:PATH"


def load_dataset(
    source: str,
    *,
    form: str = "auto",
    batch_size: int = 32,
    image_size: tuple[int, int] | list | None = None,
    data_dir: str | None = None,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    cache: bool = True,
    shuffle_buffer: int = 10000,
    normalize: bool = True,
    label_column: str = "label",
    timesteps: int | None = None,
    skip_unreadable: bool = False,
) -> DatasetBundle:
    """Loads a data set as batched tf.data pipelines.

    Args:
        source: `"embedded:NAME"` (shipped with the packages, e.g. `embedded:digits`), `"tfds:NAME"`
            (also `tfds:NAME:CONFIG` or `tfds:NAME/CONFIG`), or `"dir:PATH"` (a folder of class
            sub-folders of images or .txt files, or a .csv/.tsv/.txt file).
        form: `"auto"` (the source's natural form), `"image"`, `"sequence"`, `"text"` or `"tabular"`.
        batch_size: examples per batch.
        image_size: `[H, W]` to resize images to, keeping the aspect ratio (`tf.image.resize_with_pad`);
            required for image folders whose files differ in size.
        data_dir: TFDS data directory (None: TFDS's default).
        validation_fraction: share of the training data carved out for validation when the source has no
            validation split (0: no validation split).
        test_fraction: share of the data carved out for testing when the source has no test split
            (0: no test split).
        seed: seed of the carved splits and of the training shuffle.
        cache: cache the normalized examples in memory after the first epoch.
        shuffle_buffer: training shuffle buffer size.
        normalize: images to float32 in [0, 1] (uint8 / 255, digits / 16).
        label_column: label column of a .csv/.tsv file.
        timesteps: for a numeric .csv/.tsv file, reshape each row's F features to
            `(timesteps, F / timesteps)` (form `"sequence"`); ignored by other sources.
        skip_unreadable: a `dir:` image folder's files that cannot be decoded are left out with a warning
            naming each (default: the first one stops the load with `DataError`).

    Returns:
        A `DatasetBundle` with `train`, `validation`, `test` pipelines of `(x, y)` batches (y int32 ids)
        and `num_classes`, `input_shape`, `class_names`, `form`, `source`, `num_examples`.

    Raises:
        UnknownDatasetError: unknown scheme, embedded name or TFDS name.
        MissingPathError: a `dir:` path that does not exist.
        DataError: data that cannot be used as it is (no classes, mixed image sizes, bad rows).
        ConfigError: a form or option that does not fit.

    Example:
        >>> bundle = load_dataset("embedded:digits", form="sequence", batch_size=64)
        >>> bundle.input_shape, bundle.num_classes
        ((8, 8), 10)
        >>> model.fit(bundle.train, validation_data=bundle.validation, epochs=5)
    """
    if not isinstance(source, str):
        raise UnknownDatasetError(f"data source {source!r} is not a string; {_SCHEME_HELP}")
    source = source.strip()
    if form not in FORMS:
        raise ConfigError(f"unknown data.form {form!r}; use one of: {', '.join(FORMS)}")
    opts = check_options(
        batch_size=batch_size,
        image_size=image_size,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        seed=seed,
        cache=cache,
        shuffle_buffer=shuffle_buffer,
        normalize=normalize,
        skip_unreadable=skip_unreadable,
    )
    scheme, sep, rest = source.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        hint = f" (did you mean embedded:{source}?)" if not sep and source in EMBEDDED else ""
        raise UnknownDatasetError(f"unknown data source {source!r}{hint}; {_SCHEME_HELP}")
    if scheme == "embedded":
        return load_embedded(rest.strip(), form, opts, source=source)
    if scheme == "tfds":
        from keras_nn.data.tfds import load_tfds

        return load_tfds(rest, form, opts, data_dir=data_dir, source=source)
    from keras_nn.data.files import load_dir

    return load_dir(rest, form, opts, label_column=label_column, timesteps=timesteps, source=source)


# Generated (synthetic, seeded) tasks: no download; each task's loader documents how its data is made.
GENERATED_SOURCES = {
    "dates": "dates in Korean and mixed formats -> ISO dates (seq2seq; synthetic)",
    "date_fields": "the characters of written dates tagged YEAR/MONTH/DAY/WEEKDAY/O (tagging; synthetic)",
    "sentences": "English-like sentences from a small grammar with agreement across words (language models; synthetic)",
    "acceptability": "sentences of that grammar labelled acceptable or with one corruption, CoLA-like (BERT "
    "fine-tuning; synthetic)",
    "sine": "noisy daily + weekly sine with a linear trend, hourly steps (forecasting; synthetic)",
    "ko_en": "Korean -> English sentences: numbers, dates, times, templated sentences (translation; synthetic)",
}


def list_datasets() -> list[tuple[str, str]]:
    """Lists the data sources `load_dataset` understands, for `keras-nn list`.

    Returns:
        `(source, description)` pairs: every embedded data set, one hint line each for `tfds:` and `dir:`,
        the generated tasks, then the detection task's sources.

    Example:
        >>> for source, description in list_datasets():
        ...     print(f"{source:20} {description}")
    """
    rows = [(f"embedded:{name}", spec.description) for name, spec in sorted(EMBEDDED.items())]
    rows.append(
        ("tfds:NAME", "any TensorFlow Datasets name, e.g. tfds:mnist, tfds:cifar10 (downloaded to data_dir)")
    )
    rows.append(
        (
            "dir:PATH",
            "a folder of class sub-folders of images or .txt files, or a .csv/.tsv file with a label column",
        )
    )
    rows.extend((f"generated:{name}", description) for name, description in sorted(GENERATED_SOURCES.items()))
    # The detection task's own sources (keras_nn.data.detection), images with boxes.
    rows.extend(DETECTION_SOURCES.items())
    return rows
