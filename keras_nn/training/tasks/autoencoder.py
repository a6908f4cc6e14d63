"""`autoencoder`: a deep autoencoder pretrained as a stack of RBMs, unrolled and fine-tuned on reconstruction
(Hinton & Salakhutdinov 2006), measured against PCA with as many components as the code has units.

Fine-tuning minimizes cross-entropy for Bernoulli (logistic) outputs, as the paper does, or squared error for
Gaussian ones; the reported figure is the paper's: squared error per example on the test split
(`test_squared_error`), beside PCA's (`test_pca_squared_error`, fitted on the training split), and their ratio (`test_gain_over_pca`, PCA's error
over ours: above 1 when the autoencoder is better). The report has
`reconstructions.png` (test inputs, the autoencoder's and PCA's reconstructions) and, for 2-unit codes,
`code_map.png`: the test codes coloured by class beside PCA's 2-D projection.
"""

import keras
import numpy as np

from keras_nn.config.export_plan import ModelExport
from keras_nn.config.schema import Field
from keras_nn.errors import ConfigError
from keras_nn.metrics import SquaredError, squared_error_per_example
from keras_nn.models import create_model
from keras_nn.training.tasks.base import model_arguments
from keras_nn.training.tasks.energy import PretrainedStackTask, visible_type
from keras_nn.viz import plot_image_grid
from keras_nn.viz.embedding import plot_embedding_maps


def pca_baseline(train, test, components):
    """PCA fitted on `train` (flattened): the test reconstructions and the test projections."""
    from sklearn.decomposition import PCA

    train = train.reshape(len(train), -1)
    test = test.reshape(len(test), -1)
    pca = PCA(n_components=components, random_state=0).fit(train)
    projections = pca.transform(test)
    return pca.inverse_transform(projections), projections


class AutoencoderTask(PretrainedStackTask):
    """Reconstruction of unlabelled inputs (labels only colour the code map), against PCA (module doc)."""

    name = "autoencoder"
    model_names = "deep_autoencoder"
    options = {
        **PretrainedStackTask.options,
        "map_examples": Field((int,), 2000, minimum=1, help="test examples drawn in code_map.png"),
        "reconstruction_examples": Field((int,), 10, minimum=0, help="test examples drawn in reconstructions.png"),
    }

    def build_network(self, config, bundle):
        arguments = model_arguments(config)
        arguments.setdefault("input_shape", tuple(bundle.input_shape))
        model = create_model(config["model"]["name"], **arguments)
        # PCA's baseline needs as many components as the code has units: checked before anything trains.
        limit = min(int(np.prod(bundle.input_shape)), bundle.num_examples["train"])
        if model.code_units > limit:
            raise ConfigError(
                f"model.code_units={model.code_units} is more than PCA can have here ({limit}: the smaller of the "
                "training examples and the input size); use a smaller code"
            )
        return model

    def compile(self, model, config, steps_per_epoch):
        self.reject_label_smoothing(config)
        loss = "binary_crossentropy" if visible_type(config) == "bernoulli" else "mean_squared_error"
        self.compile_model(model, config, steps_per_epoch, loss=loss, metrics=[SquaredError()])

    def fit_data(self, dataset, config, bundle):
        if dataset is None:
            return None
        return dataset.map(lambda x, y: (x, x))

    def evaluate(self, model, bundle, config):
        """Keras' validation and test metrics, then PCA's test squared error with as many components as the
        code has units, and the ratio of the two."""
        metrics = super().evaluate(model, bundle, config)
        test, _ = bundle.as_numpy("test")
        if not len(test):
            return metrics
        train, _ = bundle.as_numpy("train")
        self.pca_reconstructions, self.pca_codes = pca_baseline(train, test, model.code_units)
        pca_error = float(np.mean(squared_error_per_example(test.reshape(len(test), -1), self.pca_reconstructions)))
        metrics["test_pca_squared_error"] = round(pca_error, 4)
        # Above 1 when the autoencoder reconstructs better than PCA with as many components.
        metrics["test_gain_over_pca"] = round(pca_error / max(metrics["test_squared_error"], 1e-12), 4)
        metrics["code_units"] = model.code_units
        return metrics

    def report(self, model, bundle, config, run, metrics):
        test, labels = bundle.as_numpy("test")
        extra = self.report_pretraining(run, config)
        if not len(test):
            return extra
        pca_reconstructions, pca_codes = self.pca_reconstructions, self.pca_codes
        options = config["task_options"]
        shape = tuple(bundle.input_shape)
        if len(shape) >= 2 and options["reconstruction_examples"]:
            count = min(options["reconstruction_examples"], len(test))
            ours = keras.ops.convert_to_numpy(model.predict(test[:count], verbose=0))
            rows = [test[:count], ours, pca_reconstructions[:count].reshape(count, *shape)]
            titles = [f"input {labels[i]}" for i in range(count)] + [
                "autoencoder" for _ in range(count)] + [f"PCA ({model.code_units})" for _ in range(count)]
            plot_image_grid(
                np.clip(np.concatenate(rows), 0.0, 1.0), run.reconstructions_png, titles=titles, columns=count,
                title=f"Test inputs (top), autoencoder with a {model.code_units}-unit code (middle), PCA (bottom)",
            )
        if model.code_units == 2:
            count = min(options["map_examples"], len(test))
            codes = keras.ops.convert_to_numpy(model.encoder_model().predict(test[:count], verbose=0))
            plot_embedding_maps(
                {"deep autoencoder codes": codes, "PCA, 2 components": pca_codes[:count]},
                labels[:count], run.code_map_png, class_names=bundle.class_names,
                title=f"2-D maps of {count} test examples of {bundle.source}",
            )
        return extra

    def export_plan(self, model, bundle, config):
        section = config["export"]
        representative, _ = bundle.as_numpy("train", limit=section["representative_samples"])
        inputs, _ = bundle.as_numpy("test", limit=section["verify_samples"])
        # The encoder is the deployable part: inputs in, codes out.
        return ModelExport(model.encoder_model(), representative_data=representative, verify_inputs=inputs)
