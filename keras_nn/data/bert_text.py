"""BERT's text framing: SentencePiece subwords with `[CLS]`, `[SEP]` and `[MASK]`, encoded as encoder inputs.

Ids are fixed: 0 `[PAD]`, 1 unknown, 2 `[CLS]`, 3 `[SEP]`, 4 `[MASK]`; the subword pieces follow. `[CLS]` and
`[SEP]` are SentencePiece's start and end control ids (so no text can produce them); `[MASK]` is a user-defined
piece, so the string "[MASK]" inside a text encodes to id 4 (a fill-in-the-blank prompt works).

References:
    Devlin, Chang, Lee & Toutanova, "BERT: Pre-training of Deep Bidirectional Transformers for Language
    Understanding", NAACL 2019, https://arxiv.org/abs/1810.04805 (section 3, input representation).
    Kudo and Richardson 2018, "SentencePiece", https://arxiv.org/abs/1808.06226

Example:
    >>> tokenizer = BertTokenizer.fit(["the cat eats tuna."] * 100, vocab_size=40)
    >>> batch = tokenizer.encode_batch(["the cat eats tuna."], sequence_length=12)
    >>> batch["token_ids"][0, 0] == tokenizer.cls_id   # then the pieces, [SEP] and padding to 12
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from keras_nn.data.subwords import SubwordTokenizer
from keras_nn.errors import ConfigError, MissingPathError, ModelFileError

TOKENIZER_FILE = "bert_tokenizer.json"
MODEL_FILE = "bert_subwords.model"
MASK_PIECE = "[MASK]"
FORMAT = "keras_nn.bert_tokenizer"


class BertTokenizer:
    """SentencePiece subwords framed as BERT inputs: `[CLS] ids [SEP]`, then padding.

    Args:
        subwords: a `SubwordTokenizer` trained with `user_defined_symbols=("[MASK]",)` (what `fit` does).

    Attributes:
        pad_id, unk_id, cls_id, sep_id, mask_id: 0, 1, 2, 3, 4.
        size: the vocabulary size, special ids included (the model's `vocab_size`).
        special_ids: `(pad, unk, cls, sep, mask)`, the ids masking never selects (and never draws as a random
            replacement): padding and framing carry no word to predict, `[MASK]` is the corruption itself, and
            the unknown id stands for no word the model could learn.
    """

    pad_id, unk_id, cls_id, sep_id, mask_id = 0, 1, 2, 3, 4
    special_ids = (0, 1, 2, 3, 4)

    def __init__(self, subwords: SubwordTokenizer):
        piece = subwords.id_to_piece([self.mask_id])[0]
        if piece != MASK_PIECE:
            raise ModelFileError(
                f"subword model has {piece!r} at id {self.mask_id}, not {MASK_PIECE!r}; build it with "
                "BertTokenizer.fit"
            )
        self.subwords = subwords

    @classmethod
    def fit(cls, texts, vocab_size=2000, model_type="bpe"):
        """Learns subwords from `texts` (training sentences only).

        Args:
            texts: sentences (an iterable of strings), or one string with a sentence a line.
            vocab_size: the wanted vocabulary size with the special ids; a small corpus may give fewer.
            model_type: `"bpe"` or `"unigram"`.

        Returns:
            A `BertTokenizer`.
        """
        if isinstance(texts, str):
            texts = texts.splitlines()
        return cls(
            SubwordTokenizer.train(
                list(texts), vocab_size=vocab_size, model_type=model_type, user_defined_symbols=(MASK_PIECE,)
            )
        )

    @property
    def size(self):
        return self.subwords.size

    def __len__(self):
        return self.size

    def encode(self, text):
        """The subword ids of `text`, 1-D int32, without `[CLS]`/`[SEP]`."""
        return np.asarray(self.subwords.encode(text, end=False), dtype=np.int32)

    def encode_batch(self, texts, sequence_length):
        """Encoder inputs for `texts`, one segment each: `[CLS] ids [SEP]`, padded (or cut) to `sequence_length`.

        A text longer than `sequence_length - 2` pieces loses its end; `[SEP]` is always kept.

        Returns:
            `{"token_ids", "segment_ids", "padding_mask"}`, numpy int32 `[N, sequence_length]` (segment ids all 0,
            padding mask 1 on `[CLS]`, the pieces and `[SEP]`).
        """
        if not isinstance(sequence_length, int) or sequence_length < 3:
            raise ConfigError(
                f"sequence_length={sequence_length!r} must be an integer >= 3 ([CLS], one piece, [SEP])"
            )
        texts = [texts] if isinstance(texts, str) else list(texts)
        token_ids = np.full((len(texts), sequence_length), self.pad_id, dtype=np.int32)
        for row, ids in enumerate(self.subwords.encode_many(texts)):
            framed = [self.cls_id, *ids[: sequence_length - 2], self.sep_id]
            token_ids[row, : len(framed)] = framed
        return {
            "token_ids": token_ids,
            "segment_ids": np.zeros_like(token_ids),
            "padding_mask": (token_ids != self.pad_id).astype(np.int32),
        }

    def decode(self, ids):
        """The text of ids, skipping padding, `[CLS]`, `[SEP]` and `[MASK]`."""
        framing = (self.pad_id, self.cls_id, self.sep_id, self.mask_id)
        return self.subwords.decode([i for i in np.asarray(ids).reshape(-1).tolist() if i not in framing])

    def id_to_piece(self, ids):
        return self.subwords.id_to_piece(ids)

    def save(self, directory):
        """Writes `bert_tokenizer.json` and `bert_subwords.model` (+ `.vocab`) into `directory`; returns it."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.subwords.save(directory / MODEL_FILE)
        description = {
            "format": FORMAT,
            "model_file": MODEL_FILE,
            "size": self.size,
            "pad_id": self.pad_id,
            "unk_id": self.unk_id,
            "cls_id": self.cls_id,
            "sep_id": self.sep_id,
            "mask_id": self.mask_id,
            "special_ids": list(self.special_ids),
        }
        (directory / TOKENIZER_FILE).write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory):
        """The tokenizer `save` wrote into `directory`.

        Raises:
            MissingPathError: `bert_tokenizer.json` or `bert_subwords.model` is absent (named in the message).
            ModelFileError: the files do not describe a BERT tokenizer.
        """
        directory = Path(directory)
        for name in (TOKENIZER_FILE, MODEL_FILE):
            if not (directory / name).is_file():
                raise MissingPathError(
                    f"BERT tokenizer file {str(directory / name)!r} does not exist; write it with "
                    "BertTokenizer.save (a masked_language_model run saves it under tokenizer/)"
                )
        path = directory / TOKENIZER_FILE
        try:
            description = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ModelFileError(
                f"BERT tokenizer file {str(path)!r} is not readable JSON ({error})"
            ) from None
        if not isinstance(description, dict) or description.get("format") != FORMAT:
            raise ModelFileError(
                f"{str(path)!r} is not a keras-nn BERT tokenizer (format {FORMAT!r} expected)"
            )
        tokenizer = cls(SubwordTokenizer.load(directory / MODEL_FILE))
        if description.get("size") != tokenizer.size:
            raise ModelFileError(
                f"{str(path)!r} says size {description.get('size')!r} but {MODEL_FILE} has {tokenizer.size} "
                "pieces; save the tokenizer again"
            )
        return tokenizer
