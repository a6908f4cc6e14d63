"""Generation speed at batch 1: keras-nn's `gpt_decoder` against keras-hub's GPT-2, and how the cost of a token
grows with its position, with and without a cache, for `gpt_decoder` and `lstm_language_model`.

keras-hub is a bench-only dependency (`pip install -e ".[bench]"`).

Part 1, GPT-2 against GPT-2. keras-nn's `GPTDecoder` and `keras_hub.models.GPT2CausalLM` on a `GPT2Backbone` of the
same configuration (pre-LN blocks, tanh-GELU, tied output embedding, LayerNorm epsilon 1e-5, dropout 0). keras-nn's
random weights are copied into keras-hub's model (`WEIGHT_MAP`: the two hold the same tensors under other names), and
before anything is timed the script checks that the logits of a whole sequence agree, that the cached step
(`call_with_cache`) of both gives the same logits, and that greedy generation gives the same tokens. Then, in one
run interleaved round by round (the order alternates each round), batch 1, greedy, the same prompt and number of new
tokens, with the key/value cache:
- each library's own `generate`: both are one compiled loop over the new tokens with the cache (ours: a
  `keras.ops.fori_loop` under `tf.function(jit_compile=True)`; keras-hub's: `tf.function(generate_step)`, XLA when
  the model's `jit_compile` resolves to True, its default on TensorFlow; `--hub-xla off` turns it off);
- the same Python greedy loop around each model's `call_with_cache` (each in a `tf.function`, no XLA): the cost of
  the model step alone.
Tokens per second = new tokens / the median time of the whole call (the prompt's pass included); the ratio is
keras-nn's tokens/s over keras-hub's (> 1: ours is faster).

Part 2, time per generated token against its position (1 to the context length), interleaved at each position:
- `gpt_decoder` with the cache: one `call_with_cache` step of one token at that position, against a cache of the
  whole context (allocated once, as `generate` does);
- `gpt_decoder` without the cache: the whole prefix re-run (`model(tokens[:, :position])`), the logits of the last;
- `lstm_language_model` carrying its states: one `step(token, states)`;
- `lstm_language_model` re-running the prefix (`model(tokens[:, :position])`).
Each is a `tf.function` (no XLA) with a `[1, None]` signature where the length varies, so nothing is retraced
while timing. Output: a markdown table and a PNG (`--plot`).

    python bench/generation_bench.py                                  # about 2 minutes on the 2-core CPU
    python bench/generation_bench.py --new-tokens 16 --rounds 2 --points 4 --position-runs 3   # a quick check
    python bench/generation_bench.py --threads 2 --json generation_bench.json --plot generation_cost.png
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import vit_bench  # noqa: E402
from cnn_throughput import interleaved  # noqa: E402

import keras_nn  # noqa: E402
from keras_nn.viz import markdown_table  # noqa: E402

# keras-nn weight path (regular expression) -> keras-hub GPT2Backbone weight path. Every weight is mapped once.
WEIGHT_MAP = (
    (r"(token_embedding/embeddings|position_embedding/embeddings)", r"\1"),
    (r"(transformer_layer_\d+/self_attention/\w+/(kernel|bias))", r"\1"),
    (r"(transformer_layer_\d+)/self_attention_norm/(gamma|beta)", r"\1/self_attention_layer_norm/\2"),
    (r"(transformer_layer_\d+)/intermediate_dense/(kernel|bias)", r"\1/feedforward_intermediate_dense/\2"),
    (r"(transformer_layer_\d+)/output_dense/(kernel|bias)", r"\1/feedforward_output_dense/\2"),
    (r"(transformer_layer_\d+)/feedforward_norm/(gamma|beta)", r"\1/feedforward_layer_norm/\2"),
    (r"final_layer_norm/(gamma|beta)", r"layer_norm/\1"),
)

METHODS = {
    "gpt_cache": "gpt_decoder, key/value cache",
    "gpt_rerun": "gpt_decoder, prefix re-run",
    "lstm_carry": "lstm_language_model, state carry",
    "lstm_rerun": "lstm_language_model, prefix re-run",
}


def keras_hub_path(path):
    """The keras-hub GPT2Backbone weight path of a keras-nn `gpt_decoder` weight path."""
    return vit_bench.keras_hub_path(path, WEIGHT_MAP)


def copy_weights(ours, backbone):
    """Sets every weight of keras-hub's `backbone` to its keras-nn twin's value; checks each is set once."""
    vit_bench.copy_weights(ours, backbone, WEIGHT_MAP, into_theirs=True)


def build_gpt_pair(vocab_size, num_layers, hidden_dim, num_heads, intermediate_dim, context, hub_jit_compile=True):
    """keras-nn's `gpt_decoder` (random weights, dropout 0) and keras-hub's `GPT2CausalLM` holding its weights
    (greedy sampler, no preprocessor)."""
    import keras_hub

    ours = keras_nn.create_model(
        "gpt_decoder", vocab_size=vocab_size, num_layers=num_layers, hidden_dim=hidden_dim, num_heads=num_heads,
        intermediate_dim=intermediate_dim, max_sequence_length=context, dropout=0.0,
    )
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=vocab_size, num_layers=num_layers, num_heads=num_heads, hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim, dropout=0.0, max_sequence_length=context,
    )
    copy_weights(ours, backbone)
    theirs = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    theirs.compile(sampler="greedy", jit_compile=hub_jit_compile)
    return ours, theirs


def cached_steps(ours, theirs, compiled=True):
    """Each model's one-step function `(token_ids, cache, index) -> (last logits [B, V], cache)`, each in a
    `tf.function` unless `compiled` is False (eager: no tracing, for a short check)."""

    def hub_step(token_ids, cache, index):
        logits, _, cache = theirs.call_with_cache(token_ids, cache, index)
        return logits[:, -1], cache

    steps = {"keras_nn": ours.call_with_cache, "keras_hub": hub_step}
    return {name: tf.function(step) for name, step in steps.items()} if compiled else steps


def empty_cache(model, length):
    """A zero key/value cache `[1, num_layers, 2, length, num_heads, head_dim]` for `gpt_decoder`."""
    return tf.zeros((1, len(model.blocks), 2, length, model.num_heads, model.head_dim), model.compute_dtype)


def greedy_loop(step, model, prompt, new_tokens):
    """Greedy generation with a cached step function: the prompt once, then one token a step (batch 1)."""
    total = prompt.shape[1] + new_tokens
    logits, cache = step(tf.constant(prompt), empty_cache(model, total), tf.constant(0, tf.int32))
    tokens = list(prompt[0])
    for _ in range(new_tokens):
        tokens.append(int(np.argmax(logits.numpy()[0])))
        if len(tokens) < total:
            token = tf.constant([[tokens[-1]]], tf.int32)
            logits, cache = step(token, cache, tf.constant(len(tokens) - 1, tf.int32))
    return np.asarray(tokens, np.int32)[None]


def hub_generate(theirs, prompt, new_tokens):
    """keras-hub's own `generate` for `prompt` plus `new_tokens` (its cache and loop span the padded length)."""
    length = prompt.shape[1] + new_tokens
    token_ids = np.zeros((1, length), np.int32)
    token_ids[:, : prompt.shape[1]] = prompt
    mask = np.zeros((1, length), bool)
    mask[:, : prompt.shape[1]] = True
    return np.asarray(theirs.generate({"token_ids": token_ids, "padding_mask": mask}, stop_token_ids=None)["token_ids"])


def logit_differences(ours, theirs, steps, sequence):
    """The largest |logits| differences of the two models on `sequence` `[1, T]`: the whole sequence at once, and
    token by token through the cached steps; and the largest |logit| (the scale)."""
    length = sequence.shape[1]
    full_ours = np.asarray(ours(sequence, training=False))
    full_theirs = np.asarray(theirs({"token_ids": sequence, "padding_mask": np.ones_like(sequence, bool)}))
    scale = float(np.abs(full_theirs).max())
    cache = {name: empty_cache(ours, length) for name in steps}
    step_error = 0.0
    for position in range(length):
        token = tf.constant(sequence[:, position : position + 1])
        logits = {}
        for name, step in steps.items():
            logits[name], cache[name] = step(token, cache[name], tf.constant(position, tf.int32))
        step_error = max(step_error, float(np.abs(logits["keras_nn"].numpy() - logits["keras_hub"].numpy()).max()))
    return float(np.abs(full_ours - full_theirs).max()), step_error, scale


def check_same(ours, theirs, steps, prompt, new_tokens, rng):
    """Logits of a whole sequence, of the cached steps and greedy tokens agree; returns the differences found."""
    length = prompt.shape[1] + new_tokens
    sequence = rng.integers(0, ours.token_embedding.input_dim, (1, length)).astype(np.int32)
    full_error, step_error, scale = logit_differences(ours, theirs, steps, sequence)
    tokens = {
        "keras_nn generate": ours.generate(prompt, new_tokens, temperature=0.0),
        "keras_hub generate": hub_generate(theirs, prompt, new_tokens),
        "keras_nn step loop": greedy_loop(steps["keras_nn"], ours, prompt, new_tokens),
        "keras_hub step loop": greedy_loop(steps["keras_hub"], ours, prompt, new_tokens),
    }
    same = all(np.array_equal(tokens["keras_nn generate"], other) for other in tokens.values())
    if full_error > 1e-4 * max(1.0, scale) or step_error > 1e-4 * max(1.0, scale) or not same:
        raise AssertionError(
            f"the models differ (whole-sequence logits {full_error:.1e}, cached-step logits {step_error:.1e}, "
            f"same greedy tokens: {same}); timing them would compare different work"
        )
    return full_error, step_error, scale


def generation_speed(args, rng):
    """Part 1: tokens/s of both GPTs at batch 1 with the cache, interleaved."""
    ours, theirs = build_gpt_pair(args.vocab_size, args.num_layers, args.hidden_dim, args.num_heads,
                                  args.intermediate_dim, args.context, hub_jit_compile=args.hub_xla == "on")
    steps = cached_steps(ours, theirs)
    prompt = rng.integers(0, args.vocab_size, (1, args.prompt)).astype(np.int32)
    full_error, step_error, scale = check_same(ours, theirs, steps, prompt, args.new_tokens, rng)
    print(f"checked before timing: max |logits| difference {full_error:.1e} (whole sequence), {step_error:.1e} "
          f"(cached steps), logits up to {scale:.2f}; greedy tokens identical (4 ways); "
          f"{ours.count_params():,} vs {theirs.count_params():,} parameters; keras-hub jit_compile resolved to "
          f"{theirs.jit_compile}", flush=True)
    calls = {
        "keras_nn GPTDecoder.generate": lambda: ours.generate(prompt, args.new_tokens, temperature=0.0),
        f"keras_hub GPT2CausalLM.generate ({'XLA ' if theirs.jit_compile else ''}while loop)": (
            lambda: hub_generate(theirs, prompt, args.new_tokens)),
        "keras_nn call_with_cache, same Python loop": (
            lambda: greedy_loop(steps["keras_nn"], ours, prompt, args.new_tokens)),
        "keras_hub call_with_cache, same Python loop": (
            lambda: greedy_loop(steps["keras_hub"], ours, prompt, args.new_tokens)),
    }
    seconds = interleaved(calls, args.warmup, args.rounds)
    rows = []
    for name, values in seconds.items():
        median = float(np.median(values))
        rows.append({"how": name, "median_s": median, "tokens_per_s": args.new_tokens / median})
    for pair in (rows[:2], rows[2:]):
        pair[0]["ratio"] = pair[0]["tokens_per_s"] / pair[1]["tokens_per_s"]
        pair[1]["ratio"] = 1.0
    return rows


def position_grid(context, points):
    """`points` positions from 1 to `context`, spread evenly (1 and `context` included)."""
    return sorted({int(round(p)) for p in np.linspace(1, context, points)})


def cost_functions(gpt, lstm, context, rng):
    """Per position, the four zero-argument functions that produce the logits of the token at that position."""
    tokens = rng.integers(0, gpt.token_embedding.input_dim, (1, context)).astype(np.int32)
    signature = [tf.TensorSpec((1, None), tf.int32)]
    gpt_step = tf.function(gpt.call_with_cache)
    gpt_prefix = tf.function(lambda t: gpt(t, training=False)[:, -1], input_signature=signature)
    lstm_step = tf.function(lstm.step)
    lstm_prefix = tf.function(lambda t: lstm(t, training=False)[:, -1], input_signature=signature)
    cache = empty_cache(gpt, context)
    states = lstm.initial_states(1)

    def at(position):
        token, prefix = tf.constant(tokens[:, position - 1 : position]), tf.constant(tokens[:, :position])
        index = tf.constant(position - 1, tf.int32)
        return {
            "gpt_cache": lambda: gpt_step(token, cache, index)[0].numpy(),
            "gpt_rerun": lambda: gpt_prefix(prefix).numpy(),
            "lstm_carry": lambda: lstm_step(token[:, 0], states)[0].numpy(),
            "lstm_rerun": lambda: lstm_prefix(prefix).numpy(),
        }

    return at


def cost_by_position(args, rng):
    """Part 2: median ms per generated token at each position, four ways, interleaved at each position."""
    gpt = keras_nn.create_model(
        "gpt_decoder", vocab_size=args.vocab_size, num_layers=args.num_layers, hidden_dim=args.hidden_dim,
        num_heads=args.num_heads, intermediate_dim=args.intermediate_dim, max_sequence_length=args.context,
        dropout=0.0,
    )
    lstm = keras_nn.create_model(
        "lstm_language_model", vocab_size=args.vocab_size, embedding_dim=args.lstm_embedding,
        units=args.lstm_units, num_layers=args.lstm_layers,
    )
    at = cost_functions(gpt, lstm, args.context, rng)
    for function in at(args.context).values():  # trace each once, at the longest prefix
        function()
    rows = []
    for position in position_grid(args.context, args.points):
        seconds = interleaved(at(position), args.warmup, args.position_runs)
        rows.append({"position": position, **{key: 1e3 * float(np.median(seconds[key])) for key in METHODS}})
        print(f"  position {position}: " + ", ".join(f"{key} {rows[-1][key]:.2f} ms" for key in METHODS), flush=True)
    return rows, gpt.count_params(), lstm.count_params()


def plot_cost(rows, path, title):
    """Time per generated token against its position, one line per method, log-scaled time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7.5, 4.5))
    positions = [row["position"] for row in rows]
    for key, label in METHODS.items():
        style = "-" if key.endswith(("cache", "carry")) else "--"
        axis.plot(positions, [row[key] for row in rows], style, marker="o", markersize=4, label=label)
    axis.set_yscale("log")
    axis.set_xlabel("position of the generated token (tokens before it + 1)")
    axis.set_ylabel("ms per generated token (median, log scale)")
    axis.set_title(title)
    axis.grid(alpha=0.3, which="both")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocab-size", type=int, default=5000)
    parser.add_argument("--num-layers", type=int, default=4)
    parser.add_argument("--hidden-dim", type=int, default=256)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--intermediate-dim", type=int, default=1024)
    parser.add_argument("--context", type=int, default=256, help="max_sequence_length of the GPTs; part 2's range")
    parser.add_argument("--prompt", type=int, default=16, help="prompt tokens (part 1)")
    parser.add_argument("--new-tokens", type=int, default=64, help="tokens generated per call (part 1)")
    parser.add_argument("--rounds", type=int, default=10, help="timed generate calls per way (part 1)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first (tracing, XLA compiling)")
    parser.add_argument("--hub-xla", choices=("on", "off"), default="on",
                        help="keras-hub's generate loop under XLA (its default on TensorFlow) or a plain graph")
    parser.add_argument("--lstm-embedding", type=int, default=256)
    parser.add_argument("--lstm-units", type=int, default=512)
    parser.add_argument("--lstm-layers", type=int, default=2)
    parser.add_argument("--points", type=int, default=9, help="positions timed from 1 to --context (part 2)")
    parser.add_argument("--position-runs", type=int, default=20, help="timed calls per way and position (part 2)")
    parser.add_argument("--parts", default="1,2", help="which parts to run (default 1,2)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of TensorFlow (default: all)")
    parser.add_argument("--plot", default="generation_cost.png", help="the PNG of part 2")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if min(args.rounds, args.warmup, args.points, args.position_runs, args.prompt, args.new_tokens) < 1:
        parser.error("--rounds, --warmup, --points, --position-runs, --prompt and --new-tokens must be at least 1")
    if args.prompt + args.new_tokens > args.context:
        parser.error(f"--prompt {args.prompt} + --new-tokens {args.new_tokens} exceeds --context {args.context}")
    parts = set(args.parts.split(","))
    if not parts <= {"1", "2"}:
        parser.error(f"--parts {args.parts!r}: give 1, 2 or 1,2")

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import keras_hub

    print(f"keras {keras.__version__}, keras-hub {keras_hub.__version__}, tensorflow {tf.__version__}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, threads {args.threads or 'all'}, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    config = (f"{args.num_layers} layers, width {args.hidden_dim}, {args.num_heads} heads, feed-forward "
              f"{args.intermediate_dim}, vocabulary {args.vocab_size}, context {args.context}, float32")
    results = {"settings": vars(args)}

    if "1" in parts:
        rows = generation_speed(args, rng)
        results["generation"] = rows
        print(f"\nbatch 1, greedy, prompt {args.prompt} tokens, {args.new_tokens} new tokens, {config}; median of "
              f"{args.rounds} calls after {args.warmup} warm-up, interleaved; load average {os.getloadavg()[0]:.2f}")
        print(markdown_table(
            ["how", "median s per call", "tokens/s", "ratio keras_nn / keras_hub (tokens/s)"],
            [[r["how"], f"{r['median_s']:.3f}", f"{r['tokens_per_s']:.1f}", f"{r['ratio']:.2f}"] for r in rows],
            align=["left", "right", "right", "right"],
        ))

    if "2" in parts:
        rows, gpt_params, lstm_params = cost_by_position(args, rng)
        results["cost_by_position"] = rows
        lstm_config = (f"{args.lstm_layers} LSTM layers of {args.lstm_units}, embedding {args.lstm_embedding}, "
                       f"{lstm_params:,} parameters")
        print(f"\nms per generated token (median of {args.position_runs} after {args.warmup} warm-up, the four "
              f"interleaved at each position), batch 1; gpt_decoder {config}, {gpt_params:,} parameters; "
              f"lstm_language_model {lstm_config}; load average {os.getloadavg()[0]:.2f}")
        print(markdown_table(
            ["position", *METHODS.values()],
            [[row["position"], *(f"{row[key]:.2f}" for key in METHODS)] for row in rows],
            align=["right"] * (1 + len(METHODS)),
        ))
        path = plot_cost(rows, args.plot, f"Time per generated token, batch 1 (GPT {args.num_layers}x"
                                          f"{args.hidden_dim}, LSTM {args.lstm_layers}x{args.lstm_units})")
        print(f"plot: {path}")

    if args.json:
        results.update(machine=platform.platform(), cpus=os.cpu_count(), keras=keras.__version__,
                       tensorflow=tf.__version__, date=time.strftime("%Y-%m-%d"))
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
