import numpy as np
import pytest

from keras_nn.data.timeseries import (
    chronological_bounds,
    generate_series,
    load_timeseries,
    make_windows,
    read_csv_columns,
)
from keras_nn.errors import ConfigError, DataError, MissingPathError


def test_windows_by_hand():
    series = np.arange(10, dtype="float32")[:, None]
    x, y = make_windows(series, window=3, horizon=2)
    assert x.shape == (6, 3, 1) and y.shape == (6, 2, 1)
    np.testing.assert_array_equal(x[0, :, 0], [0, 1, 2])
    np.testing.assert_array_equal(y[0, :, 0], [3, 4])
    np.testing.assert_array_equal(x[-1, :, 0], [5, 6, 7])
    np.testing.assert_array_equal(y[-1, :, 0], [8, 9])
    x, y = make_windows(series, window=4, horizon=3, stride=3)
    np.testing.assert_array_equal(x[:, 0, 0], [0, 3])
    two = np.stack([np.arange(8), 100 + np.arange(8)], axis=1).astype("float32")
    x, y = make_windows(two, window=2, horizon=1, targets=[1])
    np.testing.assert_array_equal(x[0], [[0, 100], [1, 101]])
    np.testing.assert_array_equal(y[0], [[102]])
    assert make_windows(series, window=8, horizon=3)[0].shape == (0, 8, 1)


def test_chronological_split_has_no_leakage(tmp_path):
    # The series is its own time index, so every value tells the step it came from.
    path = tmp_path / "series.csv"
    rows = "\n".join(f"2024-01-01T{i:05d},{i},{-i}" for i in range(200))
    path.write_text("time,value,other\n" + rows + "\n")
    data = load_timeseries(f"dir:{path}", window=10, horizon=5, columns=["value"], batch_size=16, validation_fraction=0.1, test_fraction=0.2)
    assert chronological_bounds(200, 0.1, 0.2) == {"train": (0, 140), "validation": (140, 160), "test": (160, 200)}
    assert data.bounds == chronological_bounds(200, 0.1, 0.2)
    np.testing.assert_allclose(data.mean, [np.arange(140).mean()])  # training statistics only
    np.testing.assert_allclose(data.std, [np.arange(140).std()], rtol=1e-6)
    for split, (first, end) in data.bounds.items():
        x, y = data.windows(split, normalized=False)
        assert x.min() >= first and y.max() < end, split  # nothing read or predicted across a boundary
        assert len(x) == (end - first) - 10 - 5 + 1
        normalized, _ = data.windows(split)
        np.testing.assert_allclose(normalized * data.std + data.mean, x, rtol=1e-5, atol=1e-4)
    # The training pipeline shuffles windows, never the steps inside one.
    x, y = next(iter(data.train))
    steps = np.round(x.numpy()[..., 0] * data.std[0] + data.mean[0])
    targets = np.round(data.denormalize(y.numpy())[..., 0])
    assert (np.diff(steps, axis=1) == 1).all() and (targets[:, 0] == steps[:, -1] + 1).all()
    assert not (np.diff(steps[:, 0]) == 1).all(), "the training windows should come shuffled"
    assert data.num_examples == {"train": 126, "validation": 6, "test": 26}


def test_generated_series_and_multivariate_csv(tmp_path):
    series = generate_series(1000, seed=1)
    assert series.shape == (1000, 1)
    np.testing.assert_array_equal(series, generate_series(1000, seed=1))
    data = load_timeseries("generated:sine", window=24, horizon=6, series_length=600)
    assert data.input_shape == (24, 1) and data.targets == [0] and data.source == "generated:sine"
    x, y = next(iter(data.test))
    assert tuple(x.shape[1:]) == (24, 1) and tuple(y.shape[1:]) == (6, 1)

    path = tmp_path / "weather.csv"
    path.write_text("temp,humidity\n" + "\n".join(f"{i % 7},{i % 5}" for i in range(120)) + "\n")
    data = load_timeseries(f"dir:{path}", window=8, horizon=2, columns=["temp", "humidity"], target_columns=["humidity"])
    assert data.input_shape == (8, 2) and data.targets == [1]
    x, y = data.windows("test", normalized=False)
    np.testing.assert_array_equal(y[0, :, 0], x[0, -1, 1] * 0 + [(96 + 8) % 5, (96 + 9) % 5])


def test_errors(tmp_path):
    with pytest.raises(ConfigError, match="generated:sine"):
        load_timeseries("embedded:digits")
    with pytest.raises(ConfigError, match="unknown generated series"):
        load_timeseries("generated:cosine")
    with pytest.raises(MissingPathError):
        load_timeseries(f"dir:{tmp_path / 'missing.csv'}")
    path = tmp_path / "two.csv"
    path.write_text("a,b\n" + "\n".join(f"{i},{i}" for i in range(50)) + "\n")
    with pytest.raises(ConfigError, match="2 numeric columns"):
        read_csv_columns(path)
    with pytest.raises(DataError, match="no column"):
        read_csv_columns(path, ["c"])
    with pytest.raises(DataError, match="too few for one window"):
        load_timeseries(f"dir:{path}", columns=["a"], window=20, horizon=5)
    with pytest.raises(ConfigError, match="window"):
        load_timeseries("generated:sine", window=0)
