"""The `translation` task: a Transformer translator trained on subword pairs, scored with BLEU and chrF.

Data: `generated:ko_en` (synthetic Korean-to-English sentences, the embedded default), `dir:PATH.tsv`
(`source<TAB>target` lines) or `tfds:NAME` (a translation set). SentencePiece subwords are learned on the
training pairs only and saved with the run (`subwords/source.model`, `subwords/target.model`).

Training is teacher forcing with label-smoothed cross-entropy that ignores padding
(`keras_nn.losses.MaskedSparseCategoricalCrossentropy`); the recipe sets Adam with the warmup schedule of the
paper (`schedule.name: transformer`). Evaluation decodes the held-out sources greedily and by beam search and
reports sacrebleu's corpus BLEU and chrF of each (`test_bleu_greedy`, `test_bleu_beam`, `test_chrf_*`) and
the share of exact translations. The report writes `samples.tsv`, cross-attention heat maps of every head
(`attention/`), `attention.png` (the last layer's mean over heads for a few sentences) and `report.md`.

Export writes a SavedModel whose `serving_default` takes raw strings and returns translations (SentencePiece
tokenization and greedy decoding run inside the graph, `tensorflow_text`), and the encoder as TFLite and ONNX,
each checked against Keras (`export/parity.json`).
"""

import json
import time
from pathlib import Path

import keras
import numpy as np

from keras_nn.errors import ConfigError

# Imported here, not in compile(): loading a run's model.keras needs the loss class registered.
from keras_nn.losses import MaskedSparseCategoricalCrossentropy
from keras_nn.models import create_model
from keras_nn.training.sequence_tasks import (
    Seq2SeqTask,
    _compile,
    _model_arguments,
    _source_scheme,
    check_decoding_options,
)
from keras_nn.training.tasks import Task, register_task
from keras_nn.viz.attention import plot_attention, plot_attention_heads

SUBWORDS_DIR = "subwords"
LENGTHS_FILE = "translation.json"


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
        "train_size": 30000,
        "validation_size": 500,
        "test_size": 1000,
        "vocab_size": 1000,
        "target_vocab_size": None,
        "subword_model": "bpe",
        "shared_vocabulary": False,
        "max_source_length": 64,
        "max_target_length": 64,
        "reverse": False,
        "beam_width": 4,
        "length_penalty": 0.6,
        "max_decode_length": None,
        "decode_batch_size": 250,
        "attention_plots": 3,
        "samples": 12,
        "evaluate_validation": False,
    }

    def check_options(self, options):
        options = check_decoding_options(Task.check_options(self, options))
        for key in ("decode_batch_size", "max_source_length", "max_target_length", "vocab_size"):
            if not isinstance(options[key], int) or isinstance(options[key], bool) or options[key] < 1:
                raise ConfigError(f"task_options.{key}={options[key]!r} must be an integer >= 1")
        if options["subword_model"] not in ("bpe", "unigram"):
            raise ConfigError(
                f"task_options.subword_model={options['subword_model']!r} must be bpe or unigram"
            )
        return options

    def load_data(self, config):
        source = _source_scheme(config, ("generated:ko_en", "dir:", "tfds:"), self.name)
        from keras_nn.data.translation import load_translation

        options, data = config["task_options"], config["data"]
        return load_translation(
            source,
            train_size=options["train_size"],
            validation_size=options["validation_size"],
            test_size=options["test_size"],
            batch_size=data["batch_size"],
            seed=config["training"]["seed"],
            vocab_size=options["vocab_size"],
            target_vocab_size=options["target_vocab_size"],
            subword_model=options["subword_model"],
            shared_vocabulary=options["shared_vocabulary"],
            max_source_length=options["max_source_length"],
            max_target_length=options["max_target_length"],
            validation_fraction=data["validation_fraction"],
            test_fraction=data["test_fraction"],
            data_dir=data["data_dir"],
            reverse=options["reverse"],
            shuffle_buffer=data["shuffle_buffer"],
            cache=data["cache"],
        )

    def build_model(self, config, bundle):
        arguments = _model_arguments(config)
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
        _compile(
            model,
            config,
            steps_per_epoch,
            loss=MaskedSparseCategoricalCrossentropy(
                label_smoothing=config["training"]["label_smoothing"],
                pad_id=model.pad_token,
                from_logits=True,
            ),
            weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")],
        )

    def fit(self, model, bundle, config, callbacks, verbose):
        started = time.perf_counter()
        history = super().fit(model, bundle, config, callbacks, verbose)
        # The trainer adds train_seconds to metrics.json after the report; report.md wants it too.
        self._train_seconds = time.perf_counter() - started
        return history

    # ---------------------------------------------------------------------------------------- decoding

    def decode(self, model, bundle, config, split="test", limit=None):
        """Greedy and beam decoding of a split in batches: `{"greedy", "beam", "pairs", "source"}`."""
        # evaluate() and report() both need the test split decoded; decode it once per model.
        key = (model, split, limit)
        cached = getattr(self, "_cache", None)
        if cached and cached[0] == key:
            return cached[1]
        source, _, pairs = bundle.arrays(split, limit)
        options = config["task_options"]
        decoded = decode_sources(model, source, bundle.target_vocab, options, bundle.target_length)
        decoded.update(pairs=pairs, source=source)
        self._cache = (key, decoded)
        return decoded

    @staticmethod
    def score(texts, targets):
        return translation_scores(texts, targets)

    # ------------------------------------------------------------------------------------------ report

    def report(self, model, bundle, config, run_dir, metrics):
        from keras_nn.data.subwords import save_tokenizers

        run_dir = Path(run_dir)
        save_tokenizers(bundle.source_vocab, bundle.target_vocab, run_dir / SUBWORDS_DIR)
        (run_dir / LENGTHS_FILE).write_text(
            json.dumps(
                {"source_length": bundle.source_length, "target_length": bundle.target_length}, indent=1
            )
        )
        if not bundle.pairs.get("test"):
            return {}
        decoded = self.decode(model, bundle, config, "test")
        self._cache = None  # the task outlives the run; let the model go
        lines = ["source\treference\tgreedy\tbeam"]
        for index, (source, target) in enumerate(decoded["pairs"]):
            lines.append(
                f"{source}\t{target}\t{decoded['greedy']['texts'][index]}\t{decoded['beam']['texts'][index]}"
            )
        (run_dir / "samples.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        pictures = self._plot_attention(model, bundle, config, run_dir, decoded)
        write_report(
            run_dir / "report.md",
            config,
            bundle,
            metrics,
            decoded,
            pictures,
            train_seconds=getattr(self, "_train_seconds", None),
            num_parameters=model.count_params(),
        )
        return {}

    def _plot_attention(self, model, bundle, config, run_dir, decoded):
        count = min(max(int(config["task_options"]["attention_plots"]), 0), len(decoded["pairs"]))
        if not count:
            return []
        picks = varied_samples(decoded["pairs"], count)
        folder = run_dir / "attention"
        folder.mkdir(exist_ok=True)
        written, overview = [], []
        for number, index in enumerate(picks, start=1):
            tokens = decoded["beam"]["tokens"][index]
            maps, source_tokens, output_tokens = cross_attention(
                model, bundle.source_vocab, bundle.target_vocab, decoded["source"][index], tokens
            )
            source_text, _ = decoded["pairs"][index]
            path = plot_attention_heads(
                source_tokens,
                output_tokens,
                maps,
                folder / f"sentence_{number}.png",
                title=f"cross-attention, every layer and head: {source_text} -> {decoded['beam']['texts'][index]}",
            )
            written.append(path)
            overview.append((source_tokens[:-1], output_tokens[:-1], np.mean(maps[-1], axis=0)))
        written.append(
            plot_attention(
                [o[0] for o in overview],
                [o[1] for o in overview],
                [o[2] for o in overview],
                run_dir / "attention.png",
                title=f"{config['model']['name']}: last decoder layer, mean of the heads (beam search)",
            )
        )
        return written

    # ------------------------------------------------------------------------------------------ export

    def export(self, run_dir, model, bundle, config):
        from keras_nn.export.translator import export_translator

        report = export_translator(run_dir, model, bundle, config)
        append_export_report(Path(run_dir) / "report.md", report)
        return report

    # ------------------------------------------------------------------------------------------- front end

    def predict_texts(self, run_dir, model, config, texts, beam_width=None, **_):
        """Translates raw texts: `[{"input", "output", "score", "source_tokens", "output_tokens", "attention"}]`.

        Beam search with the recipe's width unless `beam_width` is given (1 is greedy); `attention` is the
        last decoder layer's cross-attention, averaged over the heads.
        """
        from keras_nn.data.subwords import load_tokenizers

        source_vocab, target_vocab = load_tokenizers(Path(run_dir) / SUBWORDS_DIR)
        lengths = json.loads((Path(run_dir) / LENGTHS_FILE).read_text())
        options = dict(config["task_options"])
        if beam_width is not None:
            if beam_width < 1:
                raise ConfigError(f"--beam-width {beam_width} must be >= 1 (1 is greedy search)")
            options["beam_width"] = beam_width
        source = np.stack([source_vocab.encode(text, lengths["source_length"]) for text in texts])
        method = "greedy" if options["beam_width"] == 1 else "beam"
        result = decode_sources(
            model, source, target_vocab, options, lengths["target_length"], methods=(method,)
        )[method]
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
    import sacrebleu

    return {
        "bleu": round(float(sacrebleu.corpus_bleu(hypotheses, [references]).score), 2),
        "chrf": round(float(sacrebleu.corpus_chrf(hypotheses, [references]).score), 2),
        "exact_match": round(
            float(np.mean([h == r for h, r in zip(hypotheses, references, strict=True)])), 6
        ),
    }


def cross_attention(model, source_vocab, target_vocab, source_ids, output):
    """Cross-attention of one sentence as the decoder produced `output` (ids without start/end).

    Returns:
        `(maps [layers, heads, len(output) + 1, source tokens + 1], source_tokens, output_tokens)`, the token
        lists ending in `"</s>"`; the row of output token t is the step that predicted it.
    """
    length = int(np.sum(np.asarray(source_ids) != source_vocab.pad_id))
    target_in = np.asarray([[target_vocab.start_id, *output]], np.int32)
    maps = model.attention_maps(np.asarray(source_ids)[None], target_in)
    maps = np.stack([np.asarray(layer)[0, :, :, :length] for layer in maps])
    source_tokens = source_vocab.id_to_piece(np.asarray(source_ids)[: length - 1]) + ["</s>"]
    output_tokens = target_vocab.id_to_piece(output) + ["</s>"]
    return maps, source_tokens, output_tokens


def varied_samples(pairs, count):
    """Indices of `count` held-out pairs of different shapes: the longest, a clock time or date, a price..."""
    by_length = sorted(range(len(pairs)), key=lambda i: -len(pairs[i][0]))
    picks = [by_length[0]]
    for marker in (":", ",", "won", "old"):
        index = next((i for i, (_, target) in enumerate(pairs) if marker in target and i not in picks), None)
        if index is not None:
            picks.append(index)
    picks += [i for i in range(len(pairs)) if i not in picks]
    return picks[:count]


def _table(rows):
    header, *body = rows
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in body]
    return "\n".join(lines)


def write_report(path, config, bundle, metrics, decoded, pictures, train_seconds=None, num_parameters=None):
    """`report.md`: the data, greedy and beam BLEU/chrF side by side, training time, samples, attention maps."""
    options = config["task_options"]
    model = config["model"]
    rows = [("decoding", "BLEU", "chrF", "exact match", "seconds")]
    for method, label in (
        ("greedy", "greedy"),
        ("beam", f"beam (width {options['beam_width']}, length penalty {options['length_penalty']})"),
    ):
        rows.append(
            (
                label,
                f"{metrics.get(f'test_bleu_{method}', float('nan')):.2f}",
                f"{metrics.get(f'test_chrf_{method}', float('nan')):.2f}",
                f"{metrics.get(f'test_exact_match_{method}', float('nan')):.4f}",
                f"{metrics.get(f'test_{method}_decode_seconds', float('nan')):.1f}",
            )
        )
    synthetic = (
        " (synthetic, generated from templates; see keras_nn/data/ko_en.py)"
        if bundle.source.startswith("generated:")
        else ""
    )
    model_text = ", ".join(f"{k}={v}" for k, v in model.items() if k != "name")
    lines = [
        f"# {config['name'] or 'translation'}: {model['name']} on {bundle.source}",
        "",
        f"Data: `{bundle.source}`{synthetic}; {', '.join(f'{n} {s}' for s, n in bundle.num_examples.items())} pairs. "
        f"Subwords: SentencePiece {options['subword_model']}, {bundle.source_vocab.size} source and "
        f"{bundle.target_vocab.size} target pieces, learned on the training pairs only (`{SUBWORDS_DIR}/`). "
        f"Padded lengths: source {bundle.source_length}, target {bundle.target_length} tokens.",
        "",
        f"Model: `{model['name']}` ({model_text})"
        + (f", {num_parameters:,} parameters." if num_parameters else "."),
    ]
    if train_seconds is not None:
        epochs = config["training"]["epochs"]
        lines.append(
            f"Training: {epochs} epoch{'s' if epochs != 1 else ''} in {train_seconds / 60:.1f} min ({train_seconds:.0f} s)."
        )
    lines += [
        "",
        f"## Held-out translations ({len(decoded['pairs'])} test pairs, sacrebleu corpus BLEU and chrF)",
        "",
        _table(rows),
    ]
    expected = metrics.get("expected")
    if expected:
        lines += [
            "",
            f"Expected {expected['metric']} >= {expected['min']}: {'met' if expected['met'] else 'NOT met'} ({expected['value']}).",
        ]
    count = int(options["samples"])
    if count:
        sample_rows = [("source", "reference", "greedy", "beam")]
        for index, (source, target) in enumerate(decoded["pairs"][:count]):
            sample_rows.append(
                (source, target, decoded["greedy"]["texts"][index], decoded["beam"]["texts"][index])
            )
        lines += ["", "## Sample translations", "", _table(sample_rows), "", "All test pairs: `samples.tsv`."]
    if pictures:
        lines += ["", "## Cross-attention", ""]
        lines += [f"![{Path(p).stem}]({Path(p).relative_to(Path(path).parent)})" for p in pictures]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)


def append_export_report(path, report):
    """Adds the export's files and parity to `report.md`."""
    path = Path(path)
    if not path.is_file():
        return
    rows = [
        ("file", "runtime", "samples", "max abs error (encoder outputs)", "translations identical to Python")
    ]
    for row in report["parity"]:
        agreement = row.get("translation_agreement")
        rows.append(
            (
                Path(row["path"]).name,
                row["runtime"],
                row["samples"],
                f"{row['max_abs_error']:.2e}",
                "-" if agreement is None else f"{agreement:.4f}",
            )
        )
    text = (
        path.read_text(encoding="utf-8") + "\n## Export\n\n" + _table(rows) + "\n\nSee `export/NOTES.md`.\n"
    )
    path.write_text(text, encoding="utf-8")


register_task(TranslationTask())
