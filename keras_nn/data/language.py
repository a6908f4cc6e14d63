"""Text as next-token windows for language models: characters or SentencePiece subwords, split by blocks.

Sources (the recipe's `data.source`):

- `generated:sentences`: the synthetic corpus of `keras_nn.data.sentences` (a small probabilistic grammar with
  agreement across intervening words; seeded, no download). The embedded default.
- `dir:PATH`: a UTF-8 `.txt` file, or a folder whose `*.txt` files (searched recursively, in name order) are
  joined, one after another.
- `tfds:NAME` (e.g. `tfds:tiny_shakespeare`): a TensorFlow Datasets set with a `text` feature; the texts of
  each split are joined. Its own validation/test splits are used where it has them.

The text is split into contiguous blocks, train first, then validation, then test (cut at line ends), so no
window holds text of two splits; the vocabulary is learned on the training block only. Characters: id 0 is
padding, 1 unknown, then every character of the training text in sorted order. Subwords: SentencePiece
(`keras_nn.data.subwords`, ids 0 padding, 1 unknown, 2 start, 3 end) over the lines, each line followed by the
end id. Each block becomes windows of `sequence_length` inputs whose targets are the same ids shifted by one
(`next_token_windows`).

Example:
    >>> bundle = load_language("generated:sentences", level="char", sequence_length=64, batch_size=32)
    >>> inputs, targets = next(iter(bundle.train))        # both [32, 64] int32; targets[:, t] = inputs[:, t + 1]
    >>> bundle.tokenizer.decode(inputs[0].numpy())[:20]
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_nn.data.bundle import SPLITS, DatasetBundle
from keras_nn.data.pipeline import assemble, check_options
from keras_nn.data.subwords import MODEL_TYPES, SubwordTokenizer
from keras_nn.errors import ConfigError, DataError, MissingPathError, UnknownDatasetError

LEVELS = ("char", "subword")
GENERATED = ("generated:sentences",)
SOURCE_HELP = "use generated:sentences, dir:PATH (a .txt file or a folder of them) or tfds:NAME (e.g. tfds:tiny_shakespeare)"
PAD, UNK = 0, 1
UNKNOWN_CHARACTER = "\N{REPLACEMENT CHARACTER}"


class CharTokenizer:
    """Characters as ids: 0 padding, 1 unknown, then the given characters in order.

    Args:
        characters: the known characters, in id order after the two special ids.

    Example:
        >>> tokenizer = CharTokenizer.fit(["the cat"])
        >>> tokenizer.encode("the dog")          # "d", "o", "g" never seen: unknown (1)
        array([7, 6, 5, 2, 1, 1, 1], dtype=int32)
    """

    level = "char"
    pad_id, unk_id = PAD, UNK

    def __init__(self, characters):
        self.characters = list(dict.fromkeys(characters))
        self._ids = {char: index + 2 for index, char in enumerate(self.characters)}

    @classmethod
    def fit(cls, texts):
        """The characters of `texts`, sorted."""
        return cls(sorted(set("".join(texts))))

    @property
    def size(self):
        return len(self.characters) + 2

    def __len__(self):
        return self.size

    def tokens(self):
        """Every id's text: `["<pad>", "<unk>", "a", ...]`."""
        return ["<pad>", "<unk>", *self.characters]

    def encode(self, text):
        return np.asarray([self._ids.get(char, UNK) for char in text], dtype=np.int32)

    def unknown(self, text):
        """The characters of `text` this vocabulary never saw, in order of appearance."""
        return [char for char in dict.fromkeys(text) if char not in self._ids]

    def decode(self, ids):
        tokens = self.tokens()
        chars = []
        for token in np.asarray(ids).reshape(-1).tolist():
            if token == PAD:
                continue
            chars.append(tokens[token] if 2 <= token < len(tokens) else UNKNOWN_CHARACTER)
        return "".join(chars)

    def save(self, directory):
        """Writes `tokenizer.json` into `directory`; returns its path."""
        path = Path(directory) / "tokenizer.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"level": "char", "characters": self.characters}, ensure_ascii=False), "utf-8")
        return path


class SubwordTextTokenizer:
    """SentencePiece subwords of running text: each line encoded, followed by the end id (the line break).

    Args:
        subwords: a trained `SubwordTokenizer`.
    """

    level = "subword"
    pad_id, unk_id = PAD, UNK

    def __init__(self, subwords: SubwordTokenizer):
        self.subwords = subwords

    @classmethod
    def fit(cls, texts, vocab_size=1000, model_type="bpe"):
        lines = [line for text in texts for line in text.splitlines()]
        return cls(SubwordTokenizer.train(lines, vocab_size=vocab_size, model_type=model_type))

    @property
    def size(self):
        return self.subwords.size

    def __len__(self):
        return self.size

    def tokens(self):
        return self.subwords.id_to_piece(range(self.size))

    def encode(self, text):
        lines = text.split("\n")
        ends_with_newline = text.endswith("\n")
        if ends_with_newline:
            lines = lines[:-1]
        ids = []
        for index, line_ids in enumerate(self.subwords.encode_many(lines)):
            ids.extend(line_ids)
            if index < len(lines) - 1 or ends_with_newline:
                ids.append(self.subwords.end_id)
        return np.asarray(ids, dtype=np.int32)

    def unknown(self, text):
        """The pieces of `text` that encode as the unknown id."""
        found = []
        for line in text.split("\n"):
            ids = self.subwords.encode_many([line])[0]
            found += [piece for piece, token in zip(self.subwords.pieces(line), ids, strict=True) if token == UNK]
        return list(dict.fromkeys(found))

    def decode(self, ids):
        lines, current = [], []
        for token in np.asarray(ids).reshape(-1).tolist():
            if token == self.subwords.end_id:
                lines.append(current)
                current = []
            elif token not in (PAD, self.subwords.start_id) and 0 <= token < self.size:
                current.append(token)
        return "\n".join(self.subwords.decode(line + [self.subwords.end_id]) for line in [*lines, current])

    def save(self, directory):
        """Writes `subwords.model` (and `.vocab`) and `tokenizer.json` into `directory`; returns the json path."""
        directory = Path(directory)
        self.subwords.save(directory / "subwords.model")
        path = directory / "tokenizer.json"
        path.write_text(json.dumps({"level": "subword", "model": "subwords.model"}), "utf-8")
        return path


def load_tokenizer(directory):
    """The tokenizer a `save` wrote into `directory`.

    Raises:
        MissingPathError: no tokenizer there.
    """
    path = Path(directory) / "tokenizer.json"
    if not path.is_file():
        raise MissingPathError(f"{str(path)!r} does not exist; was the run trained by the language_model task?")
    spec = json.loads(path.read_text("utf-8"))
    if spec["level"] == "char":
        return CharTokenizer(spec["characters"])
    return SubwordTextTokenizer(SubwordTokenizer.load(Path(directory) / spec["model"]))


def tokenize_corpus(texts, level="char", vocab_size=1000, subword_model="bpe", tokenizer=None):
    """Learns a tokenizer on `texts` (unless one is given) and encodes them as one stream of ids.

    Args:
        texts: strings, joined one after another (give each its own final newline to keep them apart).
        level: `"char"` or `"subword"`.
        vocab_size: SentencePiece pieces (subword level; a small text may give fewer).
        subword_model: `"bpe"` or `"unigram"`.
        tokenizer: an already learned tokenizer (for held-out text).

    Returns:
        `(tokenizer, ids)`: ids a 1-D int32 array.

    Raises:
        ConfigError: an unknown level or subword model.
        DataError: no text.
    """
    if isinstance(texts, str):
        texts = [texts]
    text = "".join(texts)
    if tokenizer is None:
        if level not in LEVELS:
            raise ConfigError(f"level={level!r} is not allowed; choose one of: {', '.join(LEVELS)}")
        if not text.strip():
            raise DataError("no text to learn a vocabulary from; the training text is empty")
        if level == "char":
            tokenizer = CharTokenizer.fit([text])
        else:
            if subword_model not in MODEL_TYPES:
                raise ConfigError(
                    f"subword_model={subword_model!r} is not allowed; choose one of: {', '.join(MODEL_TYPES)}"
                )
            tokenizer = SubwordTextTokenizer.fit([text], vocab_size, subword_model)
    return tokenizer, tokenizer.encode(text)


def window_arrays(ids, sequence_length, stride=None, source="text", setting="sequence_length"):
    """Every window of `ids` as numpy arrays `(inputs, targets)`, each `[windows, sequence_length]` int32.

    Window `i` starts at `i * stride`; its inputs are `ids[start : start + L]` and its targets
    `ids[start + 1 : start + L + 1]`. Ids after the last whole window are left out.

    Raises:
        DataError: fewer than `sequence_length + 1` ids.
    """
    ids = np.asarray(ids, dtype=np.int32).reshape(-1)
    if not isinstance(sequence_length, int) or isinstance(sequence_length, bool) or sequence_length < 1:
        raise ConfigError(f"{setting}={sequence_length!r} must be a positive integer")
    stride = sequence_length if stride is None else stride
    if not isinstance(stride, int) or isinstance(stride, bool) or stride < 1:
        raise ConfigError(f"stride={stride!r} must be a positive integer (default: sequence_length)")
    if ids.size < sequence_length + 1:
        raise DataError(
            f"{source} has {ids.size} tokens, fewer than one sequence of sequence_length + 1 = "
            f"{sequence_length + 1}; give more text or lower {setting}"
        )
    starts = np.arange(0, ids.size - sequence_length, stride)
    windows = np.lib.stride_tricks.sliding_window_view(ids, sequence_length + 1)[starts]
    return np.ascontiguousarray(windows[:, :-1]), np.ascontiguousarray(windows[:, 1:])


def next_token_windows(ids, sequence_length, stride=None, source="text", setting="sequence_length"):
    """An unbatched `tf.data.Dataset` of `(inputs, targets)` windows; targets are the inputs shifted by one.

    Args:
        ids: 1-D token ids of one contiguous text.
        sequence_length: tokens per window.
        stride: ids between window starts (default `sequence_length`: windows that tile the text).
        source, setting: named in the error message.

    Example:
        >>> list(next_token_windows([5, 6, 7, 8, 9], 2).as_numpy_iterator())
        [(array([5, 6], dtype=int32), array([6, 7], dtype=int32)), (array([7, 8], ...), array([8, 9], ...))]
    """
    return tf.data.Dataset.from_tensor_slices(window_arrays(ids, sequence_length, stride, source, setting))


def split_text(text, validation_fraction=0.1, test_fraction=0.1):
    """`{"train", "validation", "test"}` contiguous blocks of `text`, in that order, each cut after a line end.

    A fraction of 0 gives no block (None).
    """
    for name, value in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"data.{name}={value!r} must be in [0, 1)")
    if validation_fraction + test_fraction >= 1.0:
        raise ConfigError("data.validation_fraction + data.test_fraction must be below 1 (text is left to train on)")

    def cut(fraction):
        position = int(round(len(text) * fraction))
        newline = text.rfind("\n", 0, position)
        return newline + 1 if newline > 0 else position

    first = cut(1.0 - validation_fraction - test_fraction)
    second = cut(1.0 - test_fraction) if test_fraction else len(text)
    second = max(second, first)
    return {
        "train": text[:first],
        "validation": text[first:second] if validation_fraction else None,
        "test": text[second:] if test_fraction else None,
    }


def read_text_files(path, source=None):
    """The text of a `.txt` file, or of every `*.txt` file under a folder joined in name order.

    Raises:
        MissingPathError: no such file or folder.
        DataError: no `.txt` file, text that is not UTF-8, or only empty files.
    """
    path, source = Path(path).expanduser(), source or f"dir:{path}"
    if not path.exists():
        raise MissingPathError(f"{source}: {str(path)!r} does not exist; give a .txt file or a folder of them")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*.txt") if p.is_file())
    if not files:
        raise DataError(f"{source}: {str(path)!r} holds no .txt files; put the text in UTF-8 .txt files")
    parts = []
    for file in files:
        try:
            content = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise DataError(f"{str(file)!r} is not UTF-8 text ({error.reason}); convert it to UTF-8") from None
        if content and not content.endswith("\n"):
            content += "\n"
        parts.append(content)
    text = "".join(parts)
    if not text.strip():
        raise DataError(f"{source} holds no text (its .txt files are empty); give text to train on")
    return text


def read_tfds_text(spec, data_dir=None, source=None):
    """`{split: text}` of a TFDS set with a `text` feature, each split's examples joined by line ends.

    Raises:
        UnknownDatasetError: TFDS has no such name.
        DataError: the set has no `text` feature.
    """
    import tensorflow_datasets as tfds

    from keras_nn.data.tfds import open_builder, tfds_name

    name, source = tfds_name(spec), source or f"tfds:{spec}"
    builder = open_builder(name, source, data_dir)
    features = builder.info.features
    if "text" not in features.keys() or not isinstance(features["text"], tfds.features.Text):
        raise DataError(f"{source} has no 'text' feature of text; use a text set such as tfds:tiny_shakespeare")
    builder.download_and_prepare()
    # Mock data (tests) leaves the split metadata empty: the standard three are asked for then.
    available = set(builder.info.splits.keys()) or set(SPLITS)
    splits = [split for split in SPLITS if split in available]
    if "train" not in splits:
        raise DataError(f"{source} has no 'train' split; use a set with one")
    texts = {}
    for split in splits:
        dataset = builder.as_dataset(split=split, shuffle_files=False)
        parts = [example["text"].decode("utf-8") for example in dataset.as_numpy_iterator()]
        texts[split] = "".join(part if part.endswith("\n") else part + "\n" for part in parts)
    return texts


def read_language_source(source, *, corpus_size=8000, seed=0, validation_fraction=0.1, test_fraction=0.1, data_dir=None):
    """`{"train", "validation", "test"}` texts (None for an absent split) of a language-model source."""
    if not isinstance(source, str):
        raise UnknownDatasetError(f"data.source={source!r} is not a string; {SOURCE_HELP}")
    scheme, _, rest = source.partition(":")
    if source in GENERATED:
        from keras_nn.data.sentences import generate_sentences

        return split_text(generate_sentences(corpus_size, seed), validation_fraction, test_fraction)
    if scheme == "dir" and rest:
        return split_text(read_text_files(rest, source), validation_fraction, test_fraction)
    if scheme == "tfds" and rest:
        texts = read_tfds_text(rest, data_dir, source)
        if "validation" in texts and "test" in texts:
            return {split: texts[split] for split in SPLITS}
        # Carve what the set lacks from the end of its training text.
        carved = split_text(
            texts["train"],
            0.0 if "validation" in texts else validation_fraction,
            0.0 if "test" in texts else test_fraction,
        )
        return {split: texts.get(split, carved[split]) for split in SPLITS}
    raise UnknownDatasetError(f"data.source={source!r} is not a text source for a language model; {SOURCE_HELP}")


@dataclasses.dataclass
class LanguageBundle(DatasetBundle):
    """A `DatasetBundle` of next-token windows `(inputs [B, L], targets [B, L])` and what made them.

    Args (besides `DatasetBundle`'s; `num_classes` is the vocabulary size, `input_shape` `(sequence_length,)`):
        tokenizer: the `CharTokenizer` or `SubwordTextTokenizer` learned on the training text.
        level: `"char"` or `"subword"`.
        sequence_length: tokens per window.
        ids: every split's whole id stream (`{split: 1-D int32}`), for n-gram baselines and sampling prompts.
        characters: characters of the text each split's windows cover (bits per character of subwords).
    """

    tokenizer: object = None
    level: str = "char"
    sequence_length: int = 0
    ids: dict = dataclasses.field(default_factory=dict, repr=False)
    characters: dict = dataclasses.field(default_factory=dict, repr=False)

    @property
    def vocab_size(self):
        return self.tokenizer.size

    def windows(self, split):
        """`(inputs, targets)` numpy arrays of a split's windows, in text order."""
        return window_arrays(self.ids[split], self.sequence_length, source=f"{self.source} {split} split")


def load_language(
    source="generated:sentences",
    *,
    level="char",
    sequence_length=100,
    stride=None,
    vocab_size=1000,
    subword_model="bpe",
    corpus_size=8000,
    batch_size=32,
    seed=0,
    validation_fraction=0.1,
    test_fraction=0.1,
    data_dir=None,
    shuffle_buffer=10000,
    cache=True,
    setting="sequence_length",
):
    """A text source as batched next-token windows (see the module docstring).

    Args:
        source: `generated:sentences`, `dir:PATH` or `tfds:NAME`.
        level: `"char"` or `"subword"`.
        sequence_length: tokens per window.
        stride: ids between training window starts (default `sequence_length`); held-out windows always tile
            their block (stride `sequence_length`), so every held-out token is scored once.
        vocab_size, subword_model: SentencePiece settings (subword level).
        corpus_size: sentences of the generated corpus.
        batch_size, seed, shuffle_buffer, cache: the pipelines (as `load_dataset`).
        validation_fraction, test_fraction: shares of the text carved out as contiguous blocks (for a TFDS set,
            only for a split it lacks).
        data_dir: TFDS data directory.
        setting: the recipe key of `sequence_length`, named in errors.

    Returns:
        A `LanguageBundle`.

    Raises:
        UnknownDatasetError, MissingPathError: a bad source.
        DataError: no text, or a split with fewer than `sequence_length + 1` tokens.
        ConfigError: a bad level, fraction or length.
    """
    texts = read_language_source(
        source,
        corpus_size=corpus_size,
        seed=seed,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        data_dir=data_dir,
    )
    tokenizer, train_ids = tokenize_corpus(texts["train"], level, vocab_size, subword_model)
    ids = {
        split: train_ids if split == "train" else tokenizer.encode(text)
        for split, text in texts.items()
        if text is not None
    }
    examples, characters = {}, {}
    for split, split_ids in ids.items():
        inputs, targets = window_arrays(
            split_ids,
            sequence_length,
            stride if split == "train" else None,
            source=f"{source} {split} split",
            setting=setting,
        )
        examples[split] = tf.data.Dataset.from_tensor_slices((inputs, targets))
        covered = int(inputs.shape[0]) * sequence_length
        characters[split] = len(tokenizer.decode(split_ids[1 : covered + 1])) if level == "subword" else covered
    opts = check_options(
        batch_size=batch_size,
        image_size=None,
        validation_fraction=0.0,
        test_fraction=0.0,
        seed=seed,
        cache=cache,
        shuffle_buffer=shuffle_buffer,
        normalize=False,
    )
    plain = assemble(
        {split: examples.get(split) for split in SPLITS},
        opts,
        num_classes=tokenizer.size,
        input_shape=(sequence_length,),
        class_names=[],
        form="sequence",
        source=source,
    )
    fields = {field.name: getattr(plain, field.name) for field in dataclasses.fields(DatasetBundle)}
    return LanguageBundle(
        **fields, tokenizer=tokenizer, level=level, sequence_length=sequence_length, ids=ids, characters=characters
    )
