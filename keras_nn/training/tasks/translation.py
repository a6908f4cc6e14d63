"""`translation`: a Transformer translator trained on subword pairs, scored with BLEU and chrF.

Data: `generated:ko_en` (synthetic Korean-to-English sentences, the embedded default), `dir:PATH.tsv`
(`source<TAB>target` lines) or `tfds:NAME` (a translation set). SentencePiece subwords are learned on the
training pairs only and saved with the run (the run directory's `subwords/`), with the padded lengths
(`translation.json`) the text front end needs.

Training is teacher forcing with label-smoothed cross-entropy that ignores padding
(`keras_nn.losses.MaskedSparseCategoricalCrossentropy`); the recipe sets Adam with the warmup schedule of the
paper (`schedule.name: transformer`). Evaluation decodes the held-out sources greedily and by beam search and
reports sacrebleu's corpus BLEU and chrF of each (`test_bleu_greedy`, `test_bleu_beam`, `test_chrf_*`) and
the share of exact translations. The report writes `samples.tsv`, cross-attention heat maps of every head,
`attention.png` and `report.md` (`keras_nn.training.reports.translation`).

The run exports a strings-in, strings-out SavedModel and the encoder as TFLite and ONNX
(`keras_nn.config.export_plan.TranslatorExport`).
"""

import json
import time

import keras
import numpy as np
import sacrebleu

from keras_nn.config.export_plan import TranslatorExport
from keras_nn.config.schema import Field
from keras_nn.data.subwords import MODEL_TYPES, load_tokenizers, save_tokenizers
from keras_nn.data.translation import load_translation
from keras_nn.errors import ConfigError

# Imported at module level, not in compile(): loading a run's model.keras needs the loss class registered.
from keras_nn.losses import MaskedSparseCategoricalCrossentropy
from keras_nn.models import create_model
from keras_nn.training.reports.translation import (
    cross_attention,
    plot_cross_attention,
    write_translation_report,
)
from keras_nn.training.tasks.base import check_source, model_arguments, pipeline_arguments, split_arguments
from keras_nn.training.tasks.seq2seq import DECODING_OPTIONS, Seq2SeqTask


class TranslationTask(Seq2SeqTask):
    """Subword translation with a Transformer encoder-decoder, evaluated by BLEU/chrF of greedy and beam search.

    `task_options`: the generated task's split sizes (`train_size`, `validation_size`, `test_size`);
    subwords (`vocab_size`, `target_vocab_size`, `subword_model` bpe|unigram, `shared_vocabulary`); length
    limits in tokens (`max_source_length`, `max_target_length`); `reverse` (swap the sides of a TSV/TFDS
    corpus); decoding (`beam_width`, `length_penalty`, `max_decode_length`, `decode_batch_size`); the report
    (`attention_plots` sentences drawn head by head, `samples` rows of report.md).
    """

    name = "translation"
    options = {
        "train_size": Field((int,), 30000, minimum=1),
        "validation_size": Field((int,), 500, minimum=0),
        "test_size": Field((int,), 1000, minimum=0),
        "vocab_size": Field((int,), 1000, minimum=1, help="SentencePiece pieces (of the source, and the target by default)"),
        "target_vocab_size": Field((int,), None, minimum=1),
        "subword_model": Field((str,), "bpe", choices=MODEL_TYPES),
        "shared_vocabulary": Field((bool,), False),
        "max_source_length": Field((int,), 64, minimum=1),
        "max_target_length": Field((int,), 64, minimum=1),
        "reverse": Field((bool,), False, help="swap the sides of a TSV/TFDS corpus"),
        **DECODING_OPTIONS,
        "attention_plots": Field((int,), 3, minimum=0, help="sentences drawn head by head"),
        "decode_batch_size": Field((int,), 250, minimum=1),
        "samples": Field((int,), 12, minimum=0, help="sample rows in report.md"),
    }

    def __init__(self):
        self.train_seconds = None
        self._decoded = None

    def load_data(self, config):
        source = check_source(config, ("generated:ko_en", "dir:", "tfds:"), self.name)
        options = config["task_options"]
        return load_translation(
            source,
            train_size=options["train_size"],
            validation_size=options["validation_size"],
            test_size=options["test_size"],
            vocab_size=options["vocab_size"],
            target_vocab_size=options["target_vocab_size"],
            subword_model=options["subword_model"],
            shared_vocabulary=options["shared_vocabulary"],
            max_source_length=options["max_source_length"],
            max_target_length=options["max_target_length"],
            data_dir=config["data"]["data_dir"],
            reverse=options["reverse"],
            **pipeline_arguments(config),
            **split_arguments(config),
        )

    def build_model(self, config, bundle):
        arguments = model_arguments(config)
        arguments.setdefault("source_vocab_size", bundle.source_vocab.size)
        arguments.setdefault("target_vocab_size", bundle.target_vocab.size)
        decode_length = config["task_options"]["max_decode_length"] or bundle.target_length
        arguments.setdefault("max_length", max(bundle.source_length, decode_length + 1))
        vocab = bundle.target_vocab
        arguments.setdefault("pad_token", vocab.pad_id)
        arguments.setdefault("start_token", vocab.start_id)
        arguments.setdefault("end_token", vocab.end_id)
        return create_model(config["model"]["name"], **arguments)

    def compile(self, model, config, steps_per_epoch):
        self.compile_model(
            model,
            config,
            steps_per_epoch,
            loss=MaskedSparseCategoricalCrossentropy(
                label_smoothing=config["training"]["label_smoothing"], pad_id=model.pad_token, from_logits=True
            ),
            weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")],
        )

    def fit(self, model, bundle, config, callbacks, verbose):
        started = time.perf_counter()
        history = super().fit(model, bundle, config, callbacks, verbose)
        # The trainer adds train_seconds to metrics.json after the report; report.md wants it too.
        self.train_seconds = time.perf_counter() - started
        return history

    # ---------------------------------------------------------------------------------------------- decoding

    def decode(self, model, bundle, config, split="test", limit=None):
        """Greedy and beam decoding of a split in batches: `{"greedy", "beam", "pairs", "source"}`."""
        # evaluate() and report() both need the test split decoded; decode it once per run.
        key = (split, limit)
        if self._decoded and self._decoded[0] == key:
            return self._decoded[1]
        source, _, pairs = bundle.arrays(split, limit)
        decoded = decode_sources(model, source, bundle.target_vocab, config["task_options"], bundle.target_length)
        decoded.update(pairs=pairs, source=source)
        self._decoded = (key, decoded)
        return decoded

    @staticmethod
    def score(texts, targets):
        return translation_scores(texts, targets)

    # ------------------------------------------------------------------------------------------------ report

    def report(self, model, bundle, config, run, metrics):
        save_tokenizers(bundle.source_vocab, bundle.target_vocab, run.subwords)
        run.translation_lengths.write_text(
            json.dumps({"source_length": bundle.source_length, "target_length": bundle.target_length}, indent=1)
        )
        if not bundle.pairs.get("test"):
            return {}
        decoded = self.decode(model, bundle, config, "test")
        lines = ["source\treference\tgreedy\tbeam"]
        for index, (source, target) in enumerate(decoded["pairs"]):
            lines.append(f"{source}\t{target}\t{decoded['greedy']['texts'][index]}\t{decoded['beam']['texts'][index]}")
        run.samples.write_text("\n".join(lines) + "\n", encoding="utf-8")
        pictures = plot_cross_attention(model, bundle, config, run, decoded)
        write_translation_report(
            run, config, bundle, metrics, decoded, pictures,
            train_seconds=self.train_seconds, num_parameters=model.count_params(),
        )
        return {}

    # ------------------------------------------------------------------------------------ export, front end

    def export_plan(self, model, bundle, config):
        count = config["export"]["verify_samples"]
        split = "test" if bundle.pairs.get("test") else "train"
        source_ids, _, pairs = bundle.arrays(split, count)
        python = decode_sources(
            model, source_ids, bundle.target_vocab, config["task_options"], bundle.target_length, methods=("greedy",)
        )
        return TranslatorExport(
            model,
            source_ids=source_ids,
            source_texts=[source for source, _ in pairs],
            reference_translations=python["greedy"]["texts"],
            source_proto=bundle.source_vocab.proto,
            target_proto=bundle.target_vocab.proto,
            source_length=bundle.source_length,
            max_length=config["task_options"]["max_decode_length"] or bundle.target_length,
        )

    def predict_texts(self, model, run, config, texts, beam_width=None):
        """Translates raw texts: `[{"input", "output", "score", "source_tokens", "output_tokens", "attention"}]`.

        Beam search with the recipe's width unless `beam_width` is given (1 is greedy); `attention` is the
        last decoder layer's cross-attention, averaged over the heads.
        """
        source_vocab, target_vocab = load_tokenizers(run.subwords)
        lengths = json.loads(run.translation_lengths.read_text())
        options = dict(config["task_options"])
        if beam_width is not None:
            if beam_width < 1:
                raise ConfigError(f"--beam-width {beam_width} must be >= 1 (1 is greedy search)")
            options["beam_width"] = beam_width
        source = np.stack([source_vocab.encode(text, lengths["source_length"]) for text in texts])
        method = "greedy" if options["beam_width"] == 1 else "beam"
        result = decode_sources(model, source, target_vocab, options, lengths["target_length"], methods=(method,))[method]
        rows = []
        for index, text in enumerate(texts):
            maps, source_tokens, output_tokens = cross_attention(
                model, source_vocab, target_vocab, source[index], result["tokens"][index]
            )
            rows.append(
                {
                    "input": text,
                    "output": result["texts"][index],
                    "score": float(result["scores"][index]),
                    "source_tokens": source_tokens[:-1],
                    "output_tokens": output_tokens[:-1],
                    "attention": np.mean(maps[-1], axis=0),
                }
            )
        return rows


def decode_sources(model, source, target_vocab, options, target_length, methods=("greedy", "beam")):
    """Decodes source ids (in batches of `options["decode_batch_size"]`) with each method.

    Returns:
        `{method: {"tokens": [ids per sentence, up to the end token], "scores", "texts", "seconds"}}`.
    """
    max_length = options["max_decode_length"] or target_length
    batch_size = options["decode_batch_size"]
    out = {}
    for method in methods:
        started = time.perf_counter()
        if method == "greedy":
            result = model.greedy_decode(source, max_length=max_length, batch_size=batch_size)
        else:
            result = model.beam_decode(
                source,
                beam_width=options["beam_width"],
                length_penalty=options["length_penalty"],
                max_length=max_length,
                batch_size=batch_size,
            )
        tokens = [output_ids(row, target_vocab) for row in np.asarray(result["tokens"])]
        scores = [float(s) for s in np.asarray(result["scores"]).reshape(-1)]
        out[method] = {
            "tokens": tokens,
            "scores": scores,
            "texts": [target_vocab.decode(t) for t in tokens],
            "seconds": time.perf_counter() - started,
        }
    return out


def output_ids(row, vocab):
    """The ids a decoder produced, without a leading start token and cut before the first end token."""
    ids = [int(t) for t in row]
    if ids and ids[0] == vocab.start_id:
        ids = ids[1:]
    if vocab.end_id in ids:
        ids = ids[: ids.index(vocab.end_id)]
    return np.asarray([t for t in ids if t != vocab.pad_id], np.int32)


def translation_scores(hypotheses, references):
    """sacrebleu corpus BLEU and chrF (0-100) and the share of exact translations."""
    return {
        "bleu": round(float(sacrebleu.corpus_bleu(hypotheses, [references]).score), 2),
        "chrf": round(float(sacrebleu.corpus_chrf(hypotheses, [references]).score), 2),
        "exact_match": round(float(np.mean([h == r for h, r in zip(hypotheses, references, strict=True)])), 6),
    }
