"""`gan`: a DCGAN (optionally class-conditional) trained in `fit`, scored the way small-image GANs are scored.

The model (`keras_nn.models.DCGAN`) alternates a discriminator step and a generator step in `train_step`; its
history holds both losses and the discriminator's accuracy on real and on generated images. Images are scaled to
[-1, 1] for the generator's tanh.

The report: the same fixed noise rendered after every epoch (`samples_by_epoch.png`, `samples.gif`), the final
samples (`samples.png`, a row per class when conditional), the discriminator's accuracy on real and generated images
(`discriminator_accuracy.png`), and two quality scores computed with a classifier trained on the real training
images (the standard offline substitute for the Inception Score and FID on small digit images;
`keras_nn.metrics.classifier_score`, `frechet_distance` on the classifier's penultimate features): for the
generated images, for the real test images (the ceiling) and for uniform noise images (the floor), in `report.md`.
A conditional model is also scored on whether the classifier reads the digit it was asked for.
The exported file is the generator: noise in, image out (a conditional one takes the noise with the one-hot class
appended).
"""

import logging

import keras
import numpy as np

from keras_nn.config.export_plan import ModelExport
from keras_nn.config.schema import Field
from keras_nn.errors import ConfigError
from keras_nn.files import atomic_write_text
from keras_nn.metrics import classifier_score, frechet_distance
from keras_nn.models import DCGAN, create_model
from keras_nn.training.optimizers import build_optimizer
from keras_nn.training.tasks.base import Task, compile_options, model_arguments
from keras_nn.viz import markdown_table, plot_image_grid, read_history
from keras_nn.viz.gan_samples import plot_discriminator_balance, plot_sample_progress, write_sample_gif

logger = logging.getLogger(__name__)


def to_unit_range(images):
    """Generator output in [-1, 1] as images in [0, 1]."""
    return np.clip((np.asarray(images, dtype=np.float32) + 1.0) / 2.0, 0.0, 1.0)


class FixedNoiseSamples(keras.callbacks.Callback):
    """Renders `model.generate(count, seed=seed)` after every epoch: the same noise (and, conditional, the
    classes in turn) each time. `frames` holds the images in [0, 1], `epochs` their epoch."""

    def __init__(self, count, seed):
        super().__init__()
        self.count, self.seed = count, seed
        self.frames, self.epochs = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.frames.append(to_unit_range(self.model.generate(self.count, seed=self.seed)))
        self.epochs.append(epoch + 1)


class GANTask(Task):
    """Adversarial training on the training images (labels only for a conditional model), and its report (module
    doc)."""

    name = "gan"
    options = {
        "conditional": Field((bool,), False, help="condition generator and discriminator on the class labels"),
        "samples_per_epoch": Field(
            (int,), 10, minimum=1, help="fixed-noise samples rendered after each epoch (classes in turn if conditional)"
        ),
        "grid_samples": Field((int,), 100, minimum=1, help="images in samples.png (a row per class if conditional)"),
        "score_samples": Field(
            (int,), 1000, minimum=20, help="images per scored set (generated, real, noise); at most the test set's"
        ),
        "score_splits": Field((int,), 10, minimum=1, help="splits of the classifier score (mean and spread)"),
        "scorer_epochs": Field((int,), 15, minimum=1, help="epochs of the classifier the scores read"),
    }

    def build_model(self, config, bundle):
        arguments = model_arguments(config)
        arguments.setdefault("input_shape", tuple(bundle.input_shape))
        arguments.setdefault("seed", config["training"]["seed"])
        if config["task_options"]["conditional"]:
            arguments.setdefault("num_classes", bundle.num_classes)
        model = create_model(config["model"]["name"], **arguments)
        if not isinstance(model, DCGAN):
            raise ConfigError(f"task 'gan' trains the dcgan model, not {config['model']['name']!r}; set model.name: dcgan")
        return model

    def compile(self, model, config, steps_per_epoch):
        training = config["training"]
        if training["label_smoothing"]:
            raise ConfigError(
                f"training.label_smoothing={training['label_smoothing']} does not reach a GAN; set "
                "model.label_smoothing (one-sided: the real targets only) and training.label_smoothing: 0"
            )
        # One optimizer per network, both as the recipe describes (DCGAN: Adam 2e-4, beta_1 0.5).
        model.compile(
            generator_optimizer=build_optimizer(config, steps_per_epoch),
            discriminator_optimizer=build_optimizer(config, steps_per_epoch),
            **compile_options(training),
        )

    def fit_data(self, dataset, config, bundle):
        if config["task_options"]["conditional"]:
            return dataset.map(lambda images, labels: (images * 2.0 - 1.0, labels))
        return dataset.map(lambda images, labels: images * 2.0 - 1.0)

    def fit(self, model, bundle, config, callbacks, verbose):
        self.progress = FixedNoiseSamples(config["task_options"]["samples_per_epoch"], config["training"]["seed"])
        return super().fit(model, bundle, config, [*callbacks, self.progress], verbose)

    def train_scorer(self, config, bundle):
        """A classifier of the real training images (`simple_cnn`) and its penultimate-feature model."""
        options = config["task_options"]
        scorer = create_model(
            "simple_cnn", num_classes=bundle.num_classes, input_shape=tuple(bundle.input_shape)
        )
        scorer.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        scorer.fit(
            bundle.train, validation_data=bundle.validation, epochs=options["scorer_epochs"], verbose=0, shuffle=False
        )
        features = keras.Model(scorer.inputs, scorer.get_layer("hidden").output)
        return scorer, features

    def evaluate(self, model, bundle, config):
        """Keras' validation and test losses and accuracies, then the classifier-based quality scores of generated
        images beside the real test images' (the ceiling) and noise images' (the floor)."""
        metrics = super().evaluate(model, bundle, config)
        options = config["task_options"]
        seed = config["training"]["seed"]
        real_test, _ = bundle.as_numpy("test")
        # Every set holds as many images as the real test set (at most score_samples), scored in the same splits:
        # both scores depend on the sample size (the split's class marginal, the covariances' estimate).
        count = min(options["score_samples"], len(real_test))
        real_test = real_test[:count]
        real_train, _ = bundle.as_numpy("train", limit=count)
        scorer, features = self.train_scorer(config, bundle)
        scorer_scores = scorer.evaluate(bundle.test, verbose=0, return_dict=True)
        metrics["scorer_test_accuracy"] = round(float(scorer_scores["accuracy"]), 4)
        metrics["scored_images"] = count

        # A conditional GAN draws the classes in turn, so that every split of the classifier score holds all alike.
        generated = to_unit_range(model.generate(count, seed=seed + 1))
        noise_images = np.random.default_rng(seed + 2).random(generated.shape).astype("float32")
        splits = min(options["score_splits"], count)
        for label, images in (("generated", generated), ("real_test", real_test), ("noise", noise_images)):
            probabilities = scorer.predict(images, verbose=0)
            mean, spread = classifier_score(probabilities, splits=splits)
            metrics[f"classifier_score_{label}"] = round(mean, 4)
            metrics[f"classifier_score_{label}_std"] = round(spread, 4)
            if label == "generated" and model.num_classes is not None:
                # A conditional generator should draw the class it was asked for.
                asked = model.generation_labels(count)
                metrics["conditional_accuracy"] = round(float(np.mean(probabilities.argmax(-1) == asked)), 4)
        # The distance's real ceiling: real training images against the real test images.
        real_features = features.predict(real_test, verbose=0)
        for label, images in (("generated", generated), ("real_train", real_train), ("noise", noise_images)):
            distance = frechet_distance(features.predict(images, verbose=0), real_features)
            metrics[f"frechet_distance_{label}"] = round(distance, 4)
        metrics["classifier_score_ratio_to_real"] = round(
            metrics["classifier_score_generated"] / metrics["classifier_score_real_test"], 4
        )
        metrics["frechet_ratio_to_noise"] = round(
            metrics["frechet_distance_generated"] / max(metrics["frechet_distance_noise"], 1e-12), 4
        )
        return metrics

    def report(self, model, bundle, config, run, metrics):
        progress = getattr(self, "progress", None)
        if progress is not None and progress.frames:
            title = f"{config['model']['name']}: fixed noise after each epoch"
            plot_sample_progress(np.stack(progress.frames), progress.epochs, run.samples_by_epoch_png, title=title)
            write_sample_gif(np.stack(progress.frames), progress.epochs, run.samples_gif)
        options = config["task_options"]
        seed = config["training"]["seed"] + 3
        if model.num_classes is None:
            per_class = None
            samples = to_unit_range(model.generate(options["grid_samples"], seed=seed))
            titles, title = None, f"{len(samples)} samples of the trained generator"
        else:
            per_class = max(options["grid_samples"] // model.num_classes, 1)
            asked = np.repeat(np.arange(model.num_classes), per_class)  # a row of `per_class` per class
            samples = to_unit_range(model.generate(len(asked), labels=asked, seed=seed))
            names = bundle.class_names or [str(index) for index in range(model.num_classes)]
            titles = [f"asked: {names[label]}" for label in asked]
            title = f"Samples of the trained generator, {per_class} per class (a row per class)"
        plot_image_grid(samples, run.samples_png, titles=titles, title=title, columns=per_class)
        history = read_history(run.history)
        if "d_real_accuracy" in history:
            plot_discriminator_balance(history, run.discriminator_png)
        write_gan_report(run, config, metrics)
        return {}

    def generate(self, model, run, config, count=16, labels=None, seed=0):
        """`keras-nn generate`: `count` images in [0, 1] and the classes drawn (None when unconditional); `labels`
        is one class for all or one per image (default: the classes in turn)."""
        if labels is not None and len(labels) == 1:
            labels = labels[0]
        drawn = model.generation_labels(count, labels)
        images = to_unit_range(model.generate(count, labels=drawn, seed=seed))
        return images, None if drawn is None else drawn.tolist()

    def export_plan(self, model, bundle, config):
        section = config["export"]
        seed = config["training"]["seed"]
        representative = self.export_inputs(model, section["representative_samples"], seed + 4)
        verify = self.export_inputs(model, section["verify_samples"], seed + 5)
        # The exported graph is the generator: images out, no class labels to score.
        return ModelExport(self.export_model(model), representative_data=representative, verify_inputs=verify)

    def export_inputs(self, model, count, seed):
        """What the exported generator reads: noise (as `generate` draws it), with the one-hot class appended when
        conditional (the classes in turn)."""
        noise = np.random.default_rng(seed).standard_normal((count, model.latent_dim)).astype("float32")
        labels = model.generation_labels(count)
        if labels is None:
            return noise
        return np.concatenate([noise, np.eye(model.num_classes, dtype="float32")[labels]], axis=1)

    def export_model(self, model):
        """The generator as a single-input model (the export pipeline's contract): a conditional generator reads
        `[noise, one-hot class]` and takes the class as its argmax."""
        if model.num_classes is None:
            return model.generator
        latent = model.latent_dim
        joint = keras.Input((latent + model.num_classes,), name="noise_and_class")
        noise = keras.layers.Lambda(lambda x: x[:, :latent], name="noise")(joint)
        import tensorflow as tf

        # tf.argmax, not keras.ops.argmax: the latter's negative-zero handling adds a BitwiseAnd that TFLite's
        # builtin operators lack.
        labels = keras.layers.Lambda(
            lambda x: tf.cast(tf.argmax(x[:, latent:], axis=-1), tf.int32), name="class"
        )(joint)
        return keras.Model(joint, model.generator([noise, labels]), name="conditional_generator")


def write_gan_report(run, config, metrics):
    """`report.md`: the quality scores of the generated images beside the real test images' and noise's."""
    rows = [
        ["generated by this GAN", metrics["classifier_score_generated"], metrics["classifier_score_generated_std"],
         metrics["frechet_distance_generated"]],
        ["real test images (ceiling; distance: real training images)", metrics["classifier_score_real_test"],
         metrics["classifier_score_real_test_std"], metrics["frechet_distance_real_train"]],
        ["uniform noise images (floor)", metrics["classifier_score_noise"], metrics["classifier_score_noise_std"],
         metrics["frechet_distance_noise"]],
    ]
    table = markdown_table(
        ["images", "classifier score (higher is better)", "± over splits", "Fréchet distance to real test (lower)"],
        [[cell if isinstance(cell, str) else f"{cell:.3f}" for cell in row] for row in rows],
        align=["left", "right", "right", "right"],
    )
    lines = [
        f"# {config['name']}: sample quality",
        "",
        "Scores read by a `simple_cnn` trained on the real training images (test accuracy "
        f"{metrics['scorer_test_accuracy']:.4f}): the classifier score is the Inception Score with its class "
        "probabilities, the distance the Fréchet distance between its penultimate features of these images and of "
        f"the real test images. Each set holds {metrics['scored_images']} images (as many as the real test set), the "
        f"score's spread is over {min(config['task_options']['score_splits'], metrics['scored_images'])} splits.",
        "",
        table,
        "",
        f"Generated / real classifier score: {metrics['classifier_score_ratio_to_real']:.3f}; generated / noise "
        f"distance: {metrics['frechet_ratio_to_noise']:.3f}.",
    ]
    if "conditional_accuracy" in metrics:
        lines += ["", f"The classifier reads the asked class in {metrics['conditional_accuracy']:.1%} of generated images."]
    atomic_write_text(run.report, "\n".join(lines) + "\n")
