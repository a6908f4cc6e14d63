"""Parallel corpora for translation, tokenized into subwords: generated Korean-English, TSV files, TFDS sets.

Sources (the recipe's `data.source`):

- `generated:ko_en`: the synthetic Korean-to-English task of `keras_nn.data.ko_en` (seeded, no download).
- `dir:PATH.tsv` (or `.txt`): a parallel corpus, one `source<TAB>target` pair per line, UTF-8 (the common
  format of public Korean-English sentence-pair files; further columns, such as an attribution, are ignored).
  The splits are carved out with `data.validation_fraction` and `data.test_fraction`.
- `tfds:NAME` (e.g. `tfds:ted_hrlr_translate/pt_to_en`): a TensorFlow Datasets translation set whose
  supervised keys are `(source language, target language)`; its own validation/test splits are used where it
  has them.

`load_translation` learns SentencePiece subwords on the training pairs only and returns a `Seq2SeqBundle`
of `({"source": [B, S], "target_in": [B, T]}, target_out [B, T], weights [B, T])` batches (ids: 0 padding,
1 unknown, 2 start, 3 end). Training pairs longer than the length limits are left out; held-out sources
are cut to the source length (their references stay whole, for BLEU).

Example:
    >>> bundle = load_translation("generated:ko_en", train_size=2000, batch_size=64)
    >>> bundle.source_vocab.pieces("나는 사과를 3개 먹었다.")
    ['▁나는', '▁사과를', '▁', '3', '개', '▁먹었다', '.']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_nn.data.dates import Seq2SeqBundle, batch_examples, pairs_dataset
from keras_nn.data.subwords import train_tokenizers
from keras_nn.errors import ConfigError, DataError, MissingPathError, UnknownDatasetError

GENERATED = ("generated:ko_en",)
SOURCE_HELP = (
    "use generated:ko_en, dir:PATH.tsv (source<TAB>target per line) or tfds:NAME (a translation set)"
)


def read_parallel_tsv(path, reverse=False):
    """Reads `source<TAB>target` lines of a UTF-8 file into `[(source, target), ...]`.

    Blank lines are skipped; columns after the second are ignored.

    Args:
        path: the file.
        reverse: read the lines as `target<TAB>source` (for files written the other way round).

    Raises:
        MissingPathError: no such file.
        DataError: a line without a tab or with an empty side, or text that is not UTF-8; the message names
            the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingPathError(
            f"parallel corpus {str(path)!r} does not exist; give a source<TAB>target .tsv file"
        )
    pairs = []
    with path.open(encoding="utf-8") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                fields = line.split("\t")
                if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
                    raise DataError(
                        f"{str(path)!r} line {number}: {line[:60]!r} is not 'source<TAB>target' (both sides "
                        "non-empty, separated by a tab); fix or remove the line"
                    )
                source, target = fields[0].strip(), fields[1].strip()
                pairs.append((target, source) if reverse else (source, target))
        except UnicodeDecodeError as error:
            raise DataError(
                f"{str(path)!r} is not UTF-8 text ({error.reason} near line {len(pairs) + 1})"
            ) from None
    if not pairs:
        raise DataError(f"{str(path)!r} holds no sentence pairs")
    return pairs


def carve_splits(pairs, validation_fraction, test_fraction, seed, source="data"):
    """`{"train", "validation", "test"}` lists of pairs carved at random (seeded) out of one list."""
    from keras_nn.data.pipeline import split_indices

    parts = split_indices(
        np.zeros(len(pairs), np.int32),
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        seed=seed,
        source=source,
    )
    return {
        split: [pairs[i] for i in indices] if indices is not None else [] for split, indices in parts.items()
    }


def load_tfds_pairs(spec, data_dir=None, validation_fraction=0.1, test_fraction=0.1, seed=0, source=None):
    """The splits of a TFDS translation set as text pairs (its supervised keys: source, target language).

    Raises:
        UnknownDatasetError: TFDS has no such name or config.
        DataError: the set has no `(source, target)` text pair of supervised keys.
    """
    import tensorflow_datasets as tfds

    from keras_nn.data.pipeline import LoadOptions
    from keras_nn.data.tfds import open_builder, plan_splits, tfds_name

    name, source = tfds_name(spec), source or f"tfds:{spec}"
    builder = open_builder(name, source, data_dir)
    keys = builder.info.supervised_keys
    features = builder.info.features
    if not (isinstance(keys, tuple) and len(keys) == 2 and all(isinstance(k, str) for k in keys)):
        raise DataError(
            f"{source} has no (source, target) supervised keys (got {keys!r}); use a translation set"
        )
    if not all(isinstance(features[key], tfds.features.Text) for key in keys):
        raise DataError(f"{source}: supervised keys {keys!r} are not both text; use a translation set")
    builder.download_and_prepare()
    available = set(builder.info.splits.keys()) or {"train", "validation", "test"}
    plan = plan_splits(
        available,
        LoadOptions(validation_fraction=validation_fraction, test_fraction=test_fraction, seed=seed),
    )
    wanted = {split: spec for split, spec in plan.items() if spec is not None}
    datasets = tfds.load(
        name, split=list(wanted.values()), as_supervised=True, data_dir=data_dir, shuffle_files=False
    )
    pairs = {split: [] for split in ("train", "validation", "test")}
    for split, dataset in zip(wanted, datasets, strict=True):
        for left, right in dataset.as_numpy_iterator():
            pairs[split].append((left.decode("utf-8").strip(), right.decode("utf-8").strip()))
    return pairs


def load_translation_pairs(
    source,
    *,
    train_size=30000,
    validation_size=500,
    test_size=1000,
    seed=0,
    validation_fraction=0.1,
    test_fraction=0.1,
    data_dir=None,
    reverse=False,
):
    """`{split: [(source_text, target_text), ...]}` of a translation source (see the module docstring).

    Args:
        source: `generated:ko_en`, `dir:PATH` or `tfds:NAME`.
        train_size, validation_size, test_size: pairs per split of the generated task.
        seed: seed of the generated data and of carved splits.
        validation_fraction, test_fraction: shares carved out of a TSV file (and of a TFDS set's train split
            when it has no such split).
        data_dir: TFDS data directory.
        reverse: swap the sides of a TSV file or TFDS set.

    Raises:
        UnknownDatasetError: a source of another scheme.
    """
    scheme, _, rest = source.partition(":")
    if source in GENERATED:
        from keras_nn.data.ko_en import split_ko_en

        return split_ko_en(train_size, validation_size, test_size, seed)
    if scheme == "dir" and rest:
        pairs = carve_splits(
            read_parallel_tsv(rest, reverse), validation_fraction, test_fraction, seed, source
        )
    elif scheme == "tfds" and rest:
        pairs = load_tfds_pairs(rest, data_dir, validation_fraction, test_fraction, seed, source)
        if reverse:
            pairs = {split: [(b, a) for a, b in items] for split, items in pairs.items()}
    else:
        raise UnknownDatasetError(f"data.source={source!r} is not a translation source; {SOURCE_HELP}")
    return pairs


def bucket_by_length(examples, lengths, batch_size, seed, shuffle_buffer, width=4):
    """A training pipeline of batches of similar length, each cut to its longest pair.

    Sentences of similar length share a batch (buckets `width` tokens wide) and every batch is cut to the
    longest source and target in it, so most of the padding a fixed length would add is never computed
    (about half of it on the generated task).

    Args:
        examples: unbatched `(x, target_out, weights)` examples, padded to fixed lengths.
        lengths: every example's length in tokens, `max(source, target)` with the end tokens.
        batch_size, seed, shuffle_buffer: as `load_translation`.
        width: tokens per bucket.
    """
    import tensorflow as tf

    def length(x, y, weights):
        source = tf.reduce_sum(tf.cast(tf.not_equal(x["source"], 0), tf.int32))
        return tf.maximum(source, tf.reduce_sum(tf.cast(weights > 0, tf.int32)))

    def cut(x, y, weights):
        source = tf.reduce_max(tf.reduce_sum(tf.cast(tf.not_equal(x["source"], 0), tf.int32), axis=1))
        target = tf.reduce_max(tf.reduce_sum(tf.cast(weights > 0, tf.int32), axis=1))
        return (
            {"source": x["source"][:, :source], "target_in": x["target_in"][:, :target]},
            y[:, :target],
            weights[:, :target],
        )

    # No cache: the examples are in-memory tensors already, and Keras stops each epoch at the declared batch
    # count without reading the end of the data, which would discard a cache every epoch (with a warning).
    boundaries = list(range(width + 2, int(np.max(lengths)) + 1, width))
    # Each bucket ends with one partial batch, so the batches of an epoch are known whatever the shuffle;
    # declaring them lets Keras show progress (and not warn that the data ran out) in the first epoch.
    per_bucket = np.bincount(
        np.searchsorted(boundaries, lengths, side="right"), minlength=len(boundaries) + 1
    )
    batches = int(np.sum(-(-per_bucket // batch_size)))
    return (
        examples.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        .bucket_by_sequence_length(length, boundaries, [batch_size] * (len(boundaries) + 1))
        .map(cut, num_parallel_calls=tf.data.AUTOTUNE)
        .apply(tf.data.experimental.assert_cardinality(batches))
        .prefetch(tf.data.AUTOTUNE)
    )


def _lengths(tokenizer, texts, extra):
    return np.asarray([len(ids) + extra for ids in tokenizer.encode_many(texts)], dtype=np.int64)


def load_translation(
    source="generated:ko_en",
    *,
    train_size=30000,
    validation_size=500,
    test_size=1000,
    batch_size=64,
    seed=0,
    vocab_size=1000,
    target_vocab_size=None,
    subword_model="bpe",
    shared_vocabulary=False,
    max_source_length=64,
    max_target_length=64,
    validation_fraction=0.1,
    test_fraction=0.1,
    data_dir=None,
    reverse=False,
    shuffle_buffer=10000,
    cache=True,
    bucket=True,
):
    """A translation data set as batched tf.data pipelines with SentencePiece subwords.

    Args:
        source: `generated:ko_en`, `dir:PATH.tsv` or `tfds:NAME`.
        train_size, validation_size, test_size: pairs per split of the generated task.
        batch_size: pairs per batch.
        seed: seed of the data, the carved splits and the training shuffle.
        vocab_size: subword pieces of the source side (and of the target side unless `target_vocab_size`).
        target_vocab_size: subword pieces of the target side.
        subword_model: `"bpe"` or `"unigram"`.
        shared_vocabulary: one subword model for both sides (for `shared_embeddings=True` models).
        max_source_length, max_target_length: token limits (end token included); longer training pairs are
            left out, longer held-out sources are cut.
        validation_fraction, test_fraction, data_dir, reverse: see `load_translation_pairs`.
        shuffle_buffer: training shuffle buffer.
        cache: cache the encoded held-out examples (and unbucketed training ones) in memory.
        bucket: training batches of pairs of similar length, cut to their longest pair (`bucket_by_length`);
            False: every batch padded to the full lengths.

    Returns:
        A `Seq2SeqBundle` whose `source_vocab`/`target_vocab` are `SubwordTokenizer`s; `num_classes` is the
        target vocabulary size, `input_shape` `(source_length,)`.

    Raises:
        UnknownDatasetError, MissingPathError, DataError, ConfigError: a bad source, file, line or option.
    """
    for name, value in (("max_source_length", max_source_length), ("max_target_length", max_target_length)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 2:
            raise ConfigError(
                f"task_options.{name}={value!r} must be an integer >= 2 (tokens, end token included)"
            )
    pairs = load_translation_pairs(
        source,
        train_size=train_size,
        validation_size=validation_size,
        test_size=test_size,
        seed=seed,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        data_dir=data_dir,
        reverse=reverse,
    )
    if not pairs["train"]:
        raise DataError(f"{source} left no training pairs; lower data.validation_fraction/test_fraction")
    source_vocab, target_vocab = train_tokenizers(
        pairs["train"], vocab_size, target_vocab_size, subword_model, shared_vocabulary
    )

    # Training pairs beyond the limits are left out (a few long outliers would pad every batch).
    source_lengths = _lengths(source_vocab, [s for s, _ in pairs["train"]], 1)
    target_lengths = _lengths(target_vocab, [t for _, t in pairs["train"]], 1)
    keep = (source_lengths <= max_source_length) & (target_lengths <= max_target_length)
    if not keep.any():
        raise DataError(
            f"every training pair of {source} is longer than max_source_length={max_source_length} / "
            f"max_target_length={max_target_length} tokens; raise the limits"
        )
    pairs["train"] = [pair for pair, kept in zip(pairs["train"], keep, strict=True) if kept]
    held_out = [pair for split in ("validation", "test") for pair in pairs[split]]
    source_length = int(
        min(
            max([source_lengths[keep].max(), *_lengths(source_vocab, [s for s, _ in held_out], 1)]),
            max_source_length,
        )
    )
    target_length = int(
        min(
            max([target_lengths[keep].max(), *_lengths(target_vocab, [t for _, t in held_out], 1)]),
            max_target_length,
        )
    )

    examples = {
        split: pairs_dataset(items, source_vocab, target_vocab, source_length, target_length)
        if items
        else None
        for split, items in pairs.items()
    }

    def batched(split, shuffle):
        return batch_examples(examples, split, batch_size, shuffle, seed, shuffle_buffer, cache)

    train = batched("train", True)
    if bucket:
        lengths = np.maximum(source_lengths[keep], target_lengths[keep])
        train = bucket_by_length(examples["train"], lengths, batch_size, seed, shuffle_buffer)
    return Seq2SeqBundle(
        train=train,
        validation=batched("validation", False),
        test=batched("test", False),
        num_classes=target_vocab.size,
        input_shape=(source_length,),
        class_names=target_vocab.id_to_piece(range(target_vocab.size)),
        form="sequence",
        source=source,
        num_examples={split: len(items) for split, items in pairs.items() if items},
        _examples=examples,
        source_vocab=source_vocab,
        target_vocab=target_vocab,
        source_length=source_length,
        target_length=target_length,
        pairs=pairs,
    )
