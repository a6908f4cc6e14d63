import json

import numpy as np
import pytest

from keras_nn.data.bert_text import BertTokenizer
from keras_nn.data.sentences import generate_sentences
from keras_nn.data.subwords import SubwordTokenizer
from keras_nn.errors import ConfigError, MissingPathError, ModelFileError


@pytest.fixture(scope="module")
def tokenizer():
    return BertTokenizer.fit(generate_sentences(600, seed=1), vocab_size=200)


def test_special_ids_are_the_fixed_pieces(tokenizer):
    assert tokenizer.id_to_piece(range(5)) == ["<pad>", "<unk>", "<s>", "</s>", "[MASK]"]
    named = (tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id)
    assert named == (0, 1, 2, 3, 4)
    assert set(tokenizer.special_ids) == {0, 1, 2, 3, 4}
    assert 5 < tokenizer.size <= 200


def test_user_defined_symbol_is_one_piece_and_ids_0_to_3_unchanged():
    plain = SubwordTokenizer.train(["the cat eats tuna."] * 30, vocab_size=30)
    marked = SubwordTokenizer.train(
        ["the cat eats tuna."] * 30, vocab_size=30, user_defined_symbols=["[MASK]"]
    )
    assert plain.id_to_piece(range(4)) == marked.id_to_piece(range(4))
    assert "[MASK]" not in plain.id_to_piece(range(plain.size))
    assert marked.pieces("a[MASK]b").count("[MASK]") == 1
    with pytest.raises(ConfigError, match="user_defined_symbols"):
        SubwordTokenizer.train(["the cat"] * 30, vocab_size=30, user_defined_symbols=["[M]", "[M]"])


def test_encode_batch_frames_pads_and_cuts(tokenizer):
    ids = tokenizer.encode("the cat eats the fish.")
    assert ids.dtype == np.int32 and ids.ndim == 1 and not set(ids.tolist()) & {0, 2, 3, 4}
    batch = tokenizer.encode_batch(["the cat eats the fish.", "the cat eats the fish. " * 20], 12)
    assert set(batch) == {"token_ids", "segment_ids", "padding_mask"}
    assert all(v.dtype == np.int32 and v.shape == (2, 12) for v in batch.values())
    short = len(ids) + 2
    expected = np.concatenate([[2], ids, [3], np.zeros(12 - short, np.int32)])
    np.testing.assert_array_equal(batch["token_ids"][0], expected)
    np.testing.assert_array_equal(batch["padding_mask"][0], (np.arange(12) < short).astype(np.int32))
    # The long text keeps its first 10 pieces and still ends with [SEP].
    long_ids = tokenizer.encode("the cat eats the fish. " * 20)
    np.testing.assert_array_equal(batch["token_ids"][1], np.concatenate([[2], long_ids[:10], [3]]))
    assert batch["segment_ids"].sum() == 0 and batch["padding_mask"][1].all()
    assert tokenizer.encode_batch(["a [MASK] sleeps"], 8)["token_ids"][0].tolist().count(4) == 1
    with pytest.raises(ConfigError, match="sequence_length"):
        tokenizer.encode_batch(["x"], 2)


def test_round_trip_through_save_and_load(tokenizer, tmp_path):
    tokenizer.save(tmp_path)
    assert json.loads((tmp_path / "bert_tokenizer.json").read_text())["mask_id"] == 4
    loaded = BertTokenizer.load(tmp_path)
    text = "the dog eats the bone."
    assert loaded.size == tokenizer.size
    np.testing.assert_array_equal(loaded.encode(text), tokenizer.encode(text))
    assert loaded.decode(loaded.encode_batch([text], 16)["token_ids"][0]) == text


def test_load_names_the_missing_or_foreign_file(tokenizer, tmp_path):
    with pytest.raises(MissingPathError, match="bert_tokenizer.json"):
        BertTokenizer.load(tmp_path)
    tokenizer.save(tmp_path)
    (tmp_path / "bert_subwords.model").unlink()
    with pytest.raises(MissingPathError, match="bert_subwords.model"):
        BertTokenizer.load(tmp_path)
    other = tmp_path / "other"
    tokenizer.save(other)
    (other / "bert_tokenizer.json").write_text('{"format": "something else"}')
    with pytest.raises(ModelFileError, match="not a keras-nn BERT tokenizer"):
        BertTokenizer.load(other)
