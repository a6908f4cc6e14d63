"""Translation data: the generated Korean-English task, SentencePiece subwords, TSV and TFDS parallel corpora."""

import calendar
import re

import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_nn.data.ko_en import MONTHS, WEEKDAYS, generate_ko_en, has_final_consonant, particle, split_ko_en
from keras_nn.data.subwords import END, PAD, START, UNK, SubwordTokenizer, load_tokenizers, save_tokenizers
from keras_nn.data.translation import load_translation, load_translation_pairs, read_parallel_tsv
from keras_nn.errors import ConfigError, DataError, MissingPathError, UnknownDatasetError

# ------------------------------------------------------------------------------------ generated ko-en


def test_particles_follow_the_final_consonant():
    # 책 (chaek) ends in a consonant, 사과 (sagwa) in a vowel; digits as read aloud: 3 sam, 2 i.
    assert particle("책", "을", "를") == "책을" and particle("사과", "을", "를") == "사과를"
    assert particle("선생님", "은", "는") == "선생님은" and particle("우리", "은", "는") == "우리는"
    assert has_final_consonant("3") and not has_final_consonant("2")


def test_generated_pairs_are_seeded_and_varied():
    pairs = generate_ko_en(400, seed=5)
    assert pairs == generate_ko_en(400, seed=5)
    assert pairs != generate_ko_en(400, seed=6)
    korean = " ".join(k for k, _ in pairs)
    english = " ".join(e for _, e in pairs)
    assert re.search(r"[가-힣]", korean) and not re.search(r"[가-힣]", english)
    for marker in ("will", "years old", "There ", "It is", " won.", ":", "am", "pm"):
        assert marker in english, marker  # every kind of sentence occurs
    assert all(e[0].isupper() and e.endswith(".") and k.endswith(".") for k, e in pairs)


def test_counts_dates_and_weekdays_translate_consistently():
    native = dict(
        zip(
            "한 두 세 네 다섯 여섯 일곱 여덟 아홉 열".split(),
            "one two three four five six seven eight nine ten".split(),
            strict=True,
        )
    )
    weekday_en = dict(WEEKDAYS)
    for korean, english in generate_ko_en(3000, seed=1):
        # Digit counts are copied; native numerals become words.
        for count in re.findall(r"(\d+)(?:개|권|마리|잔|장|자루|명)", korean):
            assert re.search(rf"\b{count}\b", english), (korean, english)
        for word in re.findall(
            r"(?:^| )(한|두|세|네|다섯|여섯|일곱|여덟|아홉|열) (?:개|권|마리|잔|장|자루|명)", korean
        ):
            assert native[word] in english.lower().split(), (korean, english)
        # A date with a year names its own weekday.
        full = re.search(r"(\d{4})년 (\d+)월 (\d+)일 (\S요일)", korean)
        if full:
            year, month, day = (int(v) for v in full.groups()[:3])
            assert weekday_en[full.group(4)] == calendar.day_name[calendar.weekday(year, month, day)]
            assert f"{MONTHS[month - 1]} {day}, {year}" in english, (korean, english)


def test_splits_are_disjoint_by_english_sentence():
    splits = split_ko_en(train_size=3000, validation_size=100, test_size=300, seed=0)
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [3000, 100, 300]
    train = {e for _, e in splits["train"]}
    held_out = [e for s in ("validation", "test") for _, e in splits[s]]
    assert len(set(held_out)) == len(held_out) and not train & set(held_out)
    assert split_ko_en(3000, 100, 300, seed=0) == splits
    with pytest.raises(ConfigError, match="train_size"):
        split_ko_en(train_size=0)


# ------------------------------------------------------------------------------------------- subwords


@pytest.fixture(scope="module")
def tokenizer():
    texts = [k for k, _ in generate_ko_en(1500, seed=0)]
    return SubwordTokenizer.train(texts, vocab_size=300)


def test_tokenizer_special_ids_and_round_trip(tokenizer):
    assert tokenizer.id_to_piece([PAD, UNK, START, END]) == ["<pad>", "<unk>", "<s>", "</s>"]
    text = "나는 사과를 3개 먹었다."
    ids = tokenizer.encode(text, length=30, start=True)
    assert ids[0] == START and ids.dtype == np.int32 and len(ids) == 30
    real = ids[ids != PAD]
    assert real[-1] == END and PAD not in real
    assert tokenizer.decode(ids) == text
    # Digits are split one piece each, so any number is copied digit by digit.
    assert [p for p in tokenizer.pieces("12345") if p != "▁"] == list("12345")


def test_unknown_characters_and_words_never_crash(tokenizer):
    for text in ("鬱蒼 zebra ☃ 𝔘𝔫𝔦", "", "   ", "ㄱㄴㄷ", "a" * 500):
        ids = tokenizer.encode(text, length=16)
        assert ids.shape == (16,) and ids.max() < tokenizer.size
        assert END in ids  # cut to the length, the end token kept
        tokenizer.decode(ids)
    assert UNK in tokenizer.encode("鬱")


def test_tokenizer_files_round_trip_and_training_is_deterministic(tokenizer, tmp_path):
    source_path, _ = save_tokenizers(tokenizer, tokenizer, tmp_path)
    assert source_path.with_suffix(".vocab").read_text(encoding="utf-8").startswith("<pad>\t0")
    loaded, _ = load_tokenizers(tmp_path)
    text = "서연은 내일 도서관에서 책을 두 권 읽을 것이다."
    np.testing.assert_array_equal(loaded.encode(text), tokenizer.encode(text))
    retrained = SubwordTokenizer.train([k for k, _ in generate_ko_en(1500, seed=0)], vocab_size=300)
    assert retrained.proto == tokenizer.proto
    with pytest.raises(MissingPathError, match="does not exist"):
        load_tokenizers(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="model_type"):
        SubwordTokenizer.train(["a b c"], model_type="word2vec")
    with pytest.raises(DataError, match="no training text"):
        SubwordTokenizer.train(["", " "])


def test_a_vocabulary_smaller_than_the_characters_names_the_size_that_works():
    # Every distinct character is a piece (character_coverage=1.0): 20 Hangul syllables and a space need 20 + 1
    # pieces plus the 4 special ones; SentencePiece's own error is a multi-line RuntimeError.
    texts = ["가나다라마 바사아자차 카타파하거 너더러머버"] * 20
    with pytest.raises(ConfigError, match=r"target_vocab_size=12 is smaller than the 25 pieces .* at least 25"):
        SubwordTokenizer.train(texts, vocab_size=12, setting="target_vocab_size")
    assert SubwordTokenizer.train(texts, vocab_size=25).size == 25


# ------------------------------------------------------------------------------------ TSV and TFDS


def test_tsv_corpus(tmp_path):
    path = tmp_path / "pairs.tsv"
    lines = [f"문장 {i}\tsentence {i}\tCC-BY attribution" for i in range(40)]
    path.write_text("\n".join(lines[:20]) + "\n\n" + "\n".join(lines[20:]) + "\n", encoding="utf-8")
    pairs = read_parallel_tsv(path)
    assert len(pairs) == 40 and pairs[3] == ("문장 3", "sentence 3")  # blank line skipped, 3rd column ignored
    assert read_parallel_tsv(path, reverse=True)[3] == ("sentence 3", "문장 3")
    splits = load_translation_pairs(f"dir:{path}", validation_fraction=0.1, test_fraction=0.2, seed=0)
    assert sorted(len(v) for v in splits.values()) == [4, 8, 28]
    assert sorted(p for v in splits.values() for p in v) == sorted(pairs)


@pytest.mark.parametrize(
    "content, message",
    [("안녕\thello\nno tab here\n", "line 2"), ("안녕\t\n", "line 1"), ("\n\n", "holds no sentence pairs")],
)
def test_tsv_errors_name_the_line(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_parallel_tsv(path)


def test_tsv_missing_file_and_bad_encoding(tmp_path):
    with pytest.raises(MissingPathError, match="does not exist"):
        read_parallel_tsv(tmp_path / "missing.tsv")
    path = tmp_path / "latin1.tsv"
    path.write_bytes("café\tcoffee\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_parallel_tsv(path)
    with pytest.raises(UnknownDatasetError, match="not a translation source"):
        load_translation_pairs("embedded:digits")


def test_tfds_translation_set_with_mock_data():
    with tfds.testing.mock_data(num_examples=12):
        bundle = load_translation("tfds:ted_hrlr_translate/pt_to_en", vocab_size=40, batch_size=4)
    assert set(bundle.num_examples) == {"train", "validation", "test"}
    source, target = bundle.pairs["train"][0]
    assert isinstance(source, str) and isinstance(target, str)
    x, y, weights = next(iter(bundle.test))
    assert x["source"].shape[1] == bundle.source_length and y.shape == weights.shape


# ----------------------------------------------------------------------------------------- the bundle


@pytest.fixture(scope="module")
def bundle():
    return load_translation(
        "generated:ko_en", train_size=1000, validation_size=50, test_size=100, vocab_size=300, batch_size=32
    )


def test_bundle_teacher_forcing_batches(bundle):
    x, y, weights = next(iter(bundle.test))
    source, target_in = x["source"].numpy(), x["target_in"].numpy()
    y, weights = y.numpy(), weights.numpy()
    assert source.shape == (32, bundle.source_length) and y.shape == (32, bundle.target_length)
    # target_in is target_out shifted right behind the start token; the weights mark the real tokens.
    np.testing.assert_array_equal(target_in[:, 0], START)
    np.testing.assert_array_equal(target_in[:, 1:][weights[:, 1:] > 0], y[:, :-1][weights[:, 1:] > 0])
    assert np.all((y == END).sum(axis=1) == 1) and np.all(weights == (y != PAD))
    first_source, first_target = bundle.pairs["test"][0]
    assert bundle.source_vocab.decode(source[0]) == first_source
    assert bundle.target_vocab.decode(y[0]) == first_target


def test_training_batches_are_bucketed_by_length(bundle):
    batches = list(bundle.train)
    assert len(batches) == bundle.train.cardinality().numpy()
    assert sum(len(y) for _, y, _ in batches) == bundle.num_examples["train"]
    widths = [y.shape[1] for _, y, _ in batches]
    assert min(widths) < max(widths) <= bundle.target_length
    for x, _, weights in batches:
        # Cut to the longest pair of the batch: the last column holds a real token.
        assert weights.numpy()[:, -1].any() and (x["source"].numpy()[:, -1] != PAD).any()
