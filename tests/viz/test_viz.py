import keras
import numpy as np
import pytest
from PIL import Image
from sklearn import metrics as sk_metrics

import keras_nn
from keras_nn.errors import ConfigError
from keras_nn.viz import (
    confusion_matrix,
    find_last_conv_layer,
    grad_cam,
    plot_confusion_matrix,
    plot_image_grid,
    plot_misclassified,
    read_confusion_csv,
    save_grad_cam_overlays,
    write_confusion_csv,
)


def assert_png(path, min_size=100):
    """The file is a PNG that decodes, and big enough to hold a readable figure."""
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()
        assert min(image.size) >= min_size


def test_confusion_matrix_counts_match_sklearn_and_keep_absent_classes(tmp_path):
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, 200)
    y_pred = np.where(rng.random(200) < 0.7, y_true, rng.integers(0, 4, 200))
    matrix = confusion_matrix(y_true, y_pred, 5)  # class 4 never occurs but keeps its row and column
    expected = np.zeros((5, 5), int)
    np.add.at(expected, (y_true, y_pred), 1)
    np.testing.assert_array_equal(matrix, expected)
    np.testing.assert_array_equal(matrix[:4, :4], sk_metrics.confusion_matrix(y_true, y_pred))
    names = ["cat", "dog", "bird", "fish", "frog"]
    read, read_names = read_confusion_csv(write_confusion_csv(matrix, names, tmp_path / "cm.csv"))
    np.testing.assert_array_equal(read, matrix)
    assert read_names == names
    assert (tmp_path / "cm.csv").read_text().splitlines()[1].startswith("cat,")
    assert_png(plot_confusion_matrix(matrix, names, tmp_path / "cm.png", title="pets"))
    with pytest.raises(ConfigError, match="needs 5 class names"):
        plot_confusion_matrix(matrix, names[:3], tmp_path / "bad.png")


def test_sample_grids(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((10, 12, 12, 3), dtype=np.float32)
    y_true = np.arange(10) % 3
    y_pred = y_true.copy()
    y_pred[[1, 4, 7]] = (y_pred[[1, 4, 7]] + 1) % 3
    probabilities = np.full((10, 3), 0.1, np.float32)
    probabilities[np.arange(10), y_pred] = np.linspace(0.5, 0.9, 10)
    shown = plot_misclassified(images, y_true, y_pred, ["a", "b", "c"], tmp_path / "wrong.png", probabilities)
    assert list(shown) == [7, 4, 1], "only the mistakes, the most confident first"
    assert_png(tmp_path / "wrong.png")
    assert len(plot_misclassified(images, y_true, y_true, ["a", "b", "c"], tmp_path / "none.png")) == 0
    assert not (tmp_path / "none.png").exists()
    assert_png(plot_image_grid(images[:, :, :, :1], tmp_path / "grey.png", titles=[str(i) for i in range(10)], title="grey"))


def test_grad_cam_shape_range_and_layer_search():
    model = keras_nn.create_model("simple_cnn", num_classes=3, input_shape=(16, 16, 1), filters=(8, 16))
    assert find_last_conv_layer(model) == "stage2_conv1_relu"  # the pool after it is skipped
    images = np.random.default_rng(0).random((3, 16, 16, 1), dtype=np.float32)
    maps = grad_cam(model, images)
    assert maps.shape == (3, 16, 16) and maps.dtype == np.float32
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    assert grad_cam(model, images, class_index=[0, 1, 2], layer_name="stage1_conv1_relu", upsample=False).shape == (3, 16, 16)
    coarse = grad_cam(model, images, class_index=1, upsample=False)
    assert coarse.shape == (3, 8, 8)
    peaks = coarse.reshape(3, -1).max(axis=1)
    assert np.all(np.isclose(peaks, 1.0) | (peaks == 0.0)), "each map is scaled to its maximum"
    with pytest.raises(ConfigError, match="has no layer 'nope'"):
        grad_cam(model, images, layer_name="nope")
    with pytest.raises(ConfigError, match="outside the model's 3 classes"):
        grad_cam(model, images, class_index=5)
    with pytest.raises(ConfigError, match="no .*height, width, channels.* output"):
        grad_cam(model, images, layer_name="predictions")


def test_grad_cam_on_keras_applications_models_and_wrapped_backbones(tmp_path):
    application = keras.applications.MobileNetV2(input_shape=(64, 64, 3), weights=None, classes=4)
    assert find_last_conv_layer(application) == "out_relu"
    images = np.random.default_rng(0).random((2, 64, 64, 3), dtype=np.float32)
    maps = grad_cam(application, images)
    assert maps.shape == (2, 64, 64) and 0.0 <= maps.min() and maps.max() <= 1.0

    backbone = keras.applications.MobileNetV2(input_shape=(64, 64, 3), weights=None, include_top=False)
    inputs = keras.Input((64, 64, 3))
    features = keras.layers.GlobalAveragePooling2D()(backbone(inputs))
    wrapped = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="predictions")(features))
    assert find_last_conv_layer(wrapped) == backbone.name
    wrapped_maps = grad_cam(wrapped, images, class_index=[0, 1])
    assert wrapped_maps.shape == (2, 64, 64)
    path = save_grad_cam_overlays(images, {"class 0": maps, "class 1": wrapped_maps}, tmp_path / "cam.png", titles=["x", "y"])
    assert_png(path)
    with pytest.raises(ConfigError, match="hold 1 maps for 2 images"):
        save_grad_cam_overlays(images, maps[:1], tmp_path / "bad.png")


def _quadrant_task(count, rng):
    """Noise images whose class says only whether a bright square sits in the top-left quadrant; squares in the
    other quadrants appear at random in both classes, so they carry no information."""
    images = rng.random((count, 16, 16, 1), dtype=np.float32) * 0.3
    labels = rng.integers(0, 2, count)

    def stamp(index, top, left):
        row, col = top + rng.integers(0, 5), left + rng.integers(0, 5)
        images[index, row : row + 3, col : col + 3] = 1.0

    for index in range(count):
        if labels[index]:
            stamp(index, 0, 0)
        for top, left in ((0, 8), (8, 0), (8, 8)):
            if rng.random() < 0.5:
                stamp(index, top, left)
    return images, labels


def test_grad_cam_highlights_the_informative_quadrant():
    rng = np.random.default_rng(0)
    x, y = _quadrant_task(768, rng)
    model = keras_nn.create_model("simple_cnn", num_classes=2, input_shape=(16, 16, 1), filters=(8, 16), dense_units=0, dropout=0.0)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    x_test, y_test = _quadrant_task(128, rng)
    assert model.evaluate(x_test, y_test, verbose=0)[1] > 0.9
    positives = x_test[y_test == 1]
    maps = grad_cam(model, positives, class_index=1)
    top_left = maps[:, :8, :8].mean()
    others = np.mean([maps[:, :8, 8:].mean(), maps[:, 8:, :8].mean(), maps[:, 8:, 8:].mean()])
    assert top_left > 2 * others, (top_left, others)
