"""`simclr`: contrastive pretraining without labels (SimCLR), judged by what a few labels then achieve.

`fit` trains a `keras_nn.models.SimCLR` on two augmented views of every training image
(`keras_nn.data.views.two_view_augmentation`), labels unused, with `keras_nn.losses.NTXent`; its history holds
the NT-Xent loss and the contrastive accuracy, train and validation (`curves.png`). The evaluation freezes the
encoder and, for each share of the training labels (stratified; 10% and 100% by default), scores on the test
split: a linear probe (scikit-learn's logistic regression on the standardized features) and a k-NN classifier
(cosine distance) on the features, against (a) the same logistic regression on the raw pixels and (b) the same
backbone trained supervised from scratch on the same labelled examples (no augmentation), and (c) the linear
probe on the same encoder untrained (random weights). The report:
`report.md` (the table), `feature_map.png` (a 2-D map of the test features beside the raw pixels'). The
exported file is the encoder: images in, features out.
"""

import logging
import time

import keras
import numpy as np
import tensorflow as tf

from keras_nn.config.export_plan import ModelExport
from keras_nn.config.schema import Field
from keras_nn.data import load_dataset
from keras_nn.data.binary import labelled_share
from keras_nn.data.views import two_view_augmentation
from keras_nn.errors import ConfigError, ShapeError
from keras_nn.files import atomic_write_text
from keras_nn.losses import NTXent
from keras_nn.models import SimCLR, create_model
from keras_nn.training.tasks.base import Task, dataset_arguments, model_arguments
from keras_nn.viz import markdown_table
from keras_nn.viz.embedding import plot_embedding_maps

logger = logging.getLogger(__name__)

#: The methods of the report's table, in its order: metric key -> row label.
METHODS = {
    "linear_probe": "SimCLR features + logistic regression (linear probe)",
    "knn": "SimCLR features + k-NN (cosine)",
    "pixels_linear": "(a) raw pixels + logistic regression",
    "supervised": "(b) the same backbone, supervised from scratch",
    "random_encoder_linear": "(c) the same encoder untrained (random weights) + logistic regression",
}


def share_key(fraction):
    """`10pct` for 0.1: the suffix of the metrics of one label share."""
    return f"{round(100 * fraction):g}pct"


def check_fractions(key, value):
    if not value or any(not 0.0 < float(item) <= 1.0 for item in value):
        raise ConfigError(f"{key}={value!r} must list label shares in (0, 1], e.g. [0.1, 1.0]")
    return [float(item) for item in value]


class SimCLRTask(Task):
    """SimCLR pretraining on unlabelled images and its linear-probe / k-NN evaluation (module doc)."""

    name = "simclr"
    options = {
        "temperature": Field((float,), 0.5, minimum=1e-6, help="NT-Xent's tau"),
        "crop_scale": Field((list,), [0.08, 1.0], item_types=(float, int), help="crop area range (fractions)"),
        "crop_ratio": Field((list,), [0.75, 1.3333], item_types=(float, int), help="crop aspect ratio range"),
        "flip": Field((bool,), True, help="random horizontal flips (off where a mirror image changes the class)"),
        "jitter_strength": Field((float,), 0.5, minimum=0.0, help="s of the colour distortion"),
        "jitter_probability": Field((float,), 0.8, minimum=0.0, maximum=1.0),
        "grayscale_probability": Field((float,), 0.2, minimum=0.0, maximum=1.0),
        "blur": Field((bool,), None, help="Gaussian blur (null: on from image side 32)"),
        "label_fractions": Field(
            (list,), [0.1, 1.0], item_types=(float, int), check=check_fractions,
            help="shares of the training labels the evaluation uses",
        ),
        "neighbors": Field((int,), 5, minimum=1, help="k of the k-NN classifier"),
        "supervised_epochs": Field((int,), 30, minimum=0, help="epochs of baseline (b) (0: left out)"),
        "supervised_learning_rate": Field((float,), 1e-3, minimum=0.0, help="Adam's learning rate for (b)"),
        "map_method": Field((str,), "tsne", choices=("tsne", "pca"), help="how feature_map.png goes to 2-D"),
        "map_examples": Field((int,), 1000, minimum=1, help="test examples drawn in feature_map.png"),
    }

    # ------------------------------------------------------------------------------------------------ data

    def augmentation(self, config, image_shape, seed):
        options = config["task_options"]
        return two_view_augmentation(
            image_shape,
            crop_scale=tuple(options["crop_scale"]),
            crop_ratio=tuple(options["crop_ratio"]),
            flip=options["flip"],
            jitter_strength=options["jitter_strength"],
            jitter_probability=options["jitter_probability"],
            grayscale_probability=options["grayscale_probability"],
            blur=options["blur"],
            seed=seed,
        )

    def load_data(self, config):
        batch_size = config["data"]["batch_size"]
        if batch_size < 2:
            raise ShapeError(
                f"data.batch_size={batch_size}: NT-Xent needs at least 2 examples per batch for negatives; set "
                "data.batch_size >= 2"
            )
        bundle = load_dataset(**dataset_arguments(config))
        if bundle.form != "image" or len(bundle.input_shape) != 3:
            raise ConfigError(f"task 'simclr' learns from images; data.form={bundle.form!r} gives {bundle.input_shape}")
        if bundle.num_examples["train"] < batch_size:
            raise ConfigError(
                f"data.batch_size={batch_size} is more than the {bundle.num_examples['train']} training images; "
                "lower it (every batch must be full)"
            )
        # Checked now, before the run writes anything: a crop larger than the image fails here.
        self.augmentation(config, tuple(bundle.input_shape), config["training"]["seed"])
        return bundle

    def pairs(self, images, config, shuffle, seed):
        """Batches of `(view1, view2)` of `images`, every batch full (NT-Xent's negatives are the batch)."""
        batch_size = min(config["data"]["batch_size"], len(images))
        dataset = tf.data.Dataset.from_tensor_slices(images)
        if shuffle:
            dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        augment = self.augmentation(config, tuple(images.shape[1:]), seed)
        dataset = dataset.batch(batch_size, drop_remainder=True)
        return dataset.map(augment, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    # ------------------------------------------------------------------------------------------- the model

    def build_model(self, config, bundle):
        arguments = model_arguments(config)
        arguments.setdefault("input_shape", tuple(bundle.input_shape))
        model = create_model(config["model"]["name"], **arguments)
        if not isinstance(model, SimCLR):
            raise ConfigError(f"task 'simclr' trains the simclr model, not {config['model']['name']!r}; set model.name: simclr")
        return model

    def compile(self, model, config, steps_per_epoch):
        self.reject_label_smoothing(config)
        self.compile_model(model, config, steps_per_epoch, loss=NTXent(config["task_options"]["temperature"]))

    def fit(self, model, bundle, config, callbacks, verbose):
        seed = config["training"]["seed"]
        train, _ = bundle.as_numpy("train")
        validation = None
        if bundle.validation is not None:
            images, _ = bundle.as_numpy("validation")
            validation = self.pairs(images, config, shuffle=False, seed=seed + 1) if len(images) >= 2 else None
        return model.fit(
            self.pairs(train, config, shuffle=True, seed=seed),
            validation_data=validation,
            epochs=config["training"]["epochs"],
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,
        )

    # ------------------------------------------------------------------------------------------- results

    def evaluate(self, model, bundle, config):
        """Test accuracy of the linear probe, k-NN, raw-pixel logistic regression and the supervised backbone at
        each label share (module doc)."""
        options = config["task_options"]
        seed = config["training"]["seed"]
        train_x, train_y = bundle.as_numpy("train")
        test_x, test_y = bundle.as_numpy("test")
        train_features = model.predict(train_x, batch_size=256, verbose=0)
        test_features = model.predict(test_x, batch_size=256, verbose=0)
        # Baseline (c): what the architecture gives before any training (the same seed: SimCLR's start).
        keras.utils.set_random_seed(seed)
        untrained = self.build_model(config, bundle)
        untrained_train = untrained.predict(train_x, batch_size=256, verbose=0)
        untrained_test = untrained.predict(test_x, batch_size=256, verbose=0)
        metrics = {}
        for fraction in options["label_fractions"]:
            keep = labelled_share(train_x, train_y, fraction, seed)
            key = share_key(fraction)
            labels = train_y[keep]
            metrics[f"labelled_examples_{key}"] = int(len(keep))
            metrics[f"linear_probe_accuracy_{key}"] = logistic_accuracy(train_features[keep], labels, test_features, test_y)
            metrics[f"knn_accuracy_{key}"] = knn_accuracy(
                train_features[keep], labels, test_features, test_y, options["neighbors"]
            )
            metrics[f"pixels_linear_accuracy_{key}"] = logistic_accuracy(
                train_x[keep].reshape(len(keep), -1), labels, test_x.reshape(len(test_x), -1), test_y
            )
            metrics[f"random_encoder_linear_accuracy_{key}"] = logistic_accuracy(
                untrained_train[keep], labels, untrained_test, test_y
            )
            if options["supervised_epochs"]:
                started = time.perf_counter()
                metrics[f"supervised_accuracy_{key}"] = self.supervised_accuracy(
                    config, bundle, train_x[keep], labels, test_x, test_y
                )
                metrics[f"supervised_seconds_{key}"] = round(time.perf_counter() - started, 2)
        return metrics

    def supervised_accuracy(self, config, bundle, images, labels, test_images, test_labels):
        """Baseline (b): the encoder's backbone with a classifier, trained from scratch on the labelled images."""
        options = config["task_options"]
        model = config["model"]
        keras.utils.set_random_seed(config["training"]["seed"])
        classifier = create_model(
            model.get("backbone", "resnet18"),
            **{
                **(model.get("backbone_arguments") or {}),
                "input_shape": tuple(bundle.input_shape),
                "num_classes": bundle.num_classes,
            },
        )
        classifier.compile(
            optimizer=keras.optimizers.Adam(options["supervised_learning_rate"]),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        batch_size = min(config["data"]["batch_size"], len(images))
        classifier.fit(images, labels, batch_size=batch_size, epochs=options["supervised_epochs"], verbose=0)
        _, accuracy = classifier.evaluate(test_images, test_labels, batch_size=256, verbose=0)
        return round(float(accuracy), 4)

    def report(self, model, bundle, config, run, metrics):
        options = config["task_options"]
        test_x, test_y = bundle.as_numpy("test", limit=options["map_examples"])
        if len(test_y) > 2:
            features = model.predict(test_x, batch_size=256, verbose=0)
            method = options["map_method"]
            plot_embedding_maps(
                {
                    f"SimCLR features ({method})": two_dimensional(features, method),
                    f"raw pixels ({method})": two_dimensional(test_x.reshape(len(test_x), -1), method),
                },
                test_y, run.feature_map_png, class_names=bundle.class_names,
                title=f"Test examples: SimCLR features beside raw pixels, {method.upper()} to 2-D",
            )
        write_simclr_report(run, config, bundle, metrics)
        return {}

    def export_plan(self, model, bundle, config):
        section = config["export"]
        representative, _ = bundle.as_numpy("train", limit=section["representative_samples"])
        inputs, _ = bundle.as_numpy("test", limit=section["verify_samples"])
        # The exported graph is the encoder (features out): no class labels to score.
        return ModelExport(model.encoder_model(), representative_data=representative, verify_inputs=inputs)


def logistic_accuracy(train_x, train_y, test_x, test_y):
    """Test accuracy of scikit-learn's logistic regression on standardized inputs."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    classifier.fit(train_x, train_y)
    return round(float(classifier.score(test_x, test_y)), 4)


def knn_accuracy(train_x, train_y, test_x, test_y, neighbors):
    """Test accuracy of scikit-learn's k-NN with cosine distance."""
    from sklearn.neighbors import KNeighborsClassifier

    classifier = KNeighborsClassifier(n_neighbors=min(neighbors, len(train_y)), metric="cosine")
    classifier.fit(train_x, train_y)
    return round(float(classifier.score(test_x, test_y)), 4)


def two_dimensional(values, method):
    """`values` (N, D) mapped to (N, 2) by t-SNE or PCA (scikit-learn, seeded)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    values = np.asarray(values, dtype=np.float64)
    if method == "pca":
        return PCA(n_components=2, random_state=0).fit_transform(values)
    perplexity = float(min(30, max(2, (len(values) - 1) // 3)))
    return TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=0).fit_transform(values)


def write_simclr_report(run, config, bundle, metrics):
    """`report.md`: test accuracy of each method at each label share."""
    fractions = config["task_options"]["label_fractions"]
    keys = [share_key(fraction) for fraction in fractions]
    header = ["method", *[f"{round(100 * f):g}% labels ({metrics.get(f'labelled_examples_{k}', '?')} examples)"
                          for f, k in zip(fractions, keys, strict=True)]]
    rows = []
    for method, label in METHODS.items():
        values = [metrics.get(f"{method}_accuracy_{key}") for key in keys]
        if all(value is None for value in values):
            continue
        rows.append((label, *("-" if value is None else f"{value:.4f}" for value in values)))
    model = config["model"]
    options = config["task_options"]
    lines = [
        f"# {config['name'] or 'simclr'}: SimCLR contrastive pretraining",
        "",
        f"Data: {bundle.source}, images {tuple(bundle.input_shape)} ({bundle.num_examples.get('train', 0)} training "
        f"images, pretrained on all of them without labels). Encoder: {model.get('backbone', 'resnet18')} "
        f"{model.get('backbone_arguments') or ''}; NT-Xent temperature {options['temperature']}, batch "
        f"{config['data']['batch_size']}, {metrics.get('epochs_trained', config['training']['epochs'])} epochs.",
        "",
        "Test accuracy with a stratified share of the training labels. Linear probe: scikit-learn's logistic "
        "regression on the frozen, standardized features; k-NN: k="
        f"{options['neighbors']}, cosine distance; (a) the same logistic regression on the raw pixels; (b) the same "
        f"backbone with a classifier, trained from scratch on the labelled examples only ({options['supervised_epochs']} "
        "epochs, Adam, no augmentation); (c) the linear probe on the same encoder before training (random "
        "weights, the same seed), which shows what pretraining added.",
        "",
        markdown_table(header, rows),
        "",
        "![curves](curves.png) ![feature map](feature_map.png)",
        "",
    ]
    atomic_write_text(run.report, "\n".join(lines) + "\n")
