import datetime

import numpy as np
import pytest

from keras_nn.data.dates import (
    END,
    FIELD_TAGS,
    FORMATS,
    PAD,
    SOURCE_VOCAB,
    START,
    TARGET_VOCAB,
    CharVocabulary,
    format_date,
    load_date_fields,
    load_dates,
    render,
    source_length,
)
from keras_nn.errors import ConfigError

DAY = datetime.date(2024, 3, 5)  # a Tuesday


@pytest.mark.parametrize(
    "fmt, text",
    [
        ("korean", "2024년 3월 5일"),
        ("korean_weekday", "2024년 3월 5일 화요일"),
        ("korean_padded", "2024년 03월 05일"),
        ("korean_dotted", "2024. 3. 5."),
        ("month_day_year", "March 5, 2024"),
        ("weekday_month_day_year", "Tuesday, March 5, 2024"),
        ("day_short_month_year", "5 Mar 2024"),
        ("short_weekday_day_month_year", "Tue, 5 Mar 2024"),
        ("upper_day_month_year", "05 MAR 2024"),
        ("slashed_ymd", "2024/03/05"),
        ("dashed_mdy", "03-05-2024"),
        ("slashed_mdy", "3/5/2024"),
        ("dotted_dmy", "05.03.2024"),
        ("compact_ymd", "20240305"),
    ],
)
def test_formats(fmt, text):
    assert format_date(DAY, fmt) == text


def test_every_format_has_one_reading_and_field_tags():
    # Two different days never give the same text in the same format, so the task is well posed.
    days = [datetime.date(2001, 1, 1) + datetime.timedelta(days=i) for i in range(800)]
    for fmt in FORMATS:
        texts = [format_date(d, fmt) for d in days]
        assert len(set(texts)) == len(texts), fmt
    text, tags = render(DAY, "short_month_day_year")
    assert text == "Mar 5, 2024"
    assert tags == ["MONTH"] * 3 + ["O", "DAY", "O", "O"] + ["YEAR"] * 4
    with pytest.raises(ConfigError, match="unknown date format 'klingon'"):
        format_date(DAY, "klingon")


def test_vocabularies():
    assert TARGET_VOCAB.tokens[:4] == ["<pad>", "<start>", "<end>", "<unk>"]
    ids = SOURCE_VOCAB.encode("2024년 3월 5일", length=20)
    assert len("2024년 3월 5일") == 11 and ids[11] == END and (ids[12:] == PAD).all()
    assert SOURCE_VOCAB.decode(ids) == "2024년 3월 5일"
    assert SOURCE_VOCAB.decode(SOURCE_VOCAB.encode("2024 ☃")) == "2024 <unk>"
    vocab = CharVocabulary("ab")
    np.testing.assert_array_equal(vocab.encode("ba", length=5, start=True), [START, 5, 4, END, PAD])
    with pytest.raises(ConfigError, match="more than the length"):
        vocab.encode("abab", length=3)
    longest = max(len(format_date(datetime.date(2000, m, d), f)) for f in FORMATS for m in range(1, 13) for d in range(1, 29))
    assert source_length() == longest + 1


def test_deterministic_and_disjoint_held_out_dates():
    a = load_dates(train_size=3000, validation_size=300, test_size=500, seed=3)
    b = load_dates(train_size=3000, validation_size=300, test_size=500, seed=3)
    c = load_dates(train_size=3000, validation_size=300, test_size=500, seed=4)
    assert a.pairs == b.pairs
    assert a.pairs["test"] != c.pairs["test"]
    train = {target for _, target in a.pairs["train"]}
    validation = {target for _, target in a.pairs["validation"]}
    test = {target for _, target in a.pairs["test"]}
    assert not train & test and not train & validation and not validation & test
    assert a.num_examples == {"train": 3000, "validation": 300, "test": 500}
    sources = [source for source, _ in a.pairs["train"]]
    for mark in ("요일", "년", ". ", "/", "-", ",", "MAR", "day"):
        assert any(mark in source for source in sources), mark
    years = [int(target[:4]) for target in train]
    assert min(years) >= 1950 and max(years) <= 2049


def test_batches_are_teacher_forced_and_shuffled_whole():
    data = load_dates(train_size=500, validation_size=0, test_size=50, batch_size=32, seed=0)
    assert data.validation is None
    known = dict(data.pairs["train"])
    x, y, w = next(iter(data.train))
    source, target_in, y, w = x["source"].numpy(), x["target_in"].numpy(), y.numpy(), w.numpy()
    assert source.shape == (32, data.source_length) and y.shape == (32, 11)
    np.testing.assert_array_equal(target_in[:, 0], START)
    np.testing.assert_array_equal(target_in[:, 1:], y[:, :-1])
    np.testing.assert_array_equal(y[:, -1], END)
    np.testing.assert_array_equal(w, (y != PAD).astype("float32"))
    for row in range(32):
        # Shuffling moves whole examples: every source still sits with its own target.
        assert known[SOURCE_VOCAB.decode(source[row])] == TARGET_VOCAB.decode(y[row])
    order = [SOURCE_VOCAB.decode(s) for s in source]
    assert order != [s for s, _ in data.pairs["train"][:32]]
    src, tgt, pairs = data.arrays("test", limit=5)
    assert [TARGET_VOCAB.decode(t) for t in tgt] == [t for _, t in pairs]


def test_bad_options():
    with pytest.raises(ConfigError, match="train_size"):
        load_dates(train_size=0)
    with pytest.raises(ConfigError, match="years"):
        load_dates(train_size=10, years=(2000, 1990))
    with pytest.raises(ConfigError, match="unknown date format"):
        load_dates(train_size=10, formats=["korean", "nope"])


def test_date_field_tagging_data():
    data = load_date_fields(train_size=200, validation_size=20, test_size=20, formats=["korean_weekday", "dotted_dmy"])
    assert data.num_classes == len(FIELD_TAGS) and data.input_shape == (source_length(["korean_weekday"]) - 1,)
    x, y = data.as_numpy("test")
    for chars, tags in zip(x, y, strict=True):
        text = SOURCE_VOCAB.decode(chars)
        assert (tags[len(text):] == 0).all() and (tags[: len(text)] > 0).all()
        names = [FIELD_TAGS[t] for t in tags[: len(text)]]
        assert names[:4] == ["YEAR"] * 4 if "년" in text else names[:2] == ["DAY", "DAY"]
