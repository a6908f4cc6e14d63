"""Labelled sentences: the generated acceptability set, CSV/TSV tables and TFDS sets (mock data)."""

import random

import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_nn.data.sentence_labels import (
    ACCEPTABILITY_CLASSES,
    corrupt,
    generate_acceptability,
    load_sentence_labels,
)
from keras_nn.data.sentences import ANIMALS, generate_sentences
from keras_nn.errors import DataError, MissingPathError, UnknownDatasetError


@pytest.fixture(scope="module")
def acceptability():
    return generate_acceptability(num_train=200, num_validation=100, num_test=300, seed=3)


def _corpus_lines(num, seed):
    lines = generate_sentences(num, seed).splitlines()
    # A question and its answer are one example, as in the acceptability set.
    out, index = [], 0
    while index < len(lines):
        if lines[index].endswith("?"):
            out.append(f"{lines[index]} {lines[index + 1]}")
            index += 2
        else:
            out.append(lines[index])
            index += 1
    return out


def test_acceptability_is_balanced_unique_and_seeded(acceptability):
    assert acceptability.class_names == ACCEPTABILITY_CLASSES
    assert acceptability.num_examples == {"train": 200, "validation": 100, "test": 300}
    texts = []
    for split, (split_texts, labels) in acceptability.splits.items():
        assert labels.dtype == np.int32 and np.bincount(labels).tolist() == [len(labels) // 2] * 2
        assert [kind == "none" for kind in acceptability.kinds[split]] == (labels == 1).tolist()
        texts += split_texts
    assert len(set(texts)) == len(texts)
    again = generate_acceptability(num_train=200, num_validation=100, num_test=300, seed=3)
    assert again.splits["test"][0] == acceptability.splits["test"][0]
    other = generate_acceptability(num_train=200, num_validation=100, num_test=300, seed=4)
    assert other.splits["test"][0] != acceptability.splits["test"][0]


def test_acceptable_sentences_are_the_grammars_and_corrupted_ones_are_not(acceptability):
    grammar = set(_corpus_lines(60000, 11))
    for texts, labels in acceptability.splits.values():
        for text, label in zip(texts, labels, strict=True):
            if label == 0:
                assert text not in grammar, text
    # The acceptable ones are sentences the generator makes (the grammar's most frequent ones at least).
    accepted = [text for text, label in zip(*acceptability.splits["train"], strict=True) if label == 1]
    assert sum(text in grammar for text in accepted) > 0.5 * len(accepted)


def test_no_corruption_is_visible_to_a_word_pair_model(acceptability):
    # Every word pair of a corrupted sentence also occurs in acceptable text: spotting the corruption takes
    # words further apart (the subject), not a pair never seen.
    pairs = set()
    for line in _corpus_lines(40000, 5):
        words = line.split()
        pairs.update(zip(words, words[1:], strict=False))
    for texts, labels in acceptability.splits.values():
        for text, label in zip(texts, labels, strict=True):
            words = text.split()
            assert set(zip(words, words[1:], strict=False)) <= pairs or label == 1, text


def test_corruptions_by_hand():
    rng = random.Random(0)
    assert corrupt("the cats that the dog sees eat fish .", "agreement", rng) == "the cats that the dog sees eats fish ."
    assert corrupt("does the bird eat seeds ? yes , it does .", "agreement", rng) == "do the bird eat seeds ? yes , it does ."
    assert corrupt("the mice are old , so they eat grain .", "pronoun", rng) == "the mice are old , so it eats grain ."
    assert corrupt("do the cats eat fish ? no , they eat milk .", "pronoun", rng) == "do the cats eat fish ? no , it eats milk ."
    for _ in range(20):
        words = corrupt("the bird near the foxes eats worms at night .", "selection", rng).split()
        assert words[6] not in ANIMALS["bird"][1] and words[:6] + words[7:] == "the bird near the foxes eats at night .".split()
        words = corrupt("the dogs chase the balls on the roof .", "selection", rng).split()
        assert words[4] not in ANIMALS["dog"][2] and words[4] != "balls"


def test_csv_with_named_labels_is_carved_into_splits(tmp_path):
    rows = ["text,label"] + [f"sentence {i},{'good' if i % 2 else 'bad'}" for i in range(20)]
    path = tmp_path / "labels.csv"
    path.write_text("\n".join(rows) + "\n")
    data = load_sentence_labels(f"dir:{path}", validation_fraction=0.1, test_fraction=0.2, seed=1)
    assert data.class_names == ["bad", "good"]
    assert data.num_examples == {"train": 14, "validation": 2, "test": 4}
    by_text = {text: int(label) for split in data.splits.values() for text, label in zip(*split, strict=True)}
    assert by_text == {f"sentence {i}": i % 2 for i in range(20)}


def test_a_spreadsheet_export_with_a_byte_order_mark_reads(tmp_path):
    # Excel writes "UTF-8 CSV" with a byte-order mark in front of the first header name.
    path = tmp_path / "excel.csv"
    path.write_text("sentence,label\n" + "".join(f"line {i},{i % 2}\n" for i in range(10)), encoding="utf-8-sig")
    data = load_sentence_labels(f"dir:{path}", validation_fraction=0.1, test_fraction=0.1, seed=0)
    assert sum(data.num_examples.values()) == 10 and data.class_names == ["0", "1"]


def test_tsv_folder_with_int_labels_keeps_its_splits(tmp_path):
    (tmp_path / "train.tsv").write_text("label\tsentence\n0\ta\n1\tb\n2\tc\n1\td\n0\te\n")
    (tmp_path / "dev.tsv").write_text("label\tsentence\n1\tf\n")
    (tmp_path / "test.tsv").write_text("label\tsentence\n2\tg\n0\th\n")
    data = load_sentence_labels(f"dir:{tmp_path}", validation_fraction=0.2)
    assert data.class_names == ["0", "1", "2"]
    assert data.splits["validation"][0] == ["f"] and data.splits["test"][1].tolist() == [2, 0]
    assert sorted(data.splits["train"][0]) == ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("sentence,kind\na,1\n", "no a label column"),
        ("words,label\na,1\n", "no a sentence (or text) column"),
        ("sentence,label\n", "no rows under its header"),
        ("sentence,label\na\n", "line 2 has 1 cells"),
    ],
)
def test_bad_tables_are_named_in_one_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match="bad.csv") as error:
        load_sentence_labels(f"dir:{path}")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_missing_file_and_unknown_source():
    with pytest.raises(MissingPathError, match="nowhere.csv"):
        load_sentence_labels("dir:/nowhere.csv")
    with pytest.raises(UnknownDatasetError, match="generated:acceptability"):
        load_sentence_labels("generated:sentences")


def test_glue_sst2_with_mock_data_uses_validation_as_test():
    with tfds.testing.mock_data(num_examples=20):
        data = load_sentence_labels("tfds:glue/sst2", validation_fraction=0.25)
    assert data.class_names == ["negative", "positive"]
    assert data.num_examples == {"train": 15, "validation": 5, "test": 20}
    assert "validation split serves as the test split" in data.note
    assert all(isinstance(text, str) for text in data.splits["train"][0])
