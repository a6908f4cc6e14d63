"""`masked_language_model`: BERT pretraining by predicting masked tokens, scored on held-out sentences.

Data: `generated:sentences` (the embedded synthetic grammar corpus), `dir:PATH` (`.txt` files) or `tfds:NAME`
with a `text` feature, read by `keras_nn.data.language.read_language_source` into contiguous blocks, one
sentence (line) an example. A `BertTokenizer` (SentencePiece subwords with `[CLS]`, `[SEP]`, `[MASK]`) is
learned on the training sentences only and saved into the run (`run.root / "tokenizer"`); each sentence becomes
`[CLS] pieces [SEP]` padded to `task_options.sequence_length`.

Masking is dynamic (`keras_nn.data.masking`): the training pipeline draws new masks for every batch of every
epoch after the cache (15% of the tokens, 80% `[MASK]`, 10% random, 10% kept; Devlin et al. 2019, section 3.1);
validation and test keep one fixed draw, so their numbers compare across epochs and runs. The model
(`bert_masked_lm`) trains with sparse cross-entropy from logits averaged over the masked tokens only (the unused
prediction slots weigh 0). Reported: held-out masked-token accuracy and perplexity (exp of the mean
cross-entropy over the masked tokens).

Fine-tuning reads the run back with `load_pretrained_encoder(run_dir)` (the masked LM, its `.backbone` the
encoder, and the tokenizer); another task pretrains inline with `pretrain_masked_language_model(config)`.
Export: none. The encoder takes three inputs and the exporters take single-input models, and a masked LM
alone (a gather at given positions) serves no deployment; the encoder is used by fine-tuning instead.

References:
    Devlin, Chang, Lee & Toutanova, "BERT: Pre-training of Deep Bidirectional Transformers for Language
    Understanding", NAACL 2019, https://arxiv.org/abs/1810.04805
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
import yaml

from keras_nn.config.recipe import validate as validate_recipe
from keras_nn.config.schema import Field
from keras_nn.data.bert_text import BertTokenizer
from keras_nn.data.bundle import DatasetBundle
from keras_nn.data.language import read_language_source
from keras_nn.data.masking import check_masking, default_num_masks, masked_dataset
from keras_nn.data.subwords import MODEL_TYPES
from keras_nn.errors import ConfigError, DataError, MissingPathError, ModelFileError
from keras_nn.files import atomic_write_text
from keras_nn.metrics.perplexity import perplexity, target_log_probs
from keras_nn.models import create_model
from keras_nn.training.tasks.base import Task, check_source, model_arguments, split_arguments
from keras_nn.viz import markdown_table

SOURCES = ("generated:sentences", "dir:", "tfds:")
NAME = "masked_language_model"


@dataclasses.dataclass
class MaskedTextBundle(DatasetBundle):
    """A `DatasetBundle` of masked sentences `(inputs, targets, sample_weight)` and what made them.

    Args (besides `DatasetBundle`'s; `num_classes` is the vocabulary size, `input_shape` `(sequence_length,)`):
        tokenizer: the `BertTokenizer` learned on the training sentences.
        sequence_length: tokens per example (`[CLS]`, pieces, `[SEP]`, padding).
        num_masks: prediction slots per example.
        encoded: `{split: encoder dict of numpy [N, L]}` (before masking).
        truncated: `{split: share of the sentences cut to fit}`.
    """

    tokenizer: BertTokenizer = None
    sequence_length: int = 0
    num_masks: int = 0
    encoded: dict = dataclasses.field(default_factory=dict)
    truncated: dict = dataclasses.field(default_factory=dict)


def masking_arguments(options, tokenizer, num_masks):
    """The `mask_tokens` keyword arguments of a run's `task_options` and tokenizer."""
    return {
        "vocab_size": tokenizer.size,
        "mask_id": tokenizer.mask_id,
        "special_ids": tokenizer.special_ids,
        "selection_rate": options["selection_rate"],
        "mask_token_rate": options["mask_token_rate"],
        "random_token_rate": options["random_token_rate"],
        "num_masks": num_masks,
    }


def masked_lm_loss():
    """Sparse cross-entropy from logits, averaged over the used prediction slots only (weights 1), so the loss is
    the mean negative log-likelihood of the masked tokens (its exp the perplexity)."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")


class MaskedLanguageModelTask(Task):
    """Masked-token prediction (BERT pretraining) on sentences, one a line.

    `task_options`: the tokens (`vocab_size`, `subword_model`, `sequence_length` with `[CLS]`/`[SEP]`),
    `corpus_size` (sentences of `generated:sentences`), and the masking (`selection_rate`, `mask_token_rate`,
    `random_token_rate`, `num_masks`: prediction slots a sentence, default `ceil(selection_rate *
    sequence_length)`).
    """

    name = NAME
    options = {
        "sequence_length": Field((int,), 32, minimum=3, help="tokens an example: [CLS], pieces, [SEP], padding"),
        "vocab_size": Field((int,), 2000, minimum=8, help="SentencePiece pieces, the 5 special ids included"),
        "subword_model": Field((str,), "bpe", choices=MODEL_TYPES),
        "corpus_size": Field((int,), 8000, minimum=1, help="sentences of generated:sentences"),
        "selection_rate": Field((float,), 0.15, minimum=0.0, maximum=1.0, help="share of tokens predicted"),
        "mask_token_rate": Field((float,), 0.8, minimum=0.0, maximum=1.0, help="of those, replaced by [MASK]"),
        "random_token_rate": Field((float,), 0.1, minimum=0.0, maximum=1.0, help="of those, a random token"),
        "num_masks": Field((int,), None, minimum=1, help="prediction slots a sentence (default from the rate)"),
    }

    @classmethod
    def check_option_values(cls, options):
        if options["mask_token_rate"] + options["random_token_rate"] > 1.0:
            raise ConfigError(
                "task_options.mask_token_rate + task_options.random_token_rate must be at most 1 "
                f"(got {options['mask_token_rate']} + {options['random_token_rate']}); BERT uses 0.8 + 0.1"
            )
        return options

    # ------------------------------------------------------------------------------------------------ data

    def load_data(self, config):
        source = check_source(config, SOURCES, self.name)
        options = config["task_options"]
        data, seed = config["data"], config["training"]["seed"]
        blocks = read_language_source(
            source,
            corpus_size=options["corpus_size"],
            seed=seed,
            data_dir=data["data_dir"],
            **split_arguments(config),
        )
        sentences = {
            split: [line.strip() for line in text.splitlines() if line.strip()]
            for split, text in blocks.items()
            if text is not None
        }
        if len(sentences.get("train", ())) < 2:
            raise DataError(
                f"{source} has {len(sentences.get('train', ()))} training sentence(s); masked-LM pretraining needs "
                "text with one sentence a line (raise task_options.corpus_size or give more text)"
            )
        tokenizer = BertTokenizer.fit(sentences["train"], options["vocab_size"], options["subword_model"])
        length = options["sequence_length"]
        num_masks = options["num_masks"] or default_num_masks(length, options["selection_rate"])
        masking = masking_arguments(options, tokenizer, num_masks)
        check_masking(**masking)
        encoded, truncated, pipelines = {}, {}, {}
        for index, (split, texts) in enumerate(sentences.items()):
            if not texts:
                continue
            encoded[split] = tokenizer.encode_batch(texts, length)
            lengths = np.array([len(ids) + 2 for ids in tokenizer.subwords.encode_many(texts)])
            truncated[split] = float(np.mean(lengths > length))
            examples = tf.data.Dataset.from_tensor_slices(encoded[split])
            if split == "train":
                examples = examples.shuffle(
                    min(data["shuffle_buffer"], len(texts)), seed=seed, reshuffle_each_iteration=True
                )
            pipeline = masked_dataset(
                examples.batch(data["batch_size"]),
                # The training masks change every epoch; the held-out ones are one fixed draw.
                seed=seed * 3 + index,
                rerandomize=split == "train",
                **masking,
            )
            pipelines[split] = pipeline.prefetch(tf.data.AUTOTUNE)
        return MaskedTextBundle(
            train=pipelines["train"],
            validation=pipelines.get("validation"),
            test=pipelines.get("test"),
            num_classes=tokenizer.size,
            input_shape=(length,),
            class_names=[],
            form="text",
            source=source,
            num_examples={split: len(texts) for split, texts in sentences.items() if texts},
            tokenizer=tokenizer,
            sequence_length=length,
            num_masks=num_masks,
            encoded=encoded,
            truncated=truncated,
        )

    # ------------------------------------------------------------------------------------------- the model

    def build_model(self, config, bundle):
        arguments = model_arguments(config)
        for key, value in (
            ("vocab_size", bundle.tokenizer.size),
            ("sequence_length", bundle.sequence_length),
            ("num_masks", bundle.num_masks),
        ):
            if arguments.get(key, value) != value:
                raise ConfigError(
                    f"model.{key}={arguments[key]} differs from the data's {value}; leave model.{key} out (it "
                    "comes from the tokenizer and task_options)"
                )
            arguments[key] = value
        maximum = arguments.get("max_sequence_length", 512)
        if maximum < bundle.sequence_length:
            raise ConfigError(
                f"model.max_sequence_length={maximum} is shorter than task_options.sequence_length="
                f"{bundle.sequence_length}; raise the first or lower the second"
            )
        return create_model(config["model"]["name"], **arguments)

    def compile(self, model, config, steps_per_epoch):
        self.reject_label_smoothing(config)
        self.compile_model(
            model,
            config,
            steps_per_epoch,
            loss=masked_lm_loss(),
            weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="masked_accuracy")],
        )

    # ---------------------------------------------------------------------------------------------- results

    def evaluate(self, model, bundle, config):
        metrics = super().evaluate(model, bundle, config)
        for split, prefix in (("validation", "val"), ("test", "test")):
            dataset = getattr(bundle, split)
            if dataset is None:
                continue
            accuracy, log_probs = masked_token_scores(model, dataset)
            metrics[f"{prefix}_masked_accuracy"] = round(accuracy, 6)
            metrics[f"{prefix}_perplexity"] = round(perplexity(log_probs), 4)
            metrics[f"{prefix}_masked_tokens"] = int(log_probs.size)
        return metrics

    def report(self, model, bundle, config, run, metrics):
        bundle.tokenizer.save(run.tokenizer)
        write_masked_lm_report(run, config, bundle, metrics, model)
        return {}

    def export_plan(self, model, bundle, config):
        raise ConfigError(
            f"task {self.name!r} exports nothing (the encoder has three inputs and is meant for fine-tuning with "
            "task bert_classification); set export.formats: []"
        )


def masked_token_scores(model, dataset):
    """Accuracy of the argmax at the masked tokens of `dataset` and the log-probability of each masked token
    (float64, the used slots only)."""
    correct, log_probs = 0, []
    for inputs, targets, weights in dataset.as_numpy_iterator():
        logits = np.asarray(model(inputs, training=False), np.float64)
        used = weights > 0
        log_probs.append(target_log_probs(logits, targets)[used])
        correct += int(np.sum((logits.argmax(-1) == targets) & used))
    log_probs = np.concatenate(log_probs) if log_probs else np.zeros(0)
    if log_probs.size == 0:
        raise DataError("the held-out sentences have no token to mask; give more text")
    return correct / log_probs.size, log_probs


# ------------------------------------------------------------------------------ used by other tasks


def resolve_config(config):
    """A `masked_language_model` recipe mapping (raw or resolved; absent keys take their defaults) checked and
    filled in."""
    if not isinstance(config, dict):
        raise ConfigError(f"a masked_language_model recipe must be a mapping; got {config!r}")
    task = config.get("task", NAME)
    if task != NAME:
        raise ConfigError(f"recipe key 'task' = {task!r}; pretraining needs task {NAME!r}")
    resolved = validate_recipe({**config, "task": NAME})
    return {**resolved, "task_options": MaskedLanguageModelTask.resolve_options(config.get("task_options"))}


@dataclasses.dataclass
class PretrainingResult:
    """What `pretrain_masked_language_model` returns."""

    model: keras.Model
    tokenizer: BertTokenizer
    metrics: dict
    config: dict
    bundle: MaskedTextBundle
    history: keras.callbacks.History


def pretrain_masked_language_model(config, verbose=0, callbacks=()):
    """Runs masked-LM pretraining in memory, as a `masked_language_model` run would, and writes nothing.

    For a task that pretrains before fine-tuning in the same run. Seeds Keras with `training.seed` first (as
    `keras_nn.training.train` does), so the same recipe gives the same model.

    Args:
        config: a `masked_language_model` recipe mapping, raw or resolved (absent sections and keys take their
            defaults; `task` may be left out), e.g. `{"model": {"name": "bert_masked_lm", "num_layers": 2, ...},
            "data": {"source": "generated:sentences"}, "task_options": {...}, "training": {"epochs": 5}}`.
        verbose: Keras `fit` verbosity.
        callbacks: Keras callbacks for `fit`.

    Returns:
        A `PretrainingResult`: `model` (the trained `BertMaskedLM`; `model.backbone` is its `BertEncoder`),
        `tokenizer` (`BertTokenizer`), `metrics` (`val_`/`test_masked_accuracy`, `_perplexity`, `_loss`, ...,
        `train_seconds`), `config` (the resolved recipe), `bundle` and `history`.
    """
    config = resolve_config(config)
    keras.utils.set_random_seed(config["training"]["seed"])
    task = MaskedLanguageModelTask()
    bundle = task.load_data(config)
    steps_per_epoch = max(math.ceil(bundle.num_examples["train"] / config["data"]["batch_size"]), 1)
    model = task.build_model(config, bundle)
    task.compile(model, config, steps_per_epoch)
    started = time.perf_counter()
    history = task.fit(model, bundle, config, callbacks=list(callbacks), verbose=verbose)
    metrics = task.evaluate(model, bundle, config)
    metrics.update(train_seconds=round(time.perf_counter() - started, 2), epochs_trained=len(history.epoch))
    return PretrainingResult(model, bundle.tokenizer, metrics, config, bundle, history)


def load_pretrained_encoder(run_dir):
    """The trained masked LM, tokenizer and recipe of a `masked_language_model` run directory.

    Args:
        run_dir: the run directory (`config.yaml`, `model.keras`, `tokenizer/`).

    Returns:
        `(model, tokenizer, config)`: the `BertMaskedLM` (its `.backbone` the `BertEncoder` to fine-tune), the
        `BertTokenizer` and the run's resolved recipe (a dict as saved).

    Raises:
        MissingPathError: no such directory, or a file of the run is absent (named).
        ConfigError: the directory is a run of another task.
        ModelFileError: the model file is not a masked LM.
    """
    root = Path(run_dir)
    if not root.is_dir():
        raise MissingPathError(f"pretraining run directory {str(root)!r} does not exist")
    recipe = root / "config.yaml"
    if not recipe.is_file():
        raise MissingPathError(f"{str(root)!r} is not a run directory (no config.yaml); give a {NAME} run")
    config = yaml.safe_load(recipe.read_text(encoding="utf-8")) or {}
    task = config.get("task") if isinstance(config, dict) else None
    if task != NAME:
        raise ConfigError(
            f"{str(root)!r} is a {task!r} run, not a {NAME} run; pretrain with recipes/bert_pretraining.yaml first"
        )
    path = root / "model.keras"
    if not path.is_file():
        raise MissingPathError(f"{str(path)!r} does not exist; did the pretraining run finish?")
    tokenizer = BertTokenizer.load(root / "tokenizer")
    model = keras.saving.load_model(path)
    if not (hasattr(model, "backbone") and isinstance(model.input, dict) and "mask_positions" in model.input):
        raise ModelFileError(f"{str(path)!r} is not a bert_masked_lm model (no encoder backbone)")
    return model, tokenizer, config


def write_masked_lm_report(run, config, bundle, metrics, model):
    """`report.md`: held-out masked-token accuracy and perplexity, and how the data was masked."""
    options = config["task_options"]
    rows = [
        [split, f"{metrics[f'{prefix}_masked_accuracy']:.4f}", f"{metrics[f'{prefix}_perplexity']:.3f}",
         f"{metrics[f'{prefix}_masked_tokens']:,}"]
        for split, prefix in (("validation", "val"), ("test", "test"))
        if f"{prefix}_masked_accuracy" in metrics
    ]
    table = markdown_table(
        ["held-out split", "masked-token accuracy", "perplexity (masked tokens)", "masked tokens"],
        rows,
        align=["left", "right", "right", "right"],
    )
    lines = [
        f"# {config['name'] or NAME}: masked-language-model pretraining",
        "",
        f"Model: `{config['model']['name']}` ({model.count_params():,} parameters). Data: `{bundle.source}`, "
        f"one sentence an example ({bundle.num_examples['train']:,} training sentences), SentencePiece "
        f"{options['subword_model']} subwords ({bundle.tokenizer.size} ids; 0 padding, 1 unknown, 2 [CLS], "
        f"3 [SEP], 4 [MASK]), {bundle.sequence_length} tokens an example "
        f"({bundle.truncated.get('train', 0.0):.1%} of the training sentences cut to fit).",
        "",
        f"Masking: {options['selection_rate']:.0%} of each sentence's tokens (at most {bundle.num_masks}), "
        f"{options['mask_token_rate']:.0%} [MASK], {options['random_token_rate']:.0%} a random token, the rest "
        "kept; new masks every epoch for training, one fixed draw for validation and test.",
        "",
        table,
        "",
        "The tokenizer is in `tokenizer/`; fine-tune the encoder (`model.keras`, its `backbone`) with task "
        "`bert_classification` (`task_options.pretrained_run`).",
        "",
    ]
    atomic_write_text(run.report, "\n".join(lines))
