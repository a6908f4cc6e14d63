"""The language_model task: a tiny run whose perplexities and baselines are recomputed independently."""

import collections
import math

import keras
import numpy as np
import pytest

from keras_nn.cli import main
from keras_nn.errors import ConfigError, DataError, UnknownDatasetError
from keras_nn.runs import load_recipe, predict_texts
from keras_nn.runs import train_run as train
from keras_nn.samplers.next_token_sources import CacheCarry, carries_states, next_token_source
from keras_nn.training.tasks.language_model import sample_continuations


def tiny_config(**task_options):
    return {
        "name": "tiny_lm",
        "task": "language_model",
        "task_options": {
            "corpus_size": 300,
            "sequence_length": 24,
            "sample_length": 8,
            "prompts": ["the cat", "does"],
            "sampling": [{"temperature": 0.7, "top_k": 5}, {"temperature": 1.0, "top_p": 0.9}],
            **task_options,
        },
        "model": {"name": "lstm_language_model", "units": 16, "embedding_dim": 8, "num_layers": 1},
        "data": {"source": "generated:sentences", "batch_size": 16},
        "optimizer": {"learning_rate": 0.01},
        "training": {"epochs": 1},
    }


def trained(tmp_path_factory, config):
    """`(run directory, TrainResult)` of a run of `config` in a fresh folder."""
    root = tmp_path_factory.mktemp(config["model"]["name"]) / "run"
    return root, train(config, root, verbose=0)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return trained(tmp_path_factory, tiny_config())


def test_perplexity_is_the_exp_of_the_test_cross_entropy(run):
    _, result = run
    metrics = result.metrics
    x, y = result.data.as_numpy("test")
    logits = result.model.predict(x, verbose=0)
    cross_entropy = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits))
    assert metrics["test_perplexity"] == pytest.approx(math.exp(cross_entropy), rel=1e-4)
    assert metrics["test_loss"] == pytest.approx(cross_entropy, rel=1e-4)  # no label smoothing in the loss
    assert metrics["test_bits_per_character"] == pytest.approx(cross_entropy / math.log(2), rel=1e-4)


def test_baselines_recomputed_by_counting(run):
    _, result = run
    data, metrics = result.data, result.metrics
    train_ids = data.ids["train"].tolist()
    x, y = data.as_numpy("test")
    vocab = data.vocab_size
    # The scored tokens are the test targets, each after the token before it in the text.
    pairs = [(int(a), int(b)) for window_x, window_y in zip(x, y, strict=True) for a, b in zip(window_x, window_y, strict=True)]
    unigram = collections.Counter(train_ids)
    p_unigram = {w: (unigram[w] + 1) / (len(train_ids) + vocab) for w in range(vocab)}
    expected = math.exp(-np.mean([math.log(p_unigram[b]) for _, b in pairs]))
    assert metrics["test_unigram_perplexity"] == pytest.approx(expected, rel=1e-4)
    bigram = collections.Counter(zip(train_ids[:-1], train_ids[1:], strict=True))
    history = collections.Counter(train_ids[:-1])
    lam = metrics["bigram_lam"]
    log_probs = []
    for a, b in pairs:
        p = p_unigram[b] if not history[a] else lam * bigram[(a, b)] / history[a] + (1 - lam) * p_unigram[b]
        log_probs.append(math.log(p))
    assert metrics["test_bigram_perplexity"] == pytest.approx(math.exp(-np.mean(log_probs)), rel=1e-4)
    assert metrics["test_bigram_perplexity"] < metrics["test_unigram_perplexity"]
    ratio = metrics["test_bigram_perplexity"] / metrics["test_perplexity"]
    assert metrics["test_perplexity_vs_bigram"] == pytest.approx(ratio, rel=1e-3)


def test_report_samples_and_tokenizer_are_written(run):
    root, result = run
    report = (root / "report.md").read_text()
    assert "| bigram (interpolated" in report and "unigram (add-1)" in report
    assert "carry the recurrent states" in report
    assert report.count("temperature 0.7, top-k 5") == 2 and report.count("temperature 1, top-p 0.9") == 2
    rows = (root / "samples.tsv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 2
    assert (root / "tokenizer" / "tokenizer.json").is_file()
    assert (root / "curves.png").is_file()


def test_state_carry_and_prefix_rerun_give_the_greedy_tokens_of_the_whole_sequence(run):
    _, result = run
    model, tokenizer = result.model, result.data.tokenizer
    assert carries_states(model)
    carried = sample_continuations(model, tokenizer, ["the do"], [{"temperature": 0.0}], 6)
    rerun = sample_continuations(model, tokenizer, ["the do"], [{"temperature": 0.0}], 6, carry_states=False)
    ids = list(tokenizer.encode("the do"))
    for _ in range(6):  # greedy by hand over the growing prefix, the whole sequence each time
        logits = np.array(model(np.asarray([ids], np.int32)))[0, -1]
        logits[[0, 1]] = -np.inf
        ids.append(int(np.argmax(logits)))
    expected = tokenizer.decode(ids[len("the do") :])
    assert carried[0]["continuation"] == rerun[0]["continuation"] == expected
    # The score: the model's mean log-probability of the sampled tokens, recomputed on the whole sequence.
    logits = np.asarray(model(np.asarray([ids], np.int32)), np.float64)[0, len("the do") - 1 : -1]
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    score = np.mean(log_softmax[np.arange(6), ids[len("the do") :]])
    assert carried[0]["mean_log_prob"] == pytest.approx(score, abs=1e-4)
    assert rerun[0]["mean_log_prob"] == pytest.approx(score, abs=1e-4)
    # Sampled (same seed): both ways draw the same tokens.
    settings = [{"temperature": 1.0, "top_k": 5}, {"temperature": 0.7, "top_p": 0.9}]
    a = sample_continuations(model, tokenizer, ["the"], settings, 10, seed=3)
    b = sample_continuations(model, tokenizer, ["the"], settings, 10, seed=3, carry_states=False)
    assert [row["continuation"] for row in a] == [row["continuation"] for row in b]


def test_predict_continues_texts_from_the_saved_run(run):
    root, _ = run
    rows = predict_texts(root, ["the dog"])
    assert rows[0]["input"] == "the dog" and len(rows[0]["output"]) == 8 and rows[0]["score"] < 0


def test_generate_command_samples_reproducibly_and_refuses_unseen_characters(run, capsys):
    root, _ = run
    arguments = ["generate", str(root), "the dog", "--length", "12", "--temperature", "0.7", "--top-k", "5"]
    assert main(arguments) == 0
    first = capsys.readouterr().out
    assert first.startswith("the dog") and "mean log-prob" in first
    # The printed continuation is 12 characters after the prompt, and the same seed samples it again.
    assert len(first.split("\t")[0]) == len("the dog") + 12
    assert main(arguments) == 0 and capsys.readouterr().out == first
    assert main(["generate", str(root), "the d\u00f6g"]) == 2
    assert "never saw" in capsys.readouterr().err
    # A language-model run draws no images.
    assert main(["generate", str(root), "--count", "4"]) == 2
    assert "give a prompt" in capsys.readouterr().err


def test_subword_level_bits_per_character(tmp_path):
    result = train(tiny_config(level="subword", vocab_size=60, prompts=["the cat"]), tmp_path / "run", verbose=0)
    metrics, data = result.metrics, result.data
    assert data.level == "subword" and data.vocab_size <= 60
    tokens = data.num_examples["test"] * data.sequence_length
    # Bits per character: the test tokens' total bits over the characters they spell.
    bits = math.log(metrics["test_perplexity"]) * tokens / math.log(2)
    assert metrics["test_bits_per_character"] == pytest.approx(bits / data.characters["test"], rel=1e-3)
    assert data.characters["test"] > tokens  # a subword spells more than one character


def test_bad_input_leaves_nothing_written(tmp_path):
    (tmp_path / "text.txt").write_text("too short\n", "utf-8")
    config = tiny_config()
    config["data"]["source"] = f"dir:{tmp_path / 'text.txt'}"
    with pytest.raises(DataError, match="fewer than one sequence .* lower task_options.sequence_length"):
        train(config, tmp_path / "short", verbose=0)
    with pytest.raises(DataError, match="never saw: 'Z'"):
        train(tiny_config(prompts=["Zebra"]), tmp_path / "prompt", verbose=0)
    config = tiny_config()
    config["model"]["vocab_size"] = 5
    with pytest.raises(ConfigError, match="model.vocab_size=5"):
        train(config, tmp_path / "vocab", verbose=0)
    config = tiny_config()
    config["data"]["source"] = "embedded:digits"
    with pytest.raises(UnknownDatasetError, match="generated:sentences"):
        train(config, tmp_path / "digits", verbose=0)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["text.txt"]


@pytest.mark.slow
def test_the_recipe_beats_the_bigram(tmp_path):
    # The shipped recipe, shortened (3000 sentences, windows of 50, 3 epochs, 128 units, no export): still clearly below the bigram.
    config = load_recipe(
        "language_model",
        ["task_options.corpus_size=3000", "task_options.sequence_length=50", "training.epochs=3", "task_options.sample_length=20", "model.units=128"],
    )
    result = train(config, tmp_path / "run", verbose=0)
    assert result.metrics["test_perplexity_vs_bigram"] > 1.3, result.metrics
    assert result.metrics["test_bigram_perplexity"] < result.metrics["test_unigram_perplexity"]


# ------------------------------------------------------------------------------------------------------- GPT

GPT_MODEL = {
    "name": "gpt_decoder",
    "num_layers": 1,
    "hidden_dim": 16,
    "num_heads": 2,
    "intermediate_dim": 32,
    "max_sequence_length": 32,
    "dropout": 0.0,
}


def gpt_config(**task_options):
    return {**tiny_config(**task_options), "model": dict(GPT_MODEL)}


@pytest.fixture(scope="module")
def gpt_run(tmp_path_factory):
    return trained(tmp_path_factory, gpt_config())


def test_gpt_trains_and_is_scored_beside_the_baselines(gpt_run):
    root, result = gpt_run
    metrics, model = result.metrics, result.model
    assert model.max_sequence_length == 32 and model.token_embedding.input_dim == result.data.vocab_size
    x, y = result.data.as_numpy("test")
    logits = model.predict(x, verbose=0)
    cross_entropy = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits))
    assert metrics["test_perplexity"] == pytest.approx(math.exp(cross_entropy), rel=1e-4)
    assert metrics["test_perplexity"] < metrics["test_unigram_perplexity"]
    assert "key/value cache" in (root / "report.md").read_text()


def test_cache_carry_prefix_rerun_and_generate_give_the_same_tokens(gpt_run):
    _, result = gpt_run
    model, tokenizer = result.model, result.data.tokenizer
    assert next_token_source(model) is CacheCarry
    prompt = list(tokenizer.encode("the do"))
    # The cache's next-token logits equal the whole prefix's last logits at every step.
    source, ids = CacheCarry(model, np.asarray(prompt), 1, 6), list(prompt)
    for _ in range(6):
        whole = np.asarray(model(np.asarray([ids], np.int32)), np.float64)[0, -1]
        np.testing.assert_allclose(source.logits()[0], whole, atol=1e-4)
        ids.append(int(np.argmax(whole)))
        source.push([ids[-1]])
    greedy = [{"temperature": 0.0}]
    cached = sample_continuations(model, tokenizer, ["the do"], greedy, 6)
    rerun = sample_continuations(model, tokenizer, ["the do"], greedy, 6, carry_states=False)
    generated = model.generate(np.asarray(prompt), 6, temperature=0.0)
    assert cached[0]["continuation"] == rerun[0]["continuation"] == tokenizer.decode(generated[len(prompt) :])
    # Sampled with one seed: the three draw the same tokens (top-k 5 keeps padding and unknown out).
    setting = [{"temperature": 1.0, "top_k": 5}]
    a = sample_continuations(model, tokenizer, ["the"], setting, 10, seed=3)
    b = sample_continuations(model, tokenizer, ["the"], setting, 10, seed=3, carry_states=False)
    c = model.generate(tokenizer.encode("the"), 10, temperature=1.0, top_k=5, seed=3)
    assert a[0]["continuation"] == b[0]["continuation"] == tokenizer.decode(c[3:])


def test_gpt_context_checks_are_one_line_and_come_before_training(gpt_run, tmp_path, capsys):
    root, _ = gpt_run
    with pytest.raises(ConfigError, match="task_options.sequence_length=40 exceeds model.max_sequence_length=32"):
        train(gpt_config(sequence_length=40), tmp_path / "window", verbose=0)
    with pytest.raises(DataError, match=r"7 tokens and 30 are sampled after it: 37 exceeds .* 32 tokens.* --length 25"):
        train(gpt_config(sample_length=30), tmp_path / "prompt", verbose=0)
    assert not any(tmp_path.iterdir())
    assert main(["generate", str(root), "the dog", "--length", "40"]) == 2
    error = capsys.readouterr().err.strip()
    assert "exceeds the model's context of 32 tokens" in error and "--length 25" in error and "\n" not in error


@pytest.mark.slow
def test_the_gpt_recipe_beats_the_bigram(tmp_path):
    # The shipped GPT recipe, shortened (4000 sentences, 4 epochs without warmup, 2 layers, no export): still clearly
    # below the bigram. Measured: 1.48x better than the bigram with GPT-2's N(0, 0.02) initialisation (the whole
    # recipe: 3.79x); a model that learns nothing beyond character pairs stays at or under 1.0x.
    config = load_recipe(
        "gpt_language_model",
        ["task_options.corpus_size=4000", "training.epochs=4", "schedule.warmup_epochs=0", "model.num_layers=2",
         "task_options.sample_length=20"],
    )
    result = train(config, tmp_path / "run", verbose=0)
    assert result.metrics["test_perplexity_vs_bigram"] > 1.3, result.metrics
