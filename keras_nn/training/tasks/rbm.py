"""`rbm`: a restricted Boltzmann machine trained by contrastive divergence, with the report people look at.

The model (`keras_nn.models.RestrictedBoltzmannMachine`) trains in `fit`; its history holds the reconstruction
error (`loss`) and the pseudo-log-likelihood per epoch, train and validation, drawn in `curves.png`. The report
adds, on the test split: the exact pseudo-log-likelihood and the reconstruction error of the trained RBM, of the
same RBM untrained, and of scikit-learn's `BernoulliRBM` trained on the same data with the same units, learning
rate, batch size and epochs (a reference implementation of PCD-1 with plain SGD); `filters.png` (each hidden
unit's weights as an image); `gibbs_samples.png` (chains started from noise, shown after 1 to 10,000 steps);
and `report.md`.
"""

import logging
import time

import keras
import numpy as np

from keras_nn.config.export_plan import ModelExport
from keras_nn.config.schema import Field
from keras_nn.errors import ConfigError
from keras_nn.files import atomic_write_text
from keras_nn.metrics import squared_error_per_example
from keras_nn.models import RestrictedBoltzmannMachine, create_model
from keras_nn.training.optimizers import build_optimizer
from keras_nn.training.tasks.base import compile_options, model_arguments
from keras_nn.training.tasks.energy import EnergyTask
from keras_nn.viz import markdown_table
from keras_nn.viz.filters import plot_filters
from keras_nn.viz.gibbs import plot_gibbs_chains

logger = logging.getLogger(__name__)


def exact_scores(rbm, images):
    """Mean exact pseudo-log-likelihood and mean reconstruction error (squared error per example) of `rbm`."""
    visible = images.reshape(len(images), -1).astype("float32")
    likelihoods, errors = [], []
    for start in range(0, len(visible), 256):
        batch = visible[start:start + 256]
        likelihoods.append(keras.ops.convert_to_numpy(rbm.pseudo_log_likelihood(batch, exact=True)))
        errors.append(keras.ops.convert_to_numpy(squared_error_per_example(batch, rbm.reconstruct(batch))))
    return float(np.mean(np.concatenate(likelihoods))), float(np.mean(np.concatenate(errors)))


def gibbs_frames(rbm, chains, steps, seed):
    """Visible probabilities of `chains` Gibbs chains started from uniform noise, after each count in `steps`."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    visible = (rng.random((chains, rbm.visible_units)) < 0.5).astype("float32")
    frames, done = [], 0
    for count in steps:
        run = tf.function(lambda v, n=count - done: rbm.gibbs_chain(v, n))
        visible = run(visible)
        done = count
        frames.append(keras.ops.convert_to_numpy(rbm.visible_probabilities(rbm.sample_hidden(visible))))
    return np.stack(frames)


class RBMTask(EnergyTask):
    """Contrastive divergence on unlabelled inputs (labels are ignored), and the RBM's report (module doc)."""

    name = "rbm"
    options = {
        **EnergyTask.options,
        "filters": Field((int,), 64, minimum=0, help="hidden units drawn in filters.png"),
        "gibbs_chains": Field((int,), 10, minimum=0, help="chains drawn in gibbs_samples.png (0: none)"),
        "gibbs_steps": Field(
            (list,), [1, 10, 100, 1000, 10000], item_types=(int,), help="Gibbs steps after which each chain is drawn"
        ),
        "reference": Field((bool,), True, help="train scikit-learn's BernoulliRBM alike for the report"),
    }

    def build_model(self, config, bundle):
        arguments = model_arguments(config)
        arguments.setdefault("input_shape", tuple(bundle.input_shape))
        arguments.setdefault("seed", config["training"]["seed"])
        model = create_model(config["model"]["name"], **arguments)
        if not isinstance(model, RestrictedBoltzmannMachine):
            raise ConfigError(f"task 'rbm' trains the rbm model, not {config['model']['name']!r}; set model.name: rbm")
        return model

    def compile(self, model, config, steps_per_epoch):
        self.reject_label_smoothing(config)
        training = config["training"]
        model.compile(
            optimizer=build_optimizer(config, steps_per_epoch),
            **compile_options(training),
        )

    def evaluate(self, model, bundle, config):
        """Keras' validation and test metrics, then the exact test scores of this RBM, of the same RBM untrained
        and of scikit-learn's BernoulliRBM trained alike (Bernoulli units only)."""
        metrics = super().evaluate(model, bundle, config)
        images, _ = bundle.as_numpy("test")
        rbm = model.rbm
        if rbm.visible_type != "bernoulli" or not len(images):
            return metrics
        likelihood, error = exact_scores(rbm, images)
        untrained = self.build_model(config, bundle)  # the same seed: the trained RBM's starting point
        untrained_likelihood, untrained_error = exact_scores(untrained.rbm, images)
        metrics.update(
            test_pseudo_log_likelihood_exact=round(likelihood, 4),
            test_reconstruction_error=round(error, 4),
            untrained_test_pseudo_log_likelihood_exact=round(untrained_likelihood, 4),
            untrained_test_reconstruction_error=round(untrained_error, 4),
        )
        if config["task_options"]["reference"] and rbm.hidden_type == "bernoulli":
            metrics.update(self.scikit_learn_reference(config, bundle, images))
        return metrics

    def report(self, model, bundle, config, run, metrics):
        rbm = model.rbm
        shape = tuple(bundle.input_shape)
        image_shape = shape[:2] if len(shape) >= 2 else None
        options = config["task_options"]
        if image_shape and options["filters"]:
            kernel = keras.ops.convert_to_numpy(rbm.kernel)[:, : options["filters"]]
            plot_filters(kernel, image_shape, run.filters_png, title=f"RBM filters: weights of {kernel.shape[1]} hidden units")
        if image_shape and options["gibbs_chains"] and rbm.visible_type == "bernoulli":
            steps = sorted(options["gibbs_steps"])
            frames = gibbs_frames(rbm, options["gibbs_chains"], steps, config["training"]["seed"])
            plot_gibbs_chains(
                frames, steps, image_shape, run.gibbs_png,
                title=f"Samples from {options['gibbs_chains']} Gibbs chains started from noise",
            )
        write_rbm_report(run, config, bundle, metrics)
        return {}

    def scikit_learn_reference(self, config, bundle, images):
        """scikit-learn's `BernoulliRBM` trained on the same training inputs with the same units, learning rate,
        batch size and epochs; its exact test scores computed by the same function as ours."""
        from sklearn.neural_network import BernoulliRBM

        train, _ = bundle.as_numpy("train")
        train = train.reshape(len(train), -1)
        reference = BernoulliRBM(
            n_components=config["model"].get("hidden_units", 500),
            learning_rate=config["optimizer"]["learning_rate"],
            batch_size=config["data"]["batch_size"],
            n_iter=config["training"]["epochs"],
            random_state=config["training"]["seed"],
        )
        started = time.perf_counter()
        reference.fit(train)
        seconds = time.perf_counter() - started
        twin = create_model("rbm", input_shape=(train.shape[1],), hidden_units=reference.n_components)
        twin.rbm.set_weights([reference.components_.T, reference.intercept_visible_, reference.intercept_hidden_])
        likelihood, error = exact_scores(twin.rbm, images)
        return {
            "sklearn_test_pseudo_log_likelihood_exact": round(likelihood, 4),
            "sklearn_test_reconstruction_error": round(error, 4),
            "sklearn_train_seconds": round(seconds, 2),
        }

    def export_plan(self, model, bundle, config):
        section = config["export"]
        representative, _ = bundle.as_numpy("train", limit=section["representative_samples"])
        inputs, _ = bundle.as_numpy("test", limit=section["verify_samples"])
        # The exported graph is the feature extractor (hidden probabilities): no class labels to score.
        return ModelExport(model, representative_data=representative, verify_inputs=inputs)


def write_rbm_report(run, config, bundle, metrics):
    """`report.md`: the test scores of the trained RBM beside the untrained one and scikit-learn's."""
    rows = []
    sklearn = "scikit-learn BernoulliRBM (PCD-1, plain SGD; same units, learning rate, batch size, epochs)"
    for label, prefix in (("this RBM, trained", "test_"), ("the same RBM, untrained", "untrained_test_"),
                          (sklearn, "sklearn_test_")):
        likelihood = metrics.get(f"{prefix}pseudo_log_likelihood_exact")
        error = metrics.get(f"{prefix}reconstruction_error")
        if likelihood is None and error is None:
            continue
        rows.append((label, "-" if likelihood is None else f"{likelihood:.3f}", "-" if error is None else f"{error:.3f}"))
    model = config["model"]
    training = "persistent CD (PCD)" if model.get("persistent") else f"CD-{model.get('cd_steps', 1)}"
    lines = [
        f"# {config['name'] or 'rbm'}: restricted Boltzmann machine",
        "",
        f"Data: {bundle.source} ({bundle.num_examples.get('train', 0)} training inputs, labels unused); "
        f"{model.get('hidden_units', 500)} hidden units; {training}; optimizer {config['optimizer']['name']} "
        f"(learning rate {config['optimizer']['learning_rate']}), batch {config['data']['batch_size']}, "
        f"{metrics.get('epochs_trained', config['training']['epochs'])} epochs.",
        "",
        "Test split: exact pseudo-log-likelihood (sum over units of log p(v_i | v_-i), mean per example; higher is "
        "better) and reconstruction error (squared error of the mean-field reconstruction, per example).",
        "",
        markdown_table(["model", "pseudo-log-likelihood", "reconstruction error"], rows),
        "",
        "![curves](curves.png) ![filters](filters.png) ![Gibbs samples](gibbs_samples.png)",
        "",
    ]
    if "sklearn_train_seconds" in metrics:
        lines.append(f"scikit-learn's BernoulliRBM trained in {metrics['sklearn_train_seconds']} s.")
    atomic_write_text(run.report, "\n".join(lines) + "\n")
