"""Attention heat maps: Revised Romanization of Hangul labels, per-sentence maps and per-head grids."""

import numpy as np
import pytest
from PIL import Image

from keras_nn.viz.attention import plot_attention, plot_attention_heads, romanize, token_label


@pytest.mark.parametrize(
    "hangul, roman",
    [
        # Revised Romanization with liaison (the final consonant starts the next, silent-initial syllable).
        ("한국어", "hangugeo"),
        ("서울", "seoul"),
        ("먹었다", "meogeotda"),
        ("읽었다", "ilgeotda"),
        ("사과를", "sagwareul"),
        ("일요일", "iryoil"),
        ("화요일", "hwayoil"),
        ("있다", "itda"),
        ("나는 사과를 3개 먹었다.", "naneun sagwareul 3gae meogeotda."),
        ("I ate 3 apples", "I ate 3 apples"),
    ],
)
def test_romanize(hangul, roman):
    assert romanize(hangul) == roman


def test_token_labels():
    assert token_label(" ") == "␣" and token_label("▁사과를") == "▁sagwareul"
    assert token_label("▁사과를", hangul_font_name="NanumGothic") == "▁사과를"
    assert romanize("ㄱ") == "U+3131"  # a lone jamo is named, not drawn as an empty box


def test_plots_write_images(tmp_path):
    rng = np.random.default_rng(0)
    weights = rng.random((2, 5, 6))
    weights /= weights.sum(-1, keepdims=True)
    path = plot_attention(
        ["나는 밥", ["▁나는", "▁밥을", "."]],
        ["I eat", ["▁I", "▁eat", "."]],
        weights,
        tmp_path / "a.png",
        title="t",
    )
    assert Image.open(path).size[0] > 100
    maps = rng.random((2, 3, 4, 5))  # layers, heads, output, source
    path = plot_attention_heads(
        ["▁나는", "▁밥을", "▁먹는다", ".", "</s>"],
        ["▁I", "▁eat", ".", "</s>"],
        maps,
        tmp_path / "h.png",
        title="나는 밥을 먹는다.",
    )
    width, height = Image.open(path).size
    assert width > height  # three heads across, two layers down
