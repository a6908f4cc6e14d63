"""`language_model`: next-token prediction on text, scored by held-out perplexity beside n-gram baselines.

Data: `generated:sentences` (a synthetic grammar corpus, the embedded default), `dir:PATH` (`.txt` files) or
`tfds:NAME` with a `text` feature (e.g. `tfds:tiny_shakespeare`), as characters or SentencePiece subwords
(`keras_nn.data.language`), split into contiguous train/validation/test blocks. The model (`lstm_language_model`,
`gru_language_model`, `gpt_decoder`, or any registry model of tokens `(batch, time)` -> logits `(batch, time,
vocab)`) gets `vocab_size` from the data and trains with sparse cross-entropy from logits that ignores padding (id 0).

Evaluation scores every test token once (windows that tile the test block) and reports the perplexity (and
bits per character) beside a unigram and a bigram model counted on the training block and scored on the very
same tokens (`keras_nn.metrics.perplexity`; the bigram's smoothing is the recipe's, its one parameter picked on
the validation block). `report.md` holds the table and continuations of a few prompts sampled with each
temperature, top-k and top-p (`keras_nn.samplers.sample_next_token`).

Sampling carries a GPT's key/value cache or an RNN's states (the prompt is read once, then one step per token); a
model with neither re-runs the whole prefix at each token instead, with the same result
(`keras_nn.samplers.next_token_sources`). The export is the model itself; `keras-nn export RUN_DIR --streaming`
adds the single-step models (state or a GPT's key/value cache in, next-token logits and the new one out) for
on-device generation.
"""

import math

import numpy as np
from scipy.special import log_softmax

from keras_nn.config.schema import Field
from keras_nn.data.language import LEVELS, load_language, load_tokenizer
from keras_nn.data.subwords import MODEL_TYPES
from keras_nn.errors import ConfigError, DataError
from keras_nn.files import atomic_write_text

# Imported at module level: loading a run's model.keras needs the loss class registered.
from keras_nn.losses import MaskedSparseCategoricalCrossentropy
from keras_nn.metrics.perplexity import (
    SMOOTHING,
    bits_per_character,
    ngram_log_probs,
    perplexity,
    target_log_probs,
)
from keras_nn.models import create_model
from keras_nn.samplers import check_sampling, sample_next_token
from keras_nn.samplers.next_token_sources import check_context, context_length, next_token_source
from keras_nn.training.tasks.base import (
    Task,
    check_source,
    model_arguments,
    pipeline_arguments,
    split_arguments,
)
from keras_nn.viz import markdown_table

SOURCES = ("generated:sentences", "dir:", "tfds:")
# The bigram's smoothing parameter is picked on the validation block among these (k of add-k, lam of
# interpolation), so the baseline is as good as its family allows on this split.
ADD_K_GRID = (1.0, 0.3, 0.1, 0.03, 0.01)
LAMBDA_GRID = (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)


def _check_settings(key, settings):
    for setting in settings:
        if not isinstance(setting, dict) or set(setting) - {"temperature", "top_k", "top_p"}:
            raise ConfigError(
                f"recipe key {key!r} = {settings!r}: each item is a mapping of temperature, top_k and top_p, "
                "e.g. {temperature: 0.7, top_k: 10}"
            )
    return settings


class LanguageModelTask(Task):
    """Causal next-token prediction, evaluated by perplexity against unigram and bigram baselines.

    `task_options`: the tokens (`level` char|subword, `vocab_size`, `subword_model`), the windows
    (`sequence_length`, `stride` of the training windows), `corpus_size` (sentences of `generated:sentences`),
    the baselines' `bigram_smoothing` (add_k|interpolated), and the report's samples (`prompts`,
    `sample_length` tokens each, `sampling`: a list of `{temperature, top_k, top_p}`, `sample_seed`).
    """

    name = "language_model"
    options = {
        "level": Field((str,), "char", choices=LEVELS),
        "sequence_length": Field((int,), 100, minimum=1, help="tokens per training window"),
        "stride": Field((int,), None, minimum=1, help="tokens between training windows (default sequence_length)"),
        "vocab_size": Field((int,), 1000, minimum=8, help="SentencePiece pieces (subword level)"),
        "subword_model": Field((str,), "bpe", choices=MODEL_TYPES),
        "corpus_size": Field((int,), 8000, minimum=1, help="sentences of generated:sentences"),
        "bigram_smoothing": Field((str,), "interpolated", choices=SMOOTHING),
        "prompts": Field((list,), ["the cats that the dog", "does the bird eat", "the fox is"], item_types=(str,)),
        "sample_length": Field((int,), 120, minimum=1, help="tokens sampled after each prompt"),
        "sampling": Field(
            (list,),
            [{"temperature": 0.7, "top_k": 10}, {"temperature": 1.0, "top_p": 0.9}, {"temperature": 1.0}],
            check=_check_settings,
            help="one continuation per prompt and setting",
        ),
        "sample_seed": Field((int,), 0),
    }

    def load_data(self, config):
        source = check_source(config, SOURCES, self.name)
        options = config["task_options"]
        pipeline = pipeline_arguments(config)
        bundle = load_language(
            source,
            level=options["level"],
            sequence_length=options["sequence_length"],
            stride=options["stride"],
            vocab_size=options["vocab_size"],
            subword_model=options["subword_model"],
            corpus_size=options["corpus_size"],
            data_dir=config["data"]["data_dir"],
            setting="task_options.sequence_length",
            **pipeline,
            **split_arguments(config),
        )
        # Checked before anything is written: a prompt the vocabulary cannot read would fail after training.
        for prompt in options["prompts"]:
            check_prompt(bundle.tokenizer, prompt)
        return bundle

    def build_model(self, config, bundle):
        arguments = model_arguments(config)
        if arguments.get("vocab_size", bundle.vocab_size) != bundle.vocab_size:
            raise ConfigError(
                f"model.vocab_size={arguments['vocab_size']} differs from the data's {bundle.vocab_size} tokens; "
                "leave model.vocab_size out (it comes from the data)"
            )
        arguments["vocab_size"] = bundle.vocab_size
        model = create_model(config["model"]["name"], **arguments)
        options = config["task_options"]
        context = context_length(model)
        if context is not None and options["sequence_length"] > context:
            raise ConfigError(
                f"task_options.sequence_length={options['sequence_length']} exceeds model.max_sequence_length="
                f"{context}; raise model.max_sequence_length or lower task_options.sequence_length"
            )
        # Checked before training: the recipe's own samples must fit the context once the model is trained.
        for prompt in options["prompts"]:
            check_context(model, prompt, check_prompt(bundle.tokenizer, prompt).size, options["sample_length"])
        return model

    def compile(self, model, config, steps_per_epoch):
        self.reject_label_smoothing(config)
        self.compile_model(
            model,
            config,
            steps_per_epoch,
            # Its default label smoothing (0.1) would train against a smoothed target: perplexity wants none.
            loss=MaskedSparseCategoricalCrossentropy(label_smoothing=0.0, pad_id=0, from_logits=True),
        )

    # ---------------------------------------------------------------------------------------------- results

    def evaluate(self, model, bundle, config):
        metrics = super().evaluate(model, bundle, config)
        for split, prefix in (("validation", "val"), ("test", "test")):
            if bundle.ids.get(split) is None:
                continue
            log_probs = token_log_probs(model, *bundle.windows(split))
            metrics[f"{prefix}_perplexity"] = round(perplexity(log_probs), 4)
            metrics[f"{prefix}_bits_per_character"] = round(
                bits_per_character(log_probs, num_characters=bundle.characters[split]), 4
            )
        if bundle.ids.get("test") is not None:
            metrics.update(self.baselines(bundle, config))
            metrics["test_perplexity_vs_bigram"] = round(
                metrics["test_bigram_perplexity"] / metrics["test_perplexity"], 4
            )
        return metrics

    def baselines(self, bundle, config):
        """Unigram and bigram perplexity and bits per character on the test tokens the model is scored on."""
        smoothing = config["task_options"]["bigram_smoothing"]
        train, vocab = bundle.ids["train"], bundle.vocab_size
        grid = [{"k": k} for k in ADD_K_GRID] if smoothing == "add_k" else [{"lam": lam} for lam in LAMBDA_GRID]
        validation = bundle.ids.get("validation")
        if validation is not None and validation.size >= 2:
            scores = [
                perplexity(ngram_log_probs(train, validation, 2, smoothing, vocab_size=vocab, **p)) for p in grid
            ]
            chosen = grid[int(np.argmin(scores))]
        else:
            chosen = grid[0]
        inputs, targets = bundle.windows("test")
        # The windows tile the test block: its ids up to the last target, scored from the second on.
        covered = np.concatenate([inputs[:1, 0], targets.reshape(-1)])
        metrics = {}
        for order, name, parameters in ((1, "unigram", {}), (2, "bigram", chosen)):
            log_probs = ngram_log_probs(
                train, covered, order, smoothing if order == 2 else "add_k", vocab_size=vocab, **parameters
            )
            metrics[f"test_{name}_perplexity"] = round(perplexity(log_probs), 4)
            metrics[f"test_{name}_bits_per_character"] = round(
                bits_per_character(log_probs, num_characters=bundle.characters["test"]), 4
            )
        ((key, value),) = chosen.items()
        metrics[f"bigram_{key}"] = value
        return metrics

    def report(self, model, bundle, config, run, metrics):
        bundle.tokenizer.save(run.tokenizer)
        options = config["task_options"]
        samples = sample_continuations(
            model,
            bundle.tokenizer,
            options["prompts"],
            options["sampling"],
            options["sample_length"],
            seed=options["sample_seed"],
        )
        lines = ["prompt\tsetting\tcontinuation"]
        lines += [f"{row['prompt']}\t{row['setting']}\t{row['continuation']!r}" for row in samples]
        atomic_write_text(run.samples, "\n".join(lines) + "\n")
        write_language_model_report(run, config, bundle, metrics, samples, model)
        return {}

    def generate(self, model, run, config, prompts, length=None, setting=None, seed=0):
        """`keras-nn generate`: continues each prompt with one sampling setting (`{temperature, top_k, top_p}`,
        None values left out); `[{"input", "output", "score"}]` as `predict_texts`."""
        length = config["task_options"]["sample_length"] if length is None else length
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ConfigError(f"length={length!r} must be a positive number of tokens, e.g. --length 80")
        setting = {key: value for key, value in (setting or {}).items() if value is not None}
        tokenizer = load_tokenizer(run.tokenizer)
        rows = sample_continuations(model, tokenizer, prompts, [setting], length, seed=seed)
        return [{"input": row["prompt"], "output": row["continuation"], "score": row["mean_log_prob"]} for row in rows]

    def predict_texts(self, model, run, config, texts, beam_width=None):
        """Continues each text with the recipe's first sampling setting: `[{"input", "output", "score"}]`, the
        score the model's mean log-probability of the sampled tokens."""
        options = config["task_options"]
        return self.generate(model, run, config, texts, setting=options["sampling"][0], seed=options["sample_seed"])


def token_log_probs(model, inputs, targets, batch_size=64):
    """Natural-log probability the model gives each target token (`[windows, time]` float64)."""
    out = np.zeros(targets.shape, np.float64)
    for start in range(0, len(inputs), batch_size):
        logits = model(inputs[start : start + batch_size], training=False)
        out[start : start + batch_size] = target_log_probs(logits, targets[start : start + batch_size])
    return out


def check_prompt(tokenizer, prompt):
    """The prompt's ids; raises `DataError` for an empty prompt or characters a character model never saw."""
    unknown = tokenizer.unknown(prompt)
    if tokenizer.level == "char" and unknown:
        raise DataError(
            f"prompt {prompt!r} has characters the model never saw: {''.join(unknown)!r}; use only characters "
            "of the training text (task_options.prompts)"
        )
    ids = tokenizer.encode(prompt)
    if ids.size == 0:
        raise DataError(f"prompt {prompt!r} has no tokens; give a prompt of at least one character")
    return ids


def describe_setting(setting):
    """`"temperature 0.7, top-k 10"`."""
    parts = [f"temperature {setting.get('temperature', 1.0):g}"]
    if setting.get("top_k") is not None:
        parts.append(f"top-k {setting['top_k']}")
    if setting.get("top_p") is not None:
        parts.append(f"top-p {setting['top_p']:g}")
    return ", ".join(parts)


def sample_continuations(model, tokenizer, prompts, settings, length, seed=0, carry_states=None):
    """Samples `length` tokens after each prompt with each setting (`{temperature, top_k, top_p}`).

    The prompts run one at a time, the settings side by side as a batch. A cached decoder runs each token
    against its key/value cache (`CacheCarry`), a recurrent language model carries its states (`StateCarry`);
    another model re-runs the prefix (`PrefixRerun`); see `keras_nn.samplers.next_token_sources`. All give the
    same logits, so the same tokens. Padding and the unknown id are never sampled.

    Args:
        model: a causal model of tokens `(batch, time)` -> logits `(batch, time, vocab)`.
        tokenizer: the run's tokenizer.
        prompts: texts to continue.
        settings: `[{temperature, top_k, top_p}]`.
        length: tokens to sample.
        seed: the sampler's seed.
        carry_states: None: carry a cache or states when the model can; False: re-run the prefix.

    Returns:
        `[{"prompt", "setting", "continuation", "mean_log_prob"}]` (the model's own mean natural-log probability
        of the sampled tokens, before any filtering), prompts outer, settings inner.

    Raises:
        DataError: a prompt with no token or with characters the vocabulary never saw (a character model), or
            longer, with `length`, than a GPT's context.
    """
    rng = np.random.default_rng(seed)
    for setting in settings:
        check_sampling(setting.get("temperature", 1.0), setting.get("top_k"), tokenizer.size, setting.get("top_p"))
    generator = next_token_source(model, carry=carry_states is not False)
    prompt_ids = [check_prompt(tokenizer, prompt) for prompt in prompts]
    for prompt, ids in zip(prompts, prompt_ids, strict=True):
        check_context(model, prompt, ids.size, length)
    rows = []
    for prompt, ids in zip(prompts, prompt_ids, strict=True):
        source = generator(model, ids, len(settings), length)
        sampled = np.zeros((len(settings), length), np.int32)
        log_prob = np.zeros(len(settings))
        for position in range(length):
            logits = source.logits()
            log_probabilities = log_softmax(logits, axis=-1)
            logits[:, [tokenizer.pad_id, tokenizer.unk_id]] = -math.inf
            for row, setting in enumerate(settings):
                token = sample_next_token(
                    logits[row : row + 1],
                    setting.get("temperature", 1.0),
                    setting.get("top_k"),
                    rng,
                    top_p=setting.get("top_p"),
                )[0]
                sampled[row, position] = token
                log_prob[row] += log_probabilities[row, token]
            if position < length - 1:
                source.push(sampled[:, position])
        start = tokenizer.decode(ids)
        for row, setting in enumerate(settings):
            # Decoded with the prompt: a subword's leading space only shows after the piece before it.
            text = tokenizer.decode(np.concatenate([ids, sampled[row]]))
            continuation = text[len(start) :] if text.startswith(start) else tokenizer.decode(sampled[row])
            rows.append(
                {
                    "prompt": prompt,
                    "setting": describe_setting(setting),
                    "continuation": continuation,
                    "mean_log_prob": float(log_prob[row] / length),
                }
            )
    return rows


def write_language_model_report(run, config, bundle, metrics, samples, model):
    """`report.md`: held-out perplexity and bits per character beside the n-gram baselines, and samples."""
    level = "characters" if bundle.level == "char" else f"SentencePiece {config['task_options']['subword_model']} subwords"
    smoothing = config["task_options"]["bigram_smoothing"]
    (key,) = [name for name in ("bigram_k", "bigram_lam") if name in metrics]
    rows = [
        [f"{config['model']['name']} ({model.count_params():,} parameters)", metrics["test_perplexity"],
         metrics["test_bits_per_character"]],
        [f"bigram ({smoothing}, {key[7:]} = {metrics[key]:g} picked on validation)", metrics["test_bigram_perplexity"],
         metrics["test_bigram_bits_per_character"]],
        ["unigram (add-1)", metrics["test_unigram_perplexity"], metrics["test_unigram_bits_per_character"]],
    ]
    table = markdown_table(
        ["model", "test perplexity (lower is better)", "bits per character"],
        [[name, f"{ppl:.3f}", f"{bpc:.3f}"] for name, ppl, bpc in rows],
        align=["left", "right", "right"],
    )
    tokens = bundle.num_examples["test"] * bundle.sequence_length
    lines = [
        f"# {config['name'] or 'language_model'}: next-token prediction",
        "",
        f"Data: `{bundle.source}` as {level} ({bundle.vocab_size} ids, 0 padding, 1 unknown), split into "
        f"contiguous train/validation/test blocks; windows of {bundle.sequence_length} tokens. Every one of the "
        f"{tokens:,} test tokens is scored once, by the model and by both baselines (counted on the training "
        "block).",
        "",
        table,
        "",
        f"The model's perplexity is {metrics['test_perplexity_vs_bigram']:.2f} times lower than the bigram's.",
        "",
        "## Samples",
        "",
        next_token_source(model).description,
        "",
    ]
    for sample in samples:
        lines += [f"**{sample['prompt']!r}** ({sample['setting']}):", "", "```", sample["prompt"] + sample["continuation"], "```", ""]
    atomic_write_text(run.report, "\n".join(lines))
