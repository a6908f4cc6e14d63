"""`tagging`: one label per step, on the generated date-field task."""

import json

import keras
import numpy as np
from sklearn.metrics import classification_report

from keras_nn.config.schema import Field
from keras_nn.data import dates
from keras_nn.models import create_model
from keras_nn.training.tasks.base import Task, check_source, model_arguments, uses_logits
from keras_nn.training.tasks.generated_dates import DATE_SPLIT_OPTIONS, load_generated_dates


class TaggingTask(Task):
    """One label per step. Data: `generated:date_fields` (synthetic: tag each character of a written date as
    O, YEAR, MONTH, DAY or WEEKDAY). Tag id 0 is padding: it gets zero weight in the loss and metrics.

    Reports token accuracy, sequence accuracy (every real step right) and per-tag F1 (`tagging_report.json`).
    """

    name = "tagging"
    options = {
        **DATE_SPLIT_OPTIONS,
        "train_size": Field((int,), 10000, minimum=1),
        "validation_size": Field((int,), 500, minimum=0),
        "test_size": Field((int,), 1000, minimum=0),
    }

    def load_data(self, config):
        check_source(config, ("generated:date_fields",), self.name)
        return load_generated_dates(dates.load_date_fields, config)

    def build_model(self, config, bundle):
        arguments = model_arguments(config)
        arguments.setdefault("num_classes", bundle.num_classes)
        arguments.setdefault("vocab_size", len(dates.SOURCE_VOCAB))
        arguments.setdefault("sequence_length", bundle.input_shape[0])
        return create_model(config["model"]["name"], **arguments)

    def compile(self, model, config, steps_per_epoch):
        self.reject_label_smoothing(config)
        self.compile_model(
            model, config, steps_per_epoch,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=uses_logits(model)),
            weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )

    def fit_data(self, dataset, config, bundle):
        if dataset is None:
            return None
        import tensorflow as tf

        return dataset.map(lambda x, y: (x, y, tf.cast(tf.not_equal(y, 0), tf.float32)))

    def evaluate(self, model, bundle, config):
        metrics = super().evaluate(model, bundle, config)
        if bundle.test is not None:
            x, y = bundle.as_numpy("test")
            predicted = np.asarray(model.predict(x, verbose=0, batch_size=256)).argmax(-1)
            real = y != 0
            metrics["test_sequence_accuracy"] = round(float(np.mean(np.all((predicted == y) | ~real, axis=1))), 6)
        return metrics

    def report(self, model, bundle, config, run, metrics):
        if bundle.test is None:
            return {}
        x, y = bundle.as_numpy("test")
        predicted = np.asarray(model.predict(x, verbose=0, batch_size=256)).argmax(-1)
        real = y != 0
        labels = list(range(1, bundle.num_classes))
        report = classification_report(
            y[real], predicted[real], labels=labels, target_names=bundle.class_names[1:], output_dict=True, zero_division=0
        )
        run.tagging_report.write_text(json.dumps(report, indent=2))
        return {"test_macro_f1": round(float(report["macro avg"]["f1-score"]), 6)}
