"""`seq2seq`: a recurrent encoder-decoder with attention, trained with teacher forcing, evaluated by decoding."""

import time

import keras
import numpy as np

from keras_nn.config.export_plan import Seq2SeqDecoderExport
from keras_nn.config.schema import Field
from keras_nn.data import dates
from keras_nn.errors import DataError
from keras_nn.models import create_model
from keras_nn.training.tasks.base import Task, check_source, model_arguments
from keras_nn.training.tasks.generated_dates import DATE_SPLIT_OPTIONS, load_generated_dates
from keras_nn.viz import plot_attention

#: The decoding keys of a task that decodes (`seq2seq`, `translation`).
DECODING_OPTIONS = {
    "beam_width": Field((int,), 4, minimum=1, help="hypotheses kept by beam search (1 is greedy)"),
    "length_penalty": Field((float,), 0.6, minimum=0.0, help="GNMT alpha of beam search's length normalization"),
    "max_decode_length": Field((int,), None, minimum=1, help="most output tokens (default the target length)"),
    "attention_plots": Field((int,), 4, minimum=0, help="sentences whose attention the report draws"),
    "evaluate_validation": Field((bool,), False, help="decode the validation split too"),
}


class Seq2SeqTask(Task):
    """Encoder-decoder training with teacher forcing, evaluated by decoding.

    Data: `generated:dates` (synthetic: dates written in Korean and mixed English/numeric formats -> ISO
    dates; splits disjoint by date). Training minimizes the cross-entropy of the next target token given the
    true previous ones. Evaluation decodes the held-out sources greedily and by beam search and reports the
    exact-match accuracy of each (`test_exact_match_greedy`, `test_exact_match_beam`) beside the token
    accuracy; the report draws attention heat maps (`attention.png`), writes sample translations
    (`samples.tsv`) and the character vocabularies the text front end reads back. The run exports the
    training model and its greedy decoder (`keras_nn.config.export_plan.Seq2SeqDecoderExport`).
    """

    name = "seq2seq"
    options = {
        **DATE_SPLIT_OPTIONS,
        "train_size": Field((int,), 30000, minimum=1),
        "validation_size": Field((int,), 1000, minimum=0),
        "test_size": Field((int,), 2000, minimum=0),
        **DECODING_OPTIONS,
    }

    def load_data(self, config):
        check_source(config, ("generated:dates",), self.name)
        return load_generated_dates(dates.load_dates, config)

    def build_model(self, config, bundle):
        arguments = model_arguments(config)
        arguments.setdefault("source_vocab_size", bundle.source_vocab.size)
        arguments.setdefault("target_vocab_size", bundle.target_vocab.size)
        arguments.setdefault("source_length", bundle.source_length)
        arguments.setdefault("target_length", bundle.target_length)
        return create_model(config["model"]["name"], **arguments)

    def compile(self, model, config, steps_per_epoch):
        self.reject_label_smoothing(config)
        self.compile_model(
            model, config, steps_per_epoch,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")],
        )

    # ------------------------------------------------------------------------------------------- decoding

    def decode(self, model, bundle, config, split="test", limit=None):
        """Greedy and beam decoding of a split: `{"greedy": result, "beam": result, "pairs": texts}`."""
        options = config["task_options"]
        source, _, pairs = bundle.arrays(split, limit)
        max_length = options["max_decode_length"] or bundle.target_length
        started = time.perf_counter()
        greedy = model.greedy_decode(source, max_length=max_length)
        greedy_seconds = time.perf_counter() - started
        started = time.perf_counter()
        beam = model.beam_decode(
            source, beam_width=options["beam_width"], length_penalty=options["length_penalty"], max_length=max_length
        )
        beam_seconds = time.perf_counter() - started
        for result, seconds in ((greedy, greedy_seconds), (beam, beam_seconds)):
            result["texts"] = [bundle.target_vocab.decode(tokens) for tokens in result["tokens"]]
            result["seconds"] = seconds
        return {"greedy": greedy, "beam": beam, "pairs": pairs, "source": source}

    @staticmethod
    def score(texts, targets):
        """Metrics of decoded texts against their targets (`{name: value}`): the share of exact matches."""
        return {"exact_match": round(float(np.mean([a == b for a, b in zip(texts, targets, strict=True)])), 6)}

    def evaluate(self, model, bundle, config):
        metrics = super().evaluate(model, bundle, config)
        splits = [("test", "test")]
        if config["task_options"]["evaluate_validation"]:
            splits.insert(0, ("validation", "val"))
        for split, prefix in splits:
            if not bundle.pairs.get(split):
                continue
            decoded = self.decode(model, bundle, config, split)
            targets = [target for _, target in decoded["pairs"]]
            for method in ("greedy", "beam"):
                scores = self.score(decoded[method]["texts"], targets)
                metrics.update({f"{prefix}_{name}_{method}": value for name, value in scores.items()})
                metrics[f"{prefix}_{method}_decode_seconds"] = round(decoded[method]["seconds"], 3)
        return metrics

    # --------------------------------------------------------------------------------------------- report

    def report(self, model, bundle, config, run, metrics):
        dates.save_char_vocabularies(bundle.source_vocab, bundle.target_vocab, run.char_vocabularies)
        if not bundle.pairs.get("test"):
            return {}
        count = max(int(config["task_options"]["attention_plots"]), 0)
        decoded = self.decode(model, bundle, config, "test", limit=200)
        lines = ["source\ttarget\tgreedy\tbeam"]
        for index, (source, target) in enumerate(decoded["pairs"]):
            lines.append(f"{source}\t{target}\t{decoded['greedy']['texts'][index]}\t{decoded['beam']['texts'][index]}")
        run.samples.write_text("\n".join(lines) + "\n", encoding="utf-8")
        if count:
            picks = _varied_samples(decoded["pairs"], count)
            plot_attention(
                [decoded["pairs"][i][0] for i in picks],
                [decoded["beam"]["texts"][i] for i in picks],
                decoded["beam"]["attention"][picks],
                run.attention_png,
                title=f"{config['model']['name']} ({config['model'].get('attention', 'bahdanau')} attention), beam search",
            )
        return {}

    # ------------------------------------------------------------------------------------ export, front end

    def export_plan(self, model, bundle, config):
        source, target, _ = bundle.arrays("test", config["export"]["verify_samples"])
        return Seq2SeqDecoderExport(
            model,
            source=source.astype(np.int32),
            target=target.astype(np.int32),
            source_length=bundle.source_length,
            target_length=bundle.target_length,
            decode_tokens=bundle.target_vocab.decode,
        )

    def predict_texts(self, model, run, config, texts, beam_width=None):
        """Decodes raw source texts: `[{"input", "output", "score", "attention"}]` (beam search unless
        `beam_width` is 1)."""
        source_vocab, target_vocab = dates.read_char_vocabularies(run.char_vocabularies)
        length = model.get_config().get("source_length")
        encoded = []
        for text in texts:
            ids = source_vocab.encode(text)
            if length and len(ids) > length:
                raise DataError(f"input {text!r} has {len(ids) - 1} characters; this model reads at most {length - 1}")
            encoded.append(source_vocab.encode(text, length or max(len(source_vocab.encode(t)) for t in texts)))
        options = config["task_options"]
        width = options["beam_width"] if beam_width is None else beam_width
        result = model.beam_decode(np.stack(encoded), beam_width=width, length_penalty=options["length_penalty"])
        return [
            {"input": text, "output": target_vocab.decode(tokens), "score": float(score), "attention": attention}
            for text, tokens, score, attention in zip(texts, result["tokens"], result["scores"], result["attention"], strict=True)
        ]


def _varied_samples(pairs, count):
    """Indices of up to `count` samples in different formats: Korean, named-month English, numeric..."""
    groups = [
        lambda s: "년" in s and "요일" in s,
        lambda s: any(c.isalpha() and c.isascii() for c in s),
        lambda s: "년" in s,
        lambda s: not any(c.isalpha() for c in s),
    ]
    picks = []
    for test in groups:
        index = next((i for i, (source, _) in enumerate(pairs) if test(source) and i not in picks), None)
        if index is not None:
            picks.append(index)
    picks += [i for i in range(len(pairs)) if i not in picks]
    return picks[:count]
