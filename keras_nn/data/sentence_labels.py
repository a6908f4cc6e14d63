"""Labelled sentences for sentence classification: `{split: (texts, labels)}` and the class names.

Sources (the recipe's `data.source`):

- `generated:acceptability` (the embedded default): a synthetic, CoLA-like acceptability set made from the
  grammar of `keras_nn.data.sentences` (the `generated:sentences` corpus). Half the examples are sentences of
  the grammar (label 1, "acceptable"); the other half are other sentences of the grammar with exactly one
  corruption (label 0, "unacceptable") that a model must know the grammar to spot, because every word pair
  in it also occurs in acceptable text:

  - `agreement`: the main verb (or the question's `do`/`does`) takes the other number, so it disagrees with
    a subject that may stand several words back: "the cats that the dog sees *eats* fish .";
  - `selection`: an animal eats (or chases) what another animal does: "the bird near the foxes eats
    *bones* .";
  - `pronoun`: the second clause or the answer refers to the subject with the other pronoun (its verb made to
    agree with that pronoun): "the mice are old , so *it eats* grain .", "do the cats eat fish ? yes , *it
    does* .".

  A question and its answer are one example. Examples are unique across the three splits, classes are
  balanced in each split, and the set is seeded. It is small on purpose (hundreds of labelled sentences):
  the large unlabelled `generated:sentences` corpus is there to pretrain on first.
- `dir:FILE.csv` or `dir:FILE.tsv`: a header row with a `sentence` (or `text`) column and a `label` column;
  labels are integers (`0`, `1`, ...) or names (sorted into ids). The rows are shuffled (seeded) and carved
  into train/validation/test. `dir:FOLDER` holding `train.csv|tsv` and optionally `validation` (or `dev`) and
  `test` files uses those splits, carving only what is missing from the training rows.
- `tfds:NAME` (e.g. `tfds:glue/sst2`): a TensorFlow Datasets set with a `sentence` (or `text`) feature and a
  `label` class feature. GLUE keeps its test labels secret (every test label is -1), so for `glue/*` sets, and
  for any set whose test labels are all -1, the validation split serves as the test split and a new
  validation split is carved from the end of the training split.

Example:
    >>> data = load_sentence_labels("generated:acceptability", seed=0)
    >>> texts, labels = data.splits["train"]
    >>> data.class_names
    ['unacceptable', 'acceptable']
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import numpy as np

from keras_nn.data.bundle import SPLITS
from keras_nn.data.files import read_rows
from keras_nn.data.sentences import ANIMALS, generate_sentences
from keras_nn.errors import ConfigError, DataError, MissingPathError, UnknownDatasetError

GENERATED = ("generated:acceptability",)
SOURCE_HELP = (
    "use generated:acceptability, dir:FILE.csv|.tsv (columns sentence and label) or tfds:NAME (e.g. tfds:glue/sst2)"
)
ACCEPTABILITY_CLASSES = ["unacceptable", "acceptable"]
CORRUPTIONS = ("agreement", "selection", "pronoun")
TEXT_COLUMNS = ("sentence", "text")
TABLE_DELIMITERS = {".csv": ",", ".tsv": "\t"}
VALIDATION_NAMES = ("validation", "dev")

# Every surface form of a noun -> the noun (the key of ANIMALS).
_NOUNS = {form: noun for noun, (plural, _, _) in ANIMALS.items() for form in (noun, plural)}
_FOODS = sorted({food for _, foods, _ in ANIMALS.values() for food in foods})
_PREY = sorted({prey for _, _, chased in ANIMALS.values() for prey in chased})
_OTHER_NUMBER = {
    "eat": "eats", "eats": "eat", "chase": "chases", "chases": "chase", "do": "does", "does": "do",
    "it": "they", "they": "it",
}


@dataclasses.dataclass
class SentenceLabels:
    """Labelled sentences of every split.

    Args:
        splits: `{"train"|"validation"|"test": (texts list[str], labels int32 array)}`; a split may be absent.
        class_names: the name of each label id, in id order.
        source: the source string that was read.
        kinds: for `generated:acceptability`, `{split: [corruption kind or "none" per example]}`; else empty.
        note: how the splits were made (said in reports), e.g. that the validation split serves as test.
    """

    splits: dict
    class_names: list
    source: str
    kinds: dict = dataclasses.field(default_factory=dict)
    note: str = ""

    @property
    def num_classes(self):
        return len(self.class_names)

    @property
    def num_examples(self):
        return {split: len(texts) for split, (texts, _) in self.splits.items()}


# ------------------------------------------------------------------------------ generated:acceptability


def _examples(text):
    """The corpus as examples: one sentence a line, a question joined with its answer."""
    lines, examples = text.splitlines(), []
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.endswith("?") and index + 1 < len(lines):
            examples.append(f"{line} {lines[index + 1]}")
            index += 2
        else:
            examples.append(line)
            index += 1
    return examples


def _form(words):
    """Which of the grammar's sentence forms the words are: eat, chase, reason (", so"), question."""
    if words[0] in ("do", "does"):
        return "question"
    if words[2] in ("is", "are"):
        return "reason"
    return "eat" if any(word in ("eat", "eats") for word in words) else "chase"


def _subject(words, form):
    return _NOUNS[words[2] if form == "question" else words[1]]


def _replace_outside(rng, current, choices, allowed):
    """A choice that is not among what the subject may take (`allowed`)."""
    options = [item for item in choices if item not in allowed and item != current]
    return rng.choice(options)


def corruption_kinds(sentence):
    """The corruptions `corrupt` can apply to a sentence of the grammar."""
    form = _form(sentence.split())
    return {
        "eat": ("agreement", "selection"),
        "chase": ("agreement", "selection"),
        "reason": ("selection", "pronoun"),
        "question": ("agreement", "selection", "pronoun"),
    }[form]


def corrupt(sentence, kind, rng):
    """The sentence with one corruption of `kind` (one of `CORRUPTIONS`; see the module docstring).

    Args:
        sentence: a sentence (or question and answer) of `generated:sentences`.
        kind: `"agreement"`, `"selection"` or `"pronoun"`, among `corruption_kinds(sentence)`.
        rng: a `random.Random` that picks the wrong food or prey.

    Returns:
        The corrupted sentence.
    """
    words = sentence.split()
    form = _form(words)
    if kind not in corruption_kinds(sentence):
        raise ConfigError(f"corruption {kind!r} does not apply to {sentence!r}; use one of {corruption_kinds(sentence)}")
    noun = _subject(words, form)
    _, foods, chased = ANIMALS[noun]
    if kind == "agreement":
        # The main verb is the first eat/chase: a relative clause's verb (sees, likes, follows) is neither.
        index = 0 if form == "question" else next(i for i, w in enumerate(words) if w in ("eat", "eats", "chase", "chases"))
        words[index] = _OTHER_NUMBER[words[index]]
    elif kind == "selection":
        if form == "chase":
            index = words.index("the", next(i for i, w in enumerate(words) if w in ("chase", "chases"))) + 1
            words[index] = _replace_outside(rng, words[index], _PREY, chased)
        else:
            # eat: the word after the main verb; reason: after the second clause's verb; question: after "eat".
            verbs = [i for i, w in enumerate(words) if w in ("eat", "eats")]
            index = verbs[0] + 1
            words[index] = _replace_outside(rng, words[index], _FOODS, foods)
    else:
        # The pronoun and its verb change together, so the corruption is the reference, not a local mismatch.
        index = next(i for i, w in enumerate(words) if w in ("it", "they"))
        words[index] = _OTHER_NUMBER[words[index]]
        words[index + 1] = _OTHER_NUMBER[words[index + 1]]
    return " ".join(words)


def _pick_kind(rng, kinds):
    # Few distinct sentences take a pronoun (the ", so" and question forms are short), so where one does, the
    # pronoun is picked more often than its share: otherwise it would be a few percent of the corruptions.
    if "pronoun" in kinds and rng.random() < 0.7:
        return "pronoun"
    return rng.choice([kind for kind in kinds if kind != "pronoun"])


def generate_acceptability(num_train=600, num_validation=300, num_test=1000, seed=0):
    """The `generated:acceptability` set (see the module docstring): balanced, unique across splits.

    Args:
        num_train, num_validation, num_test: examples per split (each split half acceptable).
        seed: the generator's seed (the sentences, which ones are corrupted, and how).

    Returns:
        A `SentenceLabels` whose `kinds` name each example's corruption (`"none"` for acceptable ones).
    """
    sizes = {"train": num_train, "validation": num_validation, "test": num_test}
    for split, size in sizes.items():
        if isinstance(size, bool) or not isinstance(size, int) or size < 2:
            raise ConfigError(f"{split} examples = {size!r} must be an integer >= 2 (one of each class)")
    rng = random.Random(seed)
    # Spares replace the sentences whose corruption another sentence's corruption already gave.
    needed = sum(sizes.values()) + sum(sizes.values()) // 4
    pool, seen, corpus_size = [], set(), needed * 2
    # Sentences the grammar often repeats are kept once, so no example is in two splits.
    while len(pool) < needed:
        for example in _examples(generate_sentences(corpus_size, seed=rng.randrange(2**31))):
            if example not in seen:
                seen.add(example)
                pool.append(example)
        corpus_size *= 2
        if corpus_size > 64 * needed:
            raise ConfigError(f"the grammar has too few distinct sentences for {needed} examples; ask for fewer")
    rng.shuffle(pool)
    sentences, used = iter(pool), set()
    splits, kinds = {}, {}
    for split, size in sizes.items():
        rows = []
        while len(rows) < size:
            sentence = next(sentences)
            if len(rows) % 2 == 0:
                row = (sentence, 1, "none")
            else:
                kind = _pick_kind(rng, corruption_kinds(sentence))
                row = (corrupt(sentence, kind, rng), 0, kind)
            if row[0] not in used:
                used.add(row[0])
                rows.append(row)
        rng.shuffle(rows)
        splits[split] = ([row[0] for row in rows], np.array([row[1] for row in rows], np.int32))
        kinds[split] = [row[2] for row in rows]
    return SentenceLabels(splits, list(ACCEPTABILITY_CLASSES), GENERATED[0], kinds)


# ------------------------------------------------------------------------------------------ dir: tables


def _label_ids(raw, source, class_names=None):
    """Integer labels as they are, names sorted into ids (or looked up in `class_names`)."""
    raw = [value.strip() for value in raw]
    if class_names is None:
        if all(value.lstrip("-").isdigit() for value in raw):
            ids = np.array([int(value) for value in raw], np.int32)
            if ids.min() < 0:
                raise DataError(f"{source}: label {int(ids.min())} is negative; use ids 0, 1, ... or class names")
            return ids, [str(index) for index in range(int(ids.max()) + 1)]
        class_names = sorted(set(raw))
    lookup = {name: index for index, name in enumerate(class_names)}
    missing = sorted(set(raw) - set(lookup))
    if missing:
        raise DataError(f"{source}: labels {missing[:5]} are not among the training labels {class_names}; fix them")
    return np.array([lookup[value] for value in raw], np.int32), class_names


def read_table(path):
    """`(texts, raw labels)` of a `.csv`/`.tsv` file with a header: a `sentence` or `text` column and `label`.

    Raises:
        MissingPathError: no such file.
        DataError: another extension, no such columns, an empty file, a short row or text that is not UTF-8.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingPathError(f"{str(path)!r} does not exist; give a .csv or .tsv file with sentence and label columns")
    delimiter = TABLE_DELIMITERS.get(path.suffix.lower())
    if delimiter is None:
        raise DataError(f"{str(path)!r} is not a .csv or .tsv file; give one with sentence and label columns")
    try:
        rows = read_rows(path, delimiter)
    except UnicodeDecodeError as error:
        raise DataError(f"{str(path)!r} is not UTF-8 text ({error.reason}); convert it to UTF-8") from None
    if len(rows) < 2:
        raise DataError(f"{str(path)!r} has no rows under its header; give a header and one row per sentence")
    header = [cell.strip().lower() for cell in rows[0]]
    text_column = next((name for name in TEXT_COLUMNS if name in header), None)
    if text_column is None or "label" not in header:
        missing = "a sentence (or text) column" if text_column is None else "a label column"
        raise DataError(f"{str(path)!r} has no {missing} in its header {rows[0]}; name the columns sentence and label")
    text_index, label_index = header.index(text_column), header.index("label")
    texts, labels = [], []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) <= max(text_index, label_index):
            raise DataError(f"{str(path)!r} line {line} has {len(row)} cells, fewer than the header's {len(header)}; fix it")
        texts.append(row[text_index])
        labels.append(row[label_index])
    return texts, labels


def _carve(texts, labels, fractions, seed, source):
    """Seeded shuffle, then `{split: (texts, labels)}`, the validation and test shares cut from the end."""
    order = np.random.default_rng(seed).permutation(len(texts))
    texts, labels = [texts[i] for i in order], labels[order]
    counts = {split: int(round(len(texts) * fraction)) for split, fraction in fractions.items()}
    train_count = len(texts) - sum(counts.values())
    if train_count < 1 or any(fraction > 0 and counts[split] < 1 for split, fraction in fractions.items()):
        raise DataError(
            f"{source} has {len(texts)} rows, too few for the validation/test shares {fractions}; give more rows "
            "or set data.validation_fraction / data.test_fraction to 0"
        )
    splits, start = {"train": (texts[:train_count], labels[:train_count])}, train_count
    for split, count in counts.items():
        if count:
            splits[split] = (texts[start : start + count], labels[start : start + count])
            start += count
    return splits


def _split_file(folder, split):
    names = VALIDATION_NAMES if split == "validation" else (split,)
    for name in names:
        for suffix in TABLE_DELIMITERS:
            path = folder / f"{name}{suffix}"
            if path.is_file():
                return path
    return None


def read_labelled_dir(path, source, seed=0, validation_fraction=0.1, test_fraction=0.1):
    """`SentenceLabels` of a `.csv`/`.tsv` file or of a folder of `train`/`validation`/`test` tables."""
    path = Path(path).expanduser()
    if not path.exists():
        raise MissingPathError(f"{source}: {str(path)!r} does not exist; give a .csv or .tsv file or a folder of them")
    if path.is_file():
        texts, raw = read_table(path)
        labels, names = _label_ids(raw, str(path))
        fractions = {"validation": validation_fraction, "test": test_fraction}
        return SentenceLabels(_carve(texts, labels, fractions, seed, source), names, source)
    files = {split: _split_file(path, split) for split in SPLITS}
    if files["train"] is None:
        raise MissingPathError(f"{source}: {str(path)!r} holds no train.csv or train.tsv; add one (columns sentence, label)")
    texts, raw = read_table(files["train"])
    labels, names = _label_ids(raw, str(files["train"]))
    tables = {}
    for split in ("validation", "test"):
        if files[split] is not None:
            split_texts, split_raw = read_table(files[split])
            tables[split] = (split_texts, _label_ids(split_raw, str(files[split]), names)[0])
    fractions = {split: fraction for split, fraction in (("validation", validation_fraction), ("test", test_fraction))
                 if split not in tables}
    splits = _carve(texts, labels, fractions, seed, source)
    splits.update(tables)
    if int(max(labels.max(), *(split_labels.max() for _, split_labels in tables.values()))) >= len(names):
        raise DataError(f"{source}: a split has a label id beyond the training file's; number the classes the same")
    return SentenceLabels(splits, names, source)


# --------------------------------------------------------------------------------------------- tfds:


def read_labelled_tfds(spec, source, data_dir=None, seed=0, validation_fraction=0.1):
    """`SentenceLabels` of a TFDS set with a `sentence` (or `text`) feature and a `label` class feature."""
    import tensorflow_datasets as tfds

    from keras_nn.data.tfds import open_builder, tfds_name

    name = tfds_name(spec)
    builder = open_builder(name, source, data_dir)
    features = builder.info.features
    keys = set(features.keys())
    text_key = next((key for key in TEXT_COLUMNS if key in keys), None)
    if text_key is None or "label" not in keys or not isinstance(features["label"], tfds.features.ClassLabel):
        raise DataError(
            f"{source} has features {sorted(keys)}, not a sentence (or text) feature and a label class; use a "
            "sentence classification set such as tfds:glue/sst2"
        )
    builder.download_and_prepare()
    # Mock data (tests) leaves the split metadata empty: the standard three are asked for then.
    available = set(builder.info.splits.keys()) or set(SPLITS)
    if "train" not in available:
        raise DataError(f"{source} has no 'train' split; use a set with one")
    read = {}
    for split in SPLITS:
        if split not in available:
            continue
        texts, labels = [], []
        for example in builder.as_dataset(split=split, shuffle_files=False).as_numpy_iterator():
            texts.append(example[text_key].decode("utf-8"))
            labels.append(int(example["label"]))
        read[split] = (texts, np.array(labels, np.int32))
    note = ""
    hidden = "test" in read and (name.startswith("glue") or bool(np.all(read["test"][1] < 0)))
    if hidden or "test" not in read:
        if "validation" not in read:
            raise DataError(f"{source} has no labelled test or validation split; use a set with one")
        read["test"] = read.pop("validation")
        note = "the set's validation split serves as the test split (its test labels are not public)"
    if "validation" not in read:
        texts, labels = read["train"]
        cut = len(texts) - max(int(round(len(texts) * validation_fraction)), 1)
        if cut < 1:
            raise DataError(f"{source} has {len(texts)} training examples, too few to carve a validation split")
        read["train"], read["validation"] = (texts[:cut], labels[:cut]), (texts[cut:], labels[cut:])
        note += ("; " if note else "") + f"validation is the last {validation_fraction:.0%} of the training split"
    names = list(features["label"].names)
    return SentenceLabels(read, names, source, note=note)


# ------------------------------------------------------------------------------------------------ loader


def load_sentence_labels(
    source="generated:acceptability",
    *,
    seed=0,
    num_train=600,
    num_validation=300,
    num_test=1000,
    validation_fraction=0.1,
    test_fraction=0.1,
    data_dir=None,
):
    """Labelled sentences of a source (see the module docstring).

    Args:
        source: `generated:acceptability`, `dir:FILE.csv|.tsv|FOLDER` or `tfds:NAME`.
        seed: the generated set's seed, and the shuffle that carves a table's splits.
        num_train, num_validation, num_test: examples per split of `generated:acceptability`.
        validation_fraction, test_fraction: shares carved for a split a table or TFDS set lacks.
        data_dir: TFDS data directory.

    Returns:
        A `SentenceLabels`.

    Raises:
        UnknownDatasetError, MissingPathError: a bad source.
        DataError: a file without the columns, labels not in the training split, an empty split.
    """
    if not isinstance(source, str):
        raise UnknownDatasetError(f"data.source={source!r} is not a string; {SOURCE_HELP}")
    for key, value in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"data.{key}={value!r} must be in [0, 1)")
    scheme, _, rest = source.partition(":")
    if source in GENERATED:
        data = generate_acceptability(num_train, num_validation, num_test, seed)
    elif scheme == "dir" and rest:
        data = read_labelled_dir(rest, source, seed, validation_fraction, test_fraction)
    elif scheme == "tfds" and rest:
        data = read_labelled_tfds(rest, source, data_dir, seed, validation_fraction)
    else:
        raise UnknownDatasetError(f"data.source={source!r} is not a labelled sentence source; {SOURCE_HELP}")
    for split, (texts, labels) in data.splits.items():
        if split == "train" and not texts:
            raise DataError(f"{source} has no training sentences; give some")
        if len(labels) and (labels.min() < 0 or labels.max() >= data.num_classes):
            raise DataError(
                f"{source} {split} split has labels outside 0..{data.num_classes - 1}; label every sentence with a class"
            )
    return data
