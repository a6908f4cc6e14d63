"""`classification`: one class per example, from images, sequences or tables."""

import keras

from keras_nn.errors import ConfigError
from keras_nn.models import create_model
from keras_nn.training.tasks.base import Task, model_arguments, uses_logits


class ClassificationTask(Task):
    """One class per example: sparse cross-entropy (or label-smoothed one-hot), accuracy."""

    name = "classification"

    def build_model(self, config, bundle):
        arguments = model_arguments(config)
        arguments.setdefault("num_classes", bundle.num_classes)
        if bundle.form == "text":
            raise ConfigError(
                f"data {bundle.source!r} is raw text; model {config['model']['name']!r} needs numbers "
                "(set a text model with a vectorizer, or use numeric data)"
            )
        arguments.setdefault("input_shape", tuple(bundle.input_shape))
        return create_model(config["model"]["name"], **arguments)

    def compile(self, model, config, steps_per_epoch):
        smoothing = config["training"]["label_smoothing"]
        if smoothing:
            loss = keras.losses.CategoricalCrossentropy(from_logits=uses_logits(model), label_smoothing=smoothing)
            metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
        else:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=uses_logits(model))
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        self.compile_model(model, config, steps_per_epoch, loss=loss, metrics=metrics)

    def fit_data(self, dataset, config, bundle):
        if not config["training"]["label_smoothing"] or dataset is None:
            return dataset
        import tensorflow as tf

        return dataset.map(lambda x, y: (x, tf.one_hot(y, bundle.num_classes)), num_parallel_calls=tf.data.AUTOTUNE)
