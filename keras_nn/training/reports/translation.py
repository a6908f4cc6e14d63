"""The report of a translation run: held-out BLEU and chrF of greedy and beam search, sample translations,
cross-attention heat maps of every head, and `report.md` tying them together."""

from pathlib import Path

import numpy as np

from keras_nn.viz import markdown_table, plot_attention, plot_attention_heads


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


def plot_cross_attention(model, bundle, config, run, decoded):
    """Draws the cross-attention of every layer and head for a few test sentences (`attention/`) and the last
    layer's mean over heads for all of them (`attention.png`); returns the paths."""
    count = min(max(int(config["task_options"]["attention_plots"]), 0), len(decoded["pairs"]))
    if not count:
        return []
    picks = varied_samples(decoded["pairs"], count)
    folder = run.attention_dir
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
            run.attention_png,
            title=f"{config['model']['name']}: last decoder layer, mean of the heads (beam search)",
        )
    )
    return written


def write_translation_report(run, config, bundle, metrics, decoded, pictures, train_seconds=None, num_parameters=None):
    """`report.md` (`run.report`): the data, greedy and beam BLEU/chrF side by side, training time, samples,
    attention maps."""
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
        f"{bundle.target_vocab.size} target pieces, learned on the training pairs only (`{run.subwords.name}/`). "
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
        markdown_table(rows[0], rows[1:]),
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
        lines += ["", "## Sample translations", "", markdown_table(sample_rows[0], sample_rows[1:]), "", f"All test pairs: `{run.samples.name}`."]
    if pictures:
        lines += ["", "## Cross-attention", ""]
        lines += [f"![{Path(p).stem}]({Path(p).relative_to(run.root)})" for p in pictures]
    run.report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return run.report
