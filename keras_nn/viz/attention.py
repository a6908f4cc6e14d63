"""Attention heat maps of sequence models, with Hangul drawn by a Korean font or romanized when none is installed.

`plot_attention` draws one map per sentence (output tokens against source tokens, e.g. the Bahdanau attention
of `seq2seq_attention`); `plot_attention_heads` draws every head of every layer for one sentence (the
cross-attention of a Transformer decoder). Tokens are characters (a string) or subword pieces (a list).

Matplotlib's bundled fonts have no Hangul, so without an installed Korean font (`HANGUL_FONTS`) each Hangul
syllable would draw as an empty box. Labels are then romanized with the Revised Romanization of Korean,
syllable by syllable with liaison (`"먹었다"` -> `"meogeotda"`, `"사과를"` -> `"sagwareul"`), so the maps stay
readable; titles say so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HANGUL_FONTS = (
    "NanumGothic",
    "Noto Sans CJK KR",
    "Noto Sans KR",
    "Noto Sans CJK JP",
    "Source Han Sans KR",
    "Malgun Gothic",
    "AppleGothic",
    "UnDotum",
    "Baekmuk Gulim",
    "Droid Sans Fallback",
)

# Revised Romanization of the 19 initial consonants, 21 vowels and 28 finals (index 0: none) of a syllable.
_INITIALS = (
    "g",
    "kk",
    "n",
    "d",
    "tt",
    "r",
    "m",
    "b",
    "pp",
    "s",
    "ss",
    "",
    "j",
    "jj",
    "ch",
    "k",
    "t",
    "p",
    "h",
)
_VOWELS = (
    "a",
    "ae",
    "ya",
    "yae",
    "eo",
    "e",
    "yeo",
    "ye",
    "o",
    "wa",
    "wae",
    "oe",
    "yo",
    "u",
    "wo",
    "we",
    "wi",
    "yu",
    "eu",
    "ui",
    "i",
)
# A final before a consonant (or at the end), and split as (what stays, what starts the next syllable) before
# a syllable that starts with the silent ㅇ (liaison: 먹어 -> meogeo, 읽어 -> ilgeo).
_FINALS = (
    ("", ("", "")),
    ("k", ("", "g")),
    ("k", ("", "kk")),
    ("k", ("g", "s")),
    ("n", ("", "n")),
    ("n", ("n", "j")),
    ("n", ("", "n")),
    ("t", ("", "d")),
    ("l", ("", "r")),
    ("k", ("l", "g")),
    ("m", ("l", "m")),
    ("l", ("l", "b")),
    ("l", ("l", "s")),
    ("l", ("l", "t")),
    ("p", ("l", "p")),
    ("l", ("", "r")),
    ("m", ("", "m")),
    ("p", ("", "b")),
    ("p", ("p", "s")),
    ("t", ("", "s")),
    ("t", ("", "ss")),
    ("ng", ("ng", "")),
    ("t", ("", "j")),
    ("t", ("", "ch")),
    ("k", ("", "k")),
    ("t", ("", "t")),
    ("p", ("", "p")),
    ("t", ("", "")),
)
_SILENT_INITIAL = 11


def _syllable(char):
    """`(initial, vowel, final)` indices of a Hangul syllable, or None for any other character."""
    code = ord(char) - 0xAC00
    if not 0 <= code < 11172:
        return None
    return code // 588, (code % 588) // 28, code % 28


def romanize(text: str) -> str:
    """Hangul syllables in Revised Romanization (with liaison, without other sound changes); the rest as is.

    Example:
        >>> romanize("나는 사과를 3개 먹었다.")
        'naneun sagwareul 3gae meogeotda.'
    """
    out = []
    chars = list(text)
    carried = None  # the sound a final hands to the next syllable
    for index, char in enumerate(chars):
        parts = _syllable(char)
        if parts is None:
            # A lone jamo has no romanization of its own; its code point at least names it.
            jamo = 0x1100 <= ord(char) <= 0x11FF or 0x3130 <= ord(char) <= 0x318F
            out.append(f"U+{ord(char):04X}" if jamo else char)
            carried = None
            continue
        initial, vowel, final = parts
        onset = carried if carried is not None and initial == _SILENT_INITIAL else _INITIALS[initial]
        following = _syllable(chars[index + 1]) if index + 1 < len(chars) else None
        if final and following is not None and following[0] == _SILENT_INITIAL:
            coda, carried = _FINALS[final][1]
        else:
            coda, carried = _FINALS[final][0], None
        out.append(onset + _VOWELS[vowel] + coda)
    return "".join(out)


def hangul_font():
    """The name of an installed font that draws Hangul, or None."""
    from matplotlib import font_manager

    names = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in HANGUL_FONTS if name in names), None)


def token_label(token: str, hangul_font_name=None) -> str:
    """A token as a tick label: spaces shown as `␣`, Hangul romanized unless a Korean font draws it."""
    if token == " ":
        return "␣"
    return token if hangul_font_name else romanize(token)


def _tokens(text_or_tokens):
    return list(text_or_tokens) if isinstance(text_or_tokens, str) else [str(t) for t in text_or_tokens]


def _has_hangul(texts):
    return any(_syllable(char) is not None for text in texts for char in "".join(_tokens(text)))


def _title(text, hangul):
    return text if hangul else romanize(text)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _draw(axis, weights, source_labels, output_labels, hangul):
    axis.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axis.set_xticks(range(len(source_labels)), source_labels, rotation=0 if hangul else 90, fontsize=7)
    axis.set_yticks(range(len(output_labels)), output_labels, fontsize=7)


def plot_attention(sources, outputs, attention, path, title=None, end_token="</s>"):
    """Heat maps of attention weights, one per sentence: output tokens (rows) against source tokens (columns).

    Args:
        sources: source texts (a string: one token per character) or token lists.
        outputs: decoded texts or token lists.
        attention: `[N, output_steps, source_steps]` weights (steps include the end tokens).
        path: the PNG to write.
        title: figure title.
        end_token: label of the end token after each sequence (None: no end token in the steps).

    Returns:
        The path written. Hangul is drawn with an installed Korean font when there is one, else romanized.
    """
    plt = _pyplot()
    hangul = hangul_font()
    count = len(sources)
    columns = min(count, 2)
    rows = (count + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(7.2 * columns, 4.2 * rows), squeeze=False)
    tail = [end_token] if end_token else []
    with plt.rc_context({"font.family": [hangul, "DejaVu Sans"]} if hangul else {}):
        for index, axis in enumerate(axes.flat):
            if index >= count:
                axis.axis("off")
                continue
            source_labels = [token_label(t, hangul) for t in _tokens(sources[index])] + tail
            output_labels = [token_label(t, hangul) for t in _tokens(outputs[index])] + tail
            weights = np.asarray(attention[index])[: len(output_labels), : len(source_labels)]
            _draw(axis, weights, source_labels, output_labels, hangul)
            shown = "".join(_tokens(sources[index])).replace("▁", " ").strip()
            shown_output = "".join(_tokens(outputs[index])).replace("▁", " ").strip()
            # Source and output on lines of their own: side-by-side panels leave room for no more.
            axis.set_title(_title(f"{shown}\n-> {shown_output}", hangul), fontsize=9)
            axis.set_xlabel("source")
            axis.set_ylabel("output")
        if title:
            romanized = not hangul and _has_hangul(sources)
            figure.suptitle(
                _title(title, hangul) + (" (Hangul romanized: no Korean font installed)" if romanized else "")
            )
        figure.tight_layout()
        figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)


def plot_attention_heads(source_tokens, output_tokens, maps, path, title=None):
    """Every head of every layer for one sentence: a grid of heat maps, a row per layer, a column per head.

    Args:
        source_tokens: the source's tokens (columns), end token included when the model saw it.
        output_tokens: the output's tokens (rows), as the decoder read them.
        maps: `[layers, heads, output_steps, source_steps]` weights (a list over layers works too).
        path: the PNG to write.
        title: figure title (the sentence by default).

    Returns:
        The path written.
    """
    plt = _pyplot()
    hangul = hangul_font()
    maps = [np.asarray(layer) for layer in maps]
    layers, heads = len(maps), maps[0].shape[0]
    source_labels = [token_label(t, hangul) for t in source_tokens]
    output_labels = [token_label(t, hangul) for t in output_tokens]
    width = max(2.6, 0.22 * len(source_labels) + 1.2)
    height = max(2.4, 0.2 * len(output_labels) + 1.2)
    figure, axes = plt.subplots(layers, heads, figsize=(width * heads, height * layers), squeeze=False)
    with plt.rc_context({"font.family": [hangul, "DejaVu Sans"]} if hangul else {}):
        for layer in range(layers):
            for head in range(heads):
                axis = axes[layer][head]
                weights = maps[layer][head][: len(output_labels), : len(source_labels)]
                _draw(axis, weights, source_labels, output_labels, hangul)
                axis.set_title(f"layer {layer + 1}, head {head + 1}", fontsize=9)
                if head:
                    axis.set_yticklabels([])
        if title:
            romanized = not hangul and _has_hangul([source_tokens])
            suffix = " (Hangul romanized: no Korean font installed)" if romanized else ""
            figure.suptitle(_title(title, hangul) + suffix, fontsize=11)
        figure.tight_layout()
        figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)
