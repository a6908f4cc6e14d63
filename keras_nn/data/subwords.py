"""Subword tokenization with SentencePiece (BPE or unigram), trained on a run's training text only.

Ids are fixed: 0 padding, 1 unknown, 2 start (bos), 3 end (eos). A text with characters or words the model
never saw still encodes (they become pieces of known characters or the unknown id 1), so no input crashes it.
The model is a SentencePiece protobuf: `save` writes it as `NAME.model` (and a readable `NAME.vocab`), and
`tensorflow_text.SentencepieceTokenizer(model=tokenizer.proto)` runs the same tokenization inside a TF graph.

References:
    Kudo and Richardson 2018, "SentencePiece: A simple and language independent subword tokenizer and
    detokenizer for Neural Text Processing", https://arxiv.org/abs/1808.06226

Example:
    >>> tokenizer = SubwordTokenizer.train(["나는 사과를 3개 먹었다."] * 100, vocab_size=40)
    >>> ids = tokenizer.encode("나는 배를 먹었다.", length=16)   # "배" never seen: unknown id, no error
    >>> tokenizer.decode(ids)
    '나는 ⁇를 먹었다.'
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from keras_nn.errors import ConfigError, DataError, MissingPathError

PAD, UNK, START, END = 0, 1, 2, 3
MODEL_TYPES = ("bpe", "unigram")


class SubwordTokenizer:
    """A trained SentencePiece model with keras-nn's special ids and the `encode`/`decode` of `CharVocabulary`.

    Args:
        proto: the serialized SentencePiece model (`ModelProto` bytes).

    Attributes:
        pad_id, unk_id, start_id, end_id: 0, 1, 2, 3.
        size: pieces in the vocabulary, special ones included.
    """

    pad_id, unk_id, start_id, end_id = PAD, UNK, START, END

    def __init__(self, proto: bytes):
        import sentencepiece

        self.proto = bytes(proto)
        self._processor = sentencepiece.SentencePieceProcessor(model_proto=self.proto)
        ids = (
            self._processor.pad_id(),
            self._processor.unk_id(),
            self._processor.bos_id(),
            self._processor.eos_id(),
        )
        if ids != (PAD, UNK, START, END):
            raise DataError(
                f"SentencePiece model has special ids {ids} (pad, unk, bos, eos); keras-nn needs (0, 1, 2, 3)"
            )

    @classmethod
    def train(
        cls,
        texts,
        vocab_size=1000,
        model_type="bpe",
        character_coverage=1.0,
        split_digits=True,
        user_defined_symbols=(),
        setting="vocab_size",
    ):
        """Trains a SentencePiece model on `texts`.

        Args:
            texts: training sentences (only the training split, so held-out text stays unseen).
            vocab_size: the wanted number of pieces; a small corpus may give fewer (never an error).
            model_type: `"bpe"` or `"unigram"`.
            character_coverage: share of characters kept as pieces (1.0 keeps every Hangul syllable seen).
            split_digits: one piece per digit, so numbers are copied digit by digit.
            user_defined_symbols: pieces kept whole wherever they occur in a text (e.g. `("[MASK]",)`); they
                take the ids right after the four special ones (4, 5, ...), in the order given.
            setting: the name of the recipe setting `vocab_size` came from, for the error message.

        Returns:
            A `SubwordTokenizer`.

        Raises:
            ConfigError: an unknown model type, a vocabulary smaller than the special pieces, or one smaller than
                the characters `character_coverage` must keep.
            DataError: no text to train on.
        """
        import sentencepiece

        if model_type not in MODEL_TYPES:
            raise ConfigError(
                f"subword model_type={model_type!r} is not allowed; choose one of: {', '.join(MODEL_TYPES)}"
            )
        if not isinstance(vocab_size, int) or vocab_size < 8:
            raise ConfigError(f"subword vocab_size={vocab_size!r} must be an integer >= 8")
        symbols = [str(symbol) for symbol in user_defined_symbols]
        if any(not symbol or symbol.isspace() for symbol in symbols) or len(set(symbols)) != len(symbols):
            raise ConfigError(
                f"user_defined_symbols={symbols!r} must be distinct, non-blank strings such as ['[MASK]']"
            )
        texts = [text for text in texts if text.strip()]
        if not texts:
            raise DataError("no training text to learn subwords from; the training split is empty")
        model = io.BytesIO()
        try:
            sentencepiece.SentencePieceTrainer.train(
                sentence_iterator=iter(texts),
                model_writer=model,
                vocab_size=vocab_size,
                model_type=model_type,
                character_coverage=character_coverage,
                split_digits=split_digits,
                # A small corpus supports fewer pieces than asked; take what it has instead of failing.
                hard_vocab_limit=False,
                pad_id=PAD,
                unk_id=UNK,
                bos_id=START,
                eos_id=END,
                pad_piece="<pad>",
                unk_piece="<unk>",
                bos_piece="<s>",
                eos_piece="</s>",
                user_defined_symbols=symbols,
                num_threads=1,  # one thread: the same text gives the same model on every machine
                minloglevel=2,
            )
        except RuntimeError as error:
            # SentencePiece keeps every character of the text (character_coverage=1.0) as a piece, so a
            # vocabulary smaller than the distinct characters (hundreds of Hangul syllables) cannot be built;
            # its message is "Vocabulary size is smaller than required_chars. 100 vs 712. ...".
            needed = re.search(r"required_chars\. \d+ vs (\d+)", str(error))
            if not needed:
                raise
            raise ConfigError(
                f"{setting}={vocab_size} is smaller than the {needed.group(1)} pieces the training text needs (each "
                f"distinct character is one, plus the special pieces); set {setting} to at least {needed.group(1)}"
            ) from None
        return cls(model.getvalue())

    @classmethod
    def load(cls, path):
        """Reads a `.model` file written by `save`."""
        path = Path(path)
        if not path.is_file():
            raise MissingPathError(
                f"SentencePiece model {str(path)!r} does not exist; was the run trained on text?"
            )
        return cls(path.read_bytes())

    def save(self, path):
        """Writes the model to `path` (`.model`) and its pieces with their scores beside it (`.vocab`)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.proto)
        lines = [
            f"{self._processor.id_to_piece(i)}\t{self._processor.get_score(i):g}" for i in range(self.size)
        ]
        path.with_suffix(".vocab").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    @property
    def size(self):
        return int(self._processor.get_piece_size())

    def __len__(self):
        return self.size

    def pieces(self, text):
        """The subword pieces of `text`, e.g. `['▁나는', '▁사과', '를']`."""
        return list(self._processor.encode_as_pieces(text))

    def id_to_piece(self, ids):
        return [self._processor.id_to_piece(int(i)) for i in ids]

    def encode(self, text, length=None, start=False, end=True):
        """Ids of `text`, optionally framed by start/end and padded (or cut, keeping the end) to `length`."""
        ids = ([START] if start else []) + list(self._processor.encode_as_ids(text))
        if end:
            ids.append(END)
        if length is not None:
            if len(ids) > length:
                ids = ids[: length - 1] + [END] if end else ids[:length]
            ids += [PAD] * (length - len(ids))
        return np.asarray(ids, dtype=np.int32)

    def encode_many(self, texts):
        """Unpadded ids (no start/end) of many texts, in one call."""
        return self._processor.encode_as_ids(list(texts))

    def decode(self, ids):
        """The text of ids: stops at the first end token, skips padding and start."""
        kept = []
        for token in np.asarray(ids).reshape(-1).tolist():
            if token == END:
                break
            if token in (PAD, START) or not 0 <= token < self.size:
                continue
            kept.append(token)
        return self._processor.decode_ids(kept)


def train_tokenizers(pairs, vocab_size=1000, target_vocab_size=None, model_type="bpe", shared=False):
    """`(source, target)` tokenizers learned from training pairs; one model for both sides when `shared`."""
    sources = [source for source, _ in pairs]
    targets = [target for _, target in pairs]
    if shared:
        tokenizer = SubwordTokenizer.train(sources + targets, vocab_size, model_type)
        return tokenizer, tokenizer
    return (
        SubwordTokenizer.train(sources, vocab_size, model_type),
        SubwordTokenizer.train(targets, target_vocab_size or vocab_size, model_type,
                               setting="target_vocab_size" if target_vocab_size else "vocab_size"),
    )


def save_tokenizers(source, target, directory):
    """Writes `source.model` and `target.model` (and their `.vocab`) into `directory`; returns the paths."""
    directory = Path(directory)
    return source.save(directory / "source.model"), target.save(directory / "target.model")


def load_tokenizers(directory):
    """The `(source, target)` tokenizers `save_tokenizers` wrote."""
    directory = Path(directory)
    return SubwordTokenizer.load(directory / "source.model"), SubwordTokenizer.load(
        directory / "target.model"
    )
