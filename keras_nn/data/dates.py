"""A generated (synthetic) sequence-to-sequence task: dates written many ways -> ISO 8601 dates.

The source is a date written as Korean text (`"2024년 3월 5일"`, `"2024년 3월 5일 화요일"`, `"2024. 3. 5."`) or in
one of several English and numeric formats (`"March 5, 2024"`, `"Tue, 5 Mar 2024"`, `"2024/03/05"`,
`"03-05-2024"`, `"05.03.2024"`, ...); the target is the same date as `"2024-03-05"`. Every example is generated
from a seeded random number generator, so the data is the same on every machine and needs no download. It is
synthetic: a test bed for attention (the model must find the year, month and day wherever the format puts
them), not a benchmark of real-world text.

Splits are disjoint by *date*: the calendar days of the range are shuffled once and dealt to test,
validation and train, so no held-out date appears in training in any format.

Sequences are character level. Both vocabularies start with the same special tokens: 0 padding (masked), 1
start, 2 end, 3 unknown. Source sequences are `[chars..., end, pad...]`; the decoder reads
`target_in = [start, chars...]` and predicts `target_out = [chars..., end]` (teacher forcing).

Example:
    >>> data = load_dates(train_size=2000, seed=0)
    >>> x, y = next(iter(data.train))
    >>> x["source"].shape, x["target_in"].shape, y.shape
    (TensorShape([64, 32]), TensorShape([64, 11]), TensorShape([64, 11]))
    >>> data.source_vocab.decode(x["source"][0].numpy())
    '2031년 7월 14일 월요일'
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_nn.data.bundle import DatasetBundle
from keras_nn.data.pipeline import batch_examples
from keras_nn.errors import ConfigError

PAD, START, END, UNK = 0, 1, 2, 3
SPECIAL_TOKENS = ("<pad>", "<start>", "<end>", "<unk>")

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
KOREAN_WEEKDAYS = ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일")


# Formats are templates of fields, so every character of a source string also has a field tag (the date
# field tagging task). Each format is unambiguous: numeric formats with the year last differ by separator
# (US month-first with "-" and "/", day-first with "."), so every source string has exactly one reading.
FORMATS = {
    "korean": "{Y}년 {M}월 {D}일",
    "korean_weekday": "{Y}년 {M}월 {D}일 {KW}",
    "korean_padded": "{Y}년 {MM}월 {DD}일",
    "korean_compact": "{Y}년{M}월{D}일",
    "korean_dotted": "{Y}. {M}. {D}.",
    "month_day_year": "{Month} {D}, {Y}",
    "weekday_month_day_year": "{Weekday}, {Month} {D}, {Y}",
    "short_month_day_year": "{Mon} {D}, {Y}",
    "day_short_month_year": "{D} {Mon} {Y}",
    "day_month_year": "{D} {Month} {Y}",
    "short_weekday_day_month_year": "{Wkd}, {D} {Mon} {Y}",
    "upper_day_month_year": "{DD} {MON} {Y}",
    "slashed_ymd": "{Y}/{MM}/{DD}",
    "dashed_mdy": "{MM}-{DD}-{Y}",
    "slashed_mdy": "{M}/{D}/{Y}",
    "dotted_dmy": "{DD}.{MM}.{Y}",
    "compact_ymd": "{Y}{MM}{DD}",
}

#: Tags of the date field tagging task (0 is padding).
FIELD_TAGS = ("<pad>", "O", "YEAR", "MONTH", "DAY", "WEEKDAY")

_FIELDS = {
    "Y": ("YEAR", lambda d: f"{d.year}"),
    "M": ("MONTH", lambda d: f"{d.month}"),
    "MM": ("MONTH", lambda d: f"{d.month:02d}"),
    "Month": ("MONTH", lambda d: MONTHS[d.month - 1]),
    "Mon": ("MONTH", lambda d: MONTHS[d.month - 1][:3]),
    "MON": ("MONTH", lambda d: MONTHS[d.month - 1][:3].upper()),
    "D": ("DAY", lambda d: f"{d.day}"),
    "DD": ("DAY", lambda d: f"{d.day:02d}"),
    "Weekday": ("WEEKDAY", lambda d: WEEKDAYS[d.weekday()]),
    "Wkd": ("WEEKDAY", lambda d: WEEKDAYS[d.weekday()][:3]),
    "KW": ("WEEKDAY", lambda d: KOREAN_WEEKDAYS[d.weekday()]),
}
_FIELD_RE = re.compile(r"\{(\w+)\}")


def render(date: datetime.date, fmt: str):
    """`(text, tags)`: the date written in format `fmt` and the field tag of every character."""
    try:
        template = FORMATS[fmt]
    except KeyError:
        raise ConfigError(f"unknown date format {fmt!r}; choose one of: {', '.join(FORMATS)}") from None
    text, tags, position = [], [], 0
    for match in _FIELD_RE.finditer(template):
        literal = template[position : match.start()]
        text.append(literal)
        tags += ["O"] * len(literal)
        tag, write = _FIELDS[match.group(1)]
        value = write(date)
        text.append(value)
        tags += [tag] * len(value)
        position = match.end()
    text.append(template[position:])
    tags += ["O"] * (len(template) - position)
    return "".join(text), tags


def iso(date: datetime.date) -> str:
    """The target text: `"YYYY-MM-DD"`."""
    return date.isoformat()


def format_date(date: datetime.date, fmt: str) -> str:
    """Writes `date` in the named format (a key of `FORMATS`).

    Example:
        >>> format_date(datetime.date(2024, 3, 5), "korean_weekday")
        '2024년 3월 5일 화요일'
    """
    return render(date, fmt)[0]


class CharVocabulary:
    """A character vocabulary with padding (0), start (1), end (2) and unknown (3) tokens.

    Args:
        characters: the characters, in id order after the four special tokens.

    Example:
        >>> vocab = CharVocabulary("0123456789-")
        >>> vocab.encode("2024", length=6)
        array([ 6,  4,  6,  8,  2,  0], dtype=int32)
        >>> vocab.decode([6, 4, 6, 8, 2, 0])
        '2024'
    """

    pad_id, start_id, end_id, unk_id = PAD, START, END, UNK

    def __init__(self, characters):
        characters = list(dict.fromkeys(characters))
        self.tokens = [*SPECIAL_TOKENS, *characters]
        self._ids = {char: index for index, char in enumerate(self.tokens) if index >= len(SPECIAL_TOKENS)}

    def __len__(self):
        return len(self.tokens)

    @property
    def size(self):
        return len(self.tokens)

    def encode(self, text, length=None, start=False, end=True):
        """Token ids of `text` (unknown characters -> 3), optionally framed by start/end and padded to `length`."""
        ids = [START] if start else []
        ids += [self._ids.get(char, UNK) for char in text]
        if end:
            ids.append(END)
        if length is not None:
            if len(ids) > length:
                raise ConfigError(f"text {text!r} needs {len(ids)} tokens, more than the length {length}")
            ids += [PAD] * (length - len(ids))
        return np.asarray(ids, dtype=np.int32)

    def decode(self, ids):
        """The text of token ids: stops at the first end token, skips padding and start."""
        chars = []
        for token in np.asarray(ids).reshape(-1).tolist():
            if token == END:
                break
            if token in (PAD, START):
                continue
            chars.append(self.tokens[token] if 0 <= token < len(self.tokens) else SPECIAL_TOKENS[UNK])
        return "".join(chars)


def _source_characters():
    samples = {format_date(datetime.date(2000, m, 28), fmt) for fmt in FORMATS for m in range(1, 13)}
    samples |= {format_date(datetime.date(2001, 1, d), fmt) for fmt in FORMATS for d in range(1, 8)}
    return sorted(set("".join(samples)) | set("0123456789"))


SOURCE_VOCAB = CharVocabulary(_source_characters())
TARGET_VOCAB = CharVocabulary("0123456789-")
TARGET_LENGTH = 11  # "YYYY-MM-DD" and the end token


def source_length(formats=None):
    """Tokens in the longest source of these formats (end token included)."""
    # Every day of a leap year covers each month name, weekday and one- or two-digit day and month.
    first = datetime.date(2000, 1, 1).toordinal()
    days = [datetime.date.fromordinal(first + i) for i in range(366)]
    return max(len(format_date(day, fmt)) for fmt in (formats or FORMATS) for day in days) + 1


def save_char_vocabularies(source_vocab, target_vocab, path):
    """Writes a source and a target `CharVocabulary` to the JSON file `path` (what `read_char_vocabularies`
    reads back); returns the path."""
    path = Path(path)
    path.write_text(
        json.dumps({"source": source_vocab.tokens, "target": target_vocab.tokens}, ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    return path


def read_char_vocabularies(path):
    """The `(source, target)` `CharVocabulary` pair saved in `path` (the built-in date ones if there is none)."""
    path = Path(path)
    if not path.is_file():
        return SOURCE_VOCAB, TARGET_VOCAB
    saved = json.loads(path.read_text(encoding="utf-8"))
    special = len(SPECIAL_TOKENS)
    return CharVocabulary(saved["source"][special:]), CharVocabulary(saved["target"][special:])


def split_dates(start_year, end_year, fractions, seed):
    """Shuffles the calendar days of `[start_year, end_year]` once and deals them to the splits.

    Args:
        start_year, end_year: the (inclusive) year range.
        fractions: `{split: share of the days}`; the rest goes to `"train"`.
        seed: seed of the shuffle.

    Returns:
        `{split: array of datetime.date ordinals}`, disjoint.
    """
    first = datetime.date(start_year, 1, 1).toordinal()
    last = datetime.date(end_year, 12, 31).toordinal()
    days = np.random.default_rng(seed).permutation(np.arange(first, last + 1))
    out, offset = {}, 0
    for split, fraction in fractions.items():
        count = max(int(round(fraction * len(days))), 1)
        out[split] = days[offset : offset + count]
        offset += count
    out["train"] = days[offset:]
    return out


def sample_dates(count, days, formats, rng):
    """`count` `(datetime.date, format name)` draws: random days (ordinals) in random formats."""
    chosen = rng.choice(days, size=count, replace=True)
    styles = rng.integers(0, len(formats), size=count)
    return [
        (datetime.date.fromordinal(int(ordinal)), formats[style])
        for ordinal, style in zip(chosen.tolist(), styles.tolist(), strict=True)
    ]


def generate_pairs(count, days, formats, rng):
    """`count` `(source_text, iso_text)` pairs of random days (ordinals) in random formats."""
    return [(format_date(date, fmt), iso(date)) for date, fmt in sample_dates(count, days, formats, rng)]


def _check_generation(train_size, validation_size, test_size, years, formats):
    formats = list(formats or FORMATS)
    for fmt in formats:
        format_date(datetime.date(2000, 1, 1), fmt)
    first, last = (int(v) for v in years)
    if not 1 <= first <= last <= 9999:
        raise ConfigError(f"years={list(years)!r} must be [first, last] with 1 <= first <= last <= 9999")
    for name, value in (("train_size", train_size), ("validation_size", validation_size), ("test_size", test_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < (1 if name == "train_size" else 0):
            raise ConfigError(f"task_options.{name}={value!r} must be an integer >= {1 if name == 'train_size' else 0}")
    return formats, first, last


def _draw_splits(train_size, validation_size, test_size, years, formats, seed):
    """`({split: [(date, format), ...]}, formats)`, the splits disjoint by date."""
    formats, first, last = _check_generation(train_size, validation_size, test_size, years, formats)
    # Held-out days get a share in proportion to their examples (at least 5% each), so they stay varied.
    total = train_size + validation_size + test_size
    fractions = {
        split: max(size / total, 0.05) if size else 0.0
        for split, size in (("test", test_size), ("validation", validation_size))
    }
    days = split_dates(first, last, fractions, seed)
    rng = np.random.default_rng(seed + 1)
    sizes = {"train": train_size, "validation": validation_size, "test": test_size}
    return {split: sample_dates(size, days[split], formats, rng) if size else [] for split, size in sizes.items()}, formats


@dataclasses.dataclass
class Seq2SeqBundle(DatasetBundle):
    """A `DatasetBundle` of a sequence-to-sequence task, with its vocabularies and raw text pairs.

    Batches are `({"source": [B, S], "target_in": [B, T]}, target_out [B, T], weights [B, T])`; weights are 0 at
    padding so neither the loss nor the metrics count it.

    Args (besides `DatasetBundle`'s):
        source_vocab, target_vocab: the vocabulary of each side (`CharVocabulary`, or the `SubwordTokenizer`
            of a translation run).
        source_length, target_length: padded lengths (end token included).
        pairs: `{split: [(source_text, target_text), ...]}` in the splits' fixed order.
    """

    source_vocab: CharVocabulary | None = None
    target_vocab: CharVocabulary | None = None
    source_length: int = 0
    target_length: int = 0
    pairs: dict = dataclasses.field(default_factory=dict, repr=False)

    def arrays(self, split="test", limit=None):
        """`(source ids [N, S], target_out ids [N, T], text pairs)` of a split, in its fixed order."""
        pairs = self.pairs[split][:limit]
        if not pairs:
            return np.zeros((0, self.source_length), np.int32), np.zeros((0, self.target_length), np.int32), []
        source = np.stack([self.source_vocab.encode(s, self.source_length) for s, _ in pairs])
        target = np.stack([self.target_vocab.encode(t, self.target_length) for _, t in pairs])
        return source, target, pairs


def encode_pairs(pairs, source_vocab, target_vocab, source_len, target_len):
    """Encodes text pairs into `(source, target_in, target_out, weights)` arrays for teacher forcing.

    The vocabularies (`CharVocabulary`, `SubwordTokenizer`) give `encode(text, length)` and their special ids.
    """
    source = np.stack([source_vocab.encode(s, source_len) for s, _ in pairs])
    target_out = np.stack([target_vocab.encode(t, target_len) for _, t in pairs])
    # The decoder reads the target shifted right behind a start token (teacher forcing).
    start, end, pad = target_vocab.start_id, target_vocab.end_id, target_vocab.pad_id
    target_in = np.concatenate([np.full((len(pairs), 1), start, np.int32), target_out[:, :-1]], axis=1)
    target_in[target_in == end] = pad
    weights = (target_out != pad).astype(np.float32)
    return source, target_in, target_out, weights


def pairs_dataset(pairs, source_vocab, target_vocab, source_len, target_len):
    """Unbatched `({"source", "target_in"}, target_out, weights)` examples of text pairs."""
    source, target_in, target_out, weights = encode_pairs(pairs, source_vocab, target_vocab, source_len, target_len)
    return tf.data.Dataset.from_tensor_slices(({"source": source, "target_in": target_in}, target_out, weights))


def load_dates(
    train_size=30000,
    validation_size=1000,
    test_size=2000,
    batch_size=64,
    seed=0,
    years=(1950, 2049),
    formats=None,
    shuffle_buffer=10000,
    cache=True,
):
    """The generated date-conversion task as batched tf.data pipelines.

    Args:
        train_size, validation_size, test_size: examples per split (validation/test 0 for none).
        batch_size: examples per batch.
        seed: seed of the date split and of every example; the same seed gives the same data.
        years: `(first, last)` year of the dates, inclusive.
        formats: names of `FORMATS` to draw from (default: all of them).
        shuffle_buffer: training shuffle buffer (examples are shuffled whole, never their steps).
        cache: cache the encoded examples in memory.

    Returns:
        A `Seq2SeqBundle`; `num_classes` is the target vocabulary size, `input_shape` the source length.

    Raises:
        ConfigError: an unknown format, a bad year range or size.
    """
    draws, formats = _draw_splits(train_size, validation_size, test_size, years, formats, seed)
    pairs = {split: [(format_date(date, fmt), iso(date)) for date, fmt in items] for split, items in draws.items()}
    sizes = {split: len(items) for split, items in draws.items()}

    src_len, tgt_len = source_length(formats), TARGET_LENGTH
    examples = {
        split: pairs_dataset(pairs[split], SOURCE_VOCAB, TARGET_VOCAB, src_len, tgt_len) if pairs[split] else None
        for split in sizes
    }

    def batched(split, shuffle):
        return batch_examples(examples, split, batch_size, shuffle, seed, shuffle_buffer, cache)

    return Seq2SeqBundle(
        train=batched("train", True),
        validation=batched("validation", False),
        test=batched("test", False),
        num_classes=TARGET_VOCAB.size,
        input_shape=(src_len,),
        class_names=list(TARGET_VOCAB.tokens),
        form="sequence",
        source="generated:dates",
        num_examples={split: size for split, size in sizes.items() if size},
        _examples=examples,
        source_vocab=SOURCE_VOCAB,
        target_vocab=TARGET_VOCAB,
        source_length=src_len,
        target_length=tgt_len,
        pairs=pairs,
    )


def load_date_fields(
    train_size=10000,
    validation_size=500,
    test_size=1000,
    batch_size=64,
    seed=0,
    years=(1950, 2049),
    formats=None,
    shuffle_buffer=10000,
    cache=True,
):
    """A generated (synthetic) sequence tagging task: the field of every character of a written date.

    The sources are those of `load_dates` (no end token); each character is tagged `O`, `YEAR`, `MONTH`,
    `DAY` or `WEEKDAY` (`FIELD_TAGS`, id 0 is padding). Splits are disjoint by date.

    Args:
        As `load_dates`.

    Returns:
        A `DatasetBundle` of `(char ids [B, S], tag ids [B, S])` batches; `num_classes` counts the tags with
        padding, `class_names` is `FIELD_TAGS`, `input_shape` is `(S,)`.

    Example:
        >>> data = load_date_fields(train_size=2000)
        >>> render(datetime.date(2024, 3, 5), "short_month_day_year")
        ('Mar 5, 2024', ['MONTH', 'MONTH', 'MONTH', 'O', 'DAY', 'O', 'O', 'YEAR', 'YEAR', 'YEAR', 'YEAR'])
    """
    draws, formats = _draw_splits(train_size, validation_size, test_size, years, formats, seed)
    length = source_length(formats) - 1
    tag_ids = {tag: index for index, tag in enumerate(FIELD_TAGS)}
    examples, sizes = {}, {}
    for split, items in draws.items():
        if not items:
            examples[split] = None
            continue
        x = np.zeros((len(items), length), np.int32)
        y = np.zeros((len(items), length), np.int32)
        for row, (date, fmt) in enumerate(items):
            text, tags = render(date, fmt)
            x[row] = SOURCE_VOCAB.encode(text, length, end=False)
            y[row, : len(tags)] = [tag_ids[tag] for tag in tags]
        examples[split] = tf.data.Dataset.from_tensor_slices((x, y))
        sizes[split] = len(items)
    return DatasetBundle(
        train=batch_examples(examples, "train", batch_size, True, seed, shuffle_buffer, cache),
        validation=batch_examples(examples, "validation", batch_size, False, seed, shuffle_buffer, cache),
        test=batch_examples(examples, "test", batch_size, False, seed, shuffle_buffer, cache),
        num_classes=len(FIELD_TAGS),
        input_shape=(length,),
        class_names=list(FIELD_TAGS),
        form="sequence",
        source="generated:date_fields",
        num_examples=sizes,
        _examples=examples,
    )
