"""The gan task: a short conditional run on digits (report files, scores, generator export with parity); an image
size the generator cannot reach refused."""

import json

import numpy as np
import pytest
from PIL import Image

from keras_nn.cli import main
from keras_nn.runs import load_recipe
from keras_nn.runs import train_run as train

QUICK = [
    "data.image_size=[8,8]", "model.base_filters=8", "model.latent_dim=16", "training.epochs=3",
    "training.steps_per_execution=1", "task_options.score_samples=60", "task_options.scorer_epochs=3",
    "task_options.samples_per_epoch=3", "task_options.grid_samples=20", "task_options.score_splits=2", "export.formats=[tflite,onnx]",
    "export.verify_samples=20", "export.representative_samples=10",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("gan") / "run"
    return train(load_recipe("dcgan_digits", QUICK), root, verbose=0), root


@pytest.mark.slow  # an end-to-end run with TFLite and ONNX conversion (about 30 s)
def test_report_scores_and_export(run):
    result, root = run
    metrics = result.metrics
    for name in ("samples.png", "samples_by_epoch.png", "discriminator_accuracy.png", "curves.png", "report.md"):
        assert (root / name).is_file(), name
    assert Image.open(root / "samples.gif").n_frames == 3  # one frame per epoch
    history = (root / "history.csv").read_text().splitlines()[0]
    for key in ("d_loss", "g_loss", "d_real_accuracy", "d_fake_accuracy"):
        assert key in history
    # The scores order real images above noise, whatever the generator learned in three epochs.
    assert metrics["classifier_score_real_test"] > metrics["classifier_score_noise"]
    assert metrics["frechet_distance_real_train"] < metrics["frechet_distance_noise"]
    assert metrics["classifier_score_ratio_to_real"] == pytest.approx(
        metrics["classifier_score_generated"] / metrics["classifier_score_real_test"], rel=1e-3
    )
    assert 0.0 <= metrics["conditional_accuracy"] <= 1.0
    assert metrics["scored_images"] == 60  # score_samples, fewer than the 360 test images
    assert "real test images" in (root / "report.md").read_text()

    # The exported generator reads [noise, one-hot class] and draws what the Keras generator draws.
    parity = json.loads((root / "export" / "parity.json").read_text())
    assert sorted(entry["format"] for entry in parity) == ["onnx", "tflite-float32"]
    for entry in parity:
        assert entry["max_abs_error"] < 1e-4 and not entry["flex_operators"], entry
    import onnxruntime

    session = onnxruntime.InferenceSession(str(root / "export" / "model.onnx"))
    noise = np.random.default_rng(0).standard_normal((4, 16)).astype("float32")
    labels = np.array([0, 3, 7, 9], "int32")
    (images,) = session.run(None, {session.get_inputs()[0].name: np.concatenate([noise, np.eye(10)[labels]], 1).astype("float32")})
    expected = result.model.generator.predict([noise, labels], verbose=0)
    np.testing.assert_allclose(images, expected, atol=1e-4)
    assert images.shape == (4, 8, 8, 1) and np.all(np.abs(images) <= 1.0)


@pytest.mark.slow  # shares the end-to-end run
def test_generate_command_draws_the_asked_classes(run, tmp_path, capsys):
    result, root = run
    output = tmp_path / "sevens.png"
    assert main(["generate", str(root), "--label", "7", "--count", "6", "--output", str(output)]) == 0
    assert "6 images of classes [7]" in capsys.readouterr().out
    assert Image.open(output).size[0] > 100
    # A class outside the conditional GAN's ten, a prompt for a GAN run: one line each, exit 2, no file.
    assert main(["generate", str(root), "--label", "10", "--output", str(tmp_path / "bad.png")]) == 2
    assert "outside [0, 10)" in capsys.readouterr().err
    assert main(["generate", str(root), "the cat", "--output", str(tmp_path / "bad.png")]) == 2
    assert "takes no prompt" in capsys.readouterr().err
    assert not (tmp_path / "bad.png").exists()


def test_an_unreachable_image_size_is_refused(tmp_path, capsys):
    output = tmp_path / "run"
    assert main(["train", "dcgan_digits", "--set", "data.image_size=[12,12]", "--output", str(output)]) == 2
    assert "4 * 2**k" in capsys.readouterr().err
    assert not output.exists()


def test_training_label_smoothing_points_at_the_models_one_sided_option(tmp_path, capsys):
    output = tmp_path / "run"
    assert main(["train", "dcgan_digits", "--set", "training.label_smoothing=0.1", "--output", str(output)]) == 2
    assert "set model.label_smoothing" in capsys.readouterr().err
    assert not output.exists()

