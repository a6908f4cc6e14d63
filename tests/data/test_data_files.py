"""dir: sources written into tmp_path: image folders, text folders, CSV/TSV files."""

import numpy as np
import pytest
from PIL import Image

from keras_nn.data import load_dataset
from keras_nn.errors import ConfigError, DataError


def _write_images(root, classes, count, size=(4, 5), mode="L", ext="png", start=0):
    """Writes `count` images per class; image k of class c is filled with value 10 * (start + c * count + k) + 7."""
    expected = {}
    for c, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(count):
            value = 10 * (start + c * count + k) + 7
            h, w = size
            pixels = np.full((h, w), value, np.uint8)
            pixels[0, 0] = 255 - value  # not a constant image, so orientation and position matter
            image = Image.fromarray(pixels, mode="L").convert(mode)
            image.save(folder / f"{k}.{ext}")
            expected[value] = (name, pixels)
    return expected


def _all_examples(bundle):
    xs, ys = [], []
    for split in ("train", "validation", "test"):
        if getattr(bundle, split) is not None:
            x, y = bundle.as_numpy(split)
            xs.append(x)
            ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def test_image_folder_labels_and_pixels(tmp_path):
    # Written in reverse order: class ids must follow the sorted folder names, not creation order.
    expected = _write_images(tmp_path, ["zebra", "ant"], count=6)
    bundle = load_dataset(f"dir:{tmp_path}", batch_size=4)
    assert bundle.form == "image"
    assert bundle.class_names == ["ant", "zebra"]
    assert bundle.num_classes == 2
    assert bundle.input_shape == (4, 5, 1)
    assert sum(bundle.num_examples.values()) == 12
    assert bundle.num_examples["test"] == 3 and bundle.num_examples["validation"] == 1
    x, y = _all_examples(bundle)
    assert x.dtype == np.float32 and x.shape == (12, 4, 5, 1)
    for image, label in zip(x, y, strict=True):
        raw = np.round(image[..., 0] * 255).astype(np.uint8)
        name, pixels = expected[int(raw[1, 1])]
        np.testing.assert_array_equal(raw, pixels)
        assert bundle.class_names[label] == name
    xb, yb = next(iter(bundle.train))
    assert tuple(xb.shape) == (4, 4, 5, 1) and yb.dtype.name == "int32"


def test_colour_images_give_three_channels(tmp_path):
    _write_images(tmp_path, ["a", "b"], count=3, mode="RGB", ext="jpg")
    _write_images(tmp_path, ["a", "b"], count=2, mode="L", ext="bmp")  # grayscale mixed in -> RGB
    bundle = load_dataset(f"dir:{tmp_path}", test_fraction=0.0, validation_fraction=0.0)
    assert bundle.input_shape == (4, 5, 3)
    x, _ = bundle.as_numpy("train")
    assert x.shape == (10, 4, 5, 3)


def test_grayscale_bmp_and_gif_stay_one_channel(tmp_path):
    expected = _write_images(tmp_path, ["a", "b"], count=2, mode="L", ext="bmp")
    bundle = load_dataset(f"dir:{tmp_path}", test_fraction=0.0, validation_fraction=0.0, form="sequence")
    assert bundle.input_shape == (4, 5) and bundle.form == "sequence"
    x, y = bundle.as_numpy("train")
    for image, label in zip(x, y, strict=True):
        raw = np.round(image * 255).astype(np.uint8)
        name, pixels = expected[int(raw[1, 1])]
        np.testing.assert_array_equal(raw, pixels)
        assert bundle.class_names[label] == name


def test_mixed_sizes_error_names_files_and_fix(tmp_path):
    _write_images(tmp_path, ["a"], count=2, size=(8, 8))
    _write_images(tmp_path, ["b"], count=2, size=(4, 8))
    with pytest.raises(DataError) as err:
        load_dataset(f"dir:{tmp_path}")
    message = str(err.value)
    assert "8x8" in message and "4x8" in message
    assert "a/0.png" in message and "b/0.png" in message
    assert "data.image_size=[" in message
    assert "\n" not in message


def test_image_size_pads_keeping_aspect_ratio(tmp_path):
    expected = _write_images(tmp_path, ["a"], count=2, size=(8, 8))
    expected.update(_write_images(tmp_path, ["b"], count=2, size=(4, 8), start=2))
    bundle = load_dataset(f"dir:{tmp_path}", image_size=[8, 8], test_fraction=0.0, validation_fraction=0.0)
    assert bundle.input_shape == (8, 8, 1)
    x, y = bundle.as_numpy("train")
    assert x.shape == (4, 8, 8, 1)
    for image, label in zip(x, y, strict=True):
        raw = np.round(image[..., 0] * 255).astype(np.uint8)
        if bundle.class_names[label] == "a":
            np.testing.assert_array_equal(raw, expected[int(raw[1, 1])][1])
        else:
            # A 4x8 image fits 8x8 unscaled: two zero rows above and below, the content in between.
            np.testing.assert_array_equal(raw[:2], 0)
            np.testing.assert_array_equal(raw[6:], 0)
            np.testing.assert_array_equal(raw[2:6], expected[int(raw[3, 1])][1])


def test_text_folder(tmp_path):
    for name, texts in {
        "pos": ["good film", "great fun", "loved it"],
        "neg": ["bad", "awful plot", "meh"],
    }.items():
        (tmp_path / name).mkdir()
        for i, text in enumerate(texts):
            (tmp_path / name / f"{i}.txt").write_text(text, encoding="utf-8")
    bundle = load_dataset(f"dir:{tmp_path}", test_fraction=0.0, validation_fraction=0.0)
    assert bundle.form == "text" and bundle.input_shape == ()
    assert bundle.class_names == ["neg", "pos"]
    x, y = bundle.as_numpy("train")
    pairs = {(text.decode(), bundle.class_names[label]) for text, label in zip(x, y, strict=True)}
    assert ("great fun", "pos") in pairs and ("awful plot", "neg") in pairs and len(pairs) == 6


def _write_csv(path, rows, header):
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_csv_tabular_and_timesteps(tmp_path):
    path = tmp_path / "table.csv"
    rows = [[*(r * 10 + f for f in range(6)), "yes" if r % 2 else "no"] for r in range(20)]
    _write_csv(path, rows, [f"f{i}" for i in range(6)] + ["label"])
    bundle = load_dataset(f"dir:{path}", batch_size=8)
    assert bundle.form == "tabular" and bundle.input_shape == (6,)
    assert bundle.class_names == ["no", "yes"]
    x, y = _all_examples(bundle)
    assert x.dtype == np.float32 and x.shape == (20, 6)
    for features, label in zip(x, y, strict=True):
        r = int(features[0]) // 10
        np.testing.assert_array_equal(features, [r * 10 + f for f in range(6)])
        assert label == r % 2

    seq = load_dataset(f"dir:{path}", timesteps=3)
    assert seq.form == "sequence" and seq.input_shape == (3, 2)
    xs, _ = seq.as_numpy("test")
    xt, _ = bundle.as_numpy("test")
    np.testing.assert_array_equal(xs, xt.reshape(-1, 3, 2))
    univariate = load_dataset(f"dir:{path}", form="sequence")
    assert univariate.input_shape == (6, 1)


def test_csv_label_column_and_numeric_label_order(tmp_path):
    path = tmp_path / "t.csv"
    _write_csv(path, [[i, i * 2, ["2", "10", "9"][i % 3]] for i in range(12)], ["a", "b", "target"])
    bundle = load_dataset(f"dir:{path}", label_column="target")
    assert bundle.class_names == ["2", "9", "10"]  # numeric order, not "10" < "2"
    x, y = _all_examples(bundle)
    for features, label in zip(x, y, strict=True):
        assert bundle.class_names[label] == ["2", "10", "9"][int(features[0]) % 3]


def test_tsv_label_text_lines_and_csv_text_column(tmp_path):
    tsv = tmp_path / "reviews.tsv"
    tsv.write_text("pos\tgood\tand fun\nneg\tbad\npos\tnice\nneg\tdull\n", encoding="utf-8")
    bundle = load_dataset(f"dir:{tsv}", test_fraction=0.0, validation_fraction=0.0)
    assert bundle.form == "text" and bundle.class_names == ["neg", "pos"]
    x, y = bundle.as_numpy("train")
    assert {(t.decode(), bundle.class_names[i]) for t, i in zip(x, y, strict=True)} >= {
        ("good\tand fun", "pos"),
        ("bad", "neg"),
    }

    csv_path = tmp_path / "reviews.csv"
    _write_csv(
        csv_path,
        [["nice one", "pos"], ["boring", "neg"], ["fine", "pos"], ["poor", "neg"]],
        ["text", "label"],
    )
    text = load_dataset(f"dir:{csv_path}", test_fraction=0.0, validation_fraction=0.0)
    assert text.form == "text" and text.input_shape == ()


def test_csv_errors(tmp_path):
    path = tmp_path / "t.csv"
    _write_csv(path, [[1, 2, "x"], [3, 4, "y"]], ["a", "b", "label"])
    with pytest.raises(DataError, match="'klass'"):
        load_dataset(f"dir:{path}", label_column="klass")
    with pytest.raises(ConfigError, match="timesteps=3.*1, 2"):
        load_dataset(f"dir:{path}", timesteps=3)
    with pytest.raises(ConfigError, match="'image'"):
        load_dataset(f"dir:{path}", form="image")
    bad = tmp_path / "bad.csv"
    _write_csv(bad, [[1, 2, "x"], [3, "oops", "y"]], ["a", "b", "label"])
    with pytest.raises(DataError, match="'oops'.*'b'"):
        load_dataset(f"dir:{bad}")
    other = tmp_path / "data.json"
    other.write_text("{}", encoding="utf-8")
    with pytest.raises(DataError, match=r"\.json"):
        load_dataset(f"dir:{other}")


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no class sub-folders"):
        load_dataset(f"dir:{tmp_path}")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "notes.md").write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match="no image"):
        load_dataset(f"dir:{tmp_path}")
    _write_images(tmp_path, ["b"], count=2)
    (tmp_path / "b" / "x.txt").write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match="data.form=image or data.form=text"):
        load_dataset(f"dir:{tmp_path}")
    assert (
        load_dataset(f"dir:{tmp_path}", form="image", test_fraction=0.0, validation_fraction=0.0).form
        == "image"
    )
    (tmp_path / "b" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png"):
        load_dataset(f"dir:{tmp_path}", form="image")
