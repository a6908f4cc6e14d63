import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_nn.data import list_datasets
from keras_nn.data.language import (
    CharTokenizer,
    load_language,
    load_tokenizer,
    next_token_windows,
    split_text,
    tokenize_corpus,
    window_arrays,
)
from keras_nn.errors import ConfigError, DataError, MissingPathError, UnknownDatasetError


def test_targets_are_the_inputs_shifted_by_one():
    ids = np.arange(10, 21)  # 11 ids
    windows = list(next_token_windows(ids, 4, stride=3).as_numpy_iterator())
    # Starts 0, 3, 6 (a start at 9 would need ids up to 13).
    assert [list(x) for x, _ in windows] == [[10, 11, 12, 13], [13, 14, 15, 16], [16, 17, 18, 19]]
    for x, y in windows:
        np.testing.assert_array_equal(y, x + 1)  # consecutive ids: the next one is one more
    x, y = window_arrays(ids, 5)  # stride = sequence_length: windows tile the ids
    np.testing.assert_array_equal(x.reshape(-1), ids[:10])
    np.testing.assert_array_equal(y.reshape(-1), ids[1:11])
    assert x.dtype == np.int32 and y.dtype == np.int32


def test_too_little_text_names_the_count_and_the_fix():
    with pytest.raises(DataError, match=r"has 5 tokens, fewer than one sequence of sequence_length \+ 1 = 6; give more text or lower task_options.sequence_length"):
        window_arrays(np.arange(5), 5, setting="task_options.sequence_length")
    with pytest.raises(ConfigError, match="stride=0"):
        window_arrays(np.arange(5), 2, stride=0)


def test_char_tokenizer_ids_and_unknowns():
    tokenizer, ids = tokenize_corpus(["ab\n", "ba\n"], level="char")
    assert tokenizer.tokens() == ["<pad>", "<unk>", "\n", "a", "b"]
    np.testing.assert_array_equal(ids, [3, 4, 2, 4, 3, 2])
    np.testing.assert_array_equal(tokenizer.encode("abz"), [3, 4, 1])
    assert tokenizer.decode([0, 3, 4, 1]) == "ab\N{REPLACEMENT CHARACTER}"
    assert tokenizer.unknown("zaby") == ["z", "y"]


def test_blocks_are_contiguous_cut_at_line_ends_and_in_order():
    text = "".join(f"line {i}\n" for i in range(100))
    blocks = split_text(text, 0.1, 0.2)
    assert blocks["train"] + blocks["validation"] + blocks["test"] == text
    for block in blocks.values():
        assert block.endswith("\n")
    assert blocks["test"].startswith("line 8")  # the last fifth, from a line start
    assert split_text(text, 0.0, 0.2)["validation"] is None


def test_no_window_crosses_a_split_and_vocabulary_is_the_training_texts(tmp_path):
    # A character only in the test block must be unknown: the vocabulary comes from training text alone.
    (tmp_path / "a.txt").write_text("".join(f"abc {i % 7}\n" for i in range(160)), "utf-8")
    (tmp_path / "b.txt").write_text("".join("xyz Q\n" for _ in range(40)), "utf-8")
    bundle = load_language(f"dir:{tmp_path}", sequence_length=8, batch_size=4, validation_fraction=0.1, test_fraction=0.2)
    assert "Q" not in bundle.tokenizer.characters and "a" in bundle.tokenizer.characters
    inputs, targets = bundle.windows("test")
    assert (inputs == 1).any()  # Q and x, y, z -> unknown
    text = {split: bundle.tokenizer.decode(ids) for split, ids in bundle.ids.items()}
    for split in ("train", "validation", "test"):
        x, y = bundle.as_numpy(split)
        np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
        for row in x[:5]:
            assert bundle.tokenizer.decode(row) in text[split]
    assert bundle.num_examples == {split: len(bundle.windows(split)[0]) for split in ("train", "validation", "test")}
    batch_x, batch_y = next(iter(bundle.train))
    assert batch_x.shape == (4, 8) and batch_y.shape == (4, 8)
    assert bundle.num_classes == bundle.vocab_size == bundle.tokenizer.size


def test_the_generated_default_and_stride():
    bundle = load_language("generated:sentences", corpus_size=300, sequence_length=16, stride=8, batch_size=8)
    x, y = bundle.as_numpy("train")
    np.testing.assert_array_equal(x[1, :8], x[0, 8:])  # overlapping training windows
    tx, _ = bundle.windows("test")
    assert bundle.num_examples["test"] == len(tx) == (len(bundle.ids["test"]) - 1) // 16  # held out: tiled
    assert bundle.characters["test"] == tx.size
    assert "generated:sentences" in {source for source, _ in list_datasets()}


def test_subword_level_round_trips_and_counts_characters(tmp_path):
    bundle = load_language("generated:sentences", level="subword", vocab_size=120, corpus_size=600, sequence_length=12)
    tokenizer = bundle.tokenizer
    assert tokenizer.size <= 120 and bundle.num_classes == tokenizer.size
    line = "the cats near the dog eat tuna .\nthe fox eats eggs .\n"
    ids = tokenizer.encode(line)
    assert (ids == 3).sum() == 2  # each line ends with the end id
    assert tokenizer.decode(ids) == line
    x, _ = bundle.windows("test")
    assert bundle.characters["test"] == len(tokenizer.decode(bundle.ids["test"][1 : x.size + 1]))
    assert tokenizer.unknown("the cat eats tuna .") == []
    assert "Z" in "".join(tokenizer.unknown("the Zebra eats tuna ."))
    tokenizer.save(tmp_path)
    np.testing.assert_array_equal(load_tokenizer(tmp_path).encode(line), ids)


def test_char_tokenizer_saves_and_loads(tmp_path):
    tokenizer = CharTokenizer.fit(["héllo\n"])
    tokenizer.save(tmp_path)
    assert load_tokenizer(tmp_path).tokens() == tokenizer.tokens()
    with pytest.raises(MissingPathError, match="language_model"):
        load_tokenizer(tmp_path / "nothing")


def test_tfds_tiny_shakespeare_with_mock_data():
    with tfds.testing.mock_data(num_examples=3):
        bundle = load_language("tfds:tiny_shakespeare", sequence_length=8, batch_size=2)
    assert set(bundle.num_examples) == {"train", "validation", "test"}
    x, y = next(iter(bundle.test))
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])


def test_bad_sources(tmp_path):
    with pytest.raises(UnknownDatasetError, match="generated:sentences"):
        load_language("embedded:digits")
    with pytest.raises(MissingPathError, match="does not exist"):
        load_language(f"dir:{tmp_path / 'missing'}")
    with pytest.raises(DataError, match="no .txt files"):
        load_language(f"dir:{tmp_path}")
    (tmp_path / "empty.txt").write_text("  \n", "utf-8")
    with pytest.raises(DataError, match="holds no text"):
        load_language(f"dir:{tmp_path}")
    (tmp_path / "empty.txt").write_bytes(b"\xff\xfe abc")
    with pytest.raises(DataError, match="not UTF-8"):
        load_language(f"dir:{tmp_path}")
    (tmp_path / "empty.txt").write_text("a tiny text\n" * 3, "utf-8")
    with pytest.raises(DataError, match="train split has"):
        load_language(f"dir:{tmp_path}", sequence_length=64)
    with pytest.raises(ConfigError, match="level='word'"):
        load_language("generated:sentences", level="word", corpus_size=50)
