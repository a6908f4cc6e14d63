"""Tasks: what a recipe's model predicts, and so how it is built, compiled, evaluated and reported.

The trainer (`keras_nn.training.trainer.train`) is the same for every task; a `Task` supplies the parts that
differ. `classification` is the first; sequence tagging, forecasting and seq2seq register their own with
`register_task`. A task's own recipe keys live in the recipe's open `task_options` section, which the task
checks itself (`Task.check_options`).
"""

import keras

from keras_nn.data import load_dataset
from keras_nn.errors import ConfigError
from keras_nn.models import create_model
from keras_nn.schedules import build_schedule


def build_optimizer(config, steps_per_epoch):
    """The recipe's optimizer, with its learning-rate schedule and gradient clipping."""
    section = config["optimizer"]
    learning_rate = build_schedule(
        config["schedule"], section["learning_rate"], steps_per_epoch, config["training"]["epochs"],
        model_config=config["model"],
    )
    common = {"learning_rate": learning_rate, "clipnorm": section["clipnorm"]}
    name = section["name"]
    adam = {"beta_2": section.get("beta_2", 0.999), "epsilon": section.get("epsilon", 1e-7)}
    if name == "adam":
        return keras.optimizers.Adam(**common, **adam, weight_decay=section["weight_decay"])
    if name == "adamw":
        return keras.optimizers.AdamW(**common, **adam, weight_decay=section["weight_decay"] or 0.004)
    if name == "sgd":
        return keras.optimizers.SGD(**common, momentum=section["momentum"], weight_decay=section["weight_decay"])
    return keras.optimizers.RMSprop(**common, weight_decay=section["weight_decay"])


class Task:
    """The parts of a run that depend on what the model predicts. Subclasses override what differs."""

    name = "task"
    #: `task_options` keys this task accepts, with their defaults.
    options = {}

    def check_options(self, options):
        """Validates the recipe's `task_options` section; returns it with defaults filled in."""
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            allowed = ", ".join(self.options) or "none"
            raise ConfigError(f"unknown recipe key(s) task_options.{', '.join(unknown)} for task {self.name!r}; allowed: {allowed}")
        return {**self.options, **options}

    def load_data(self, config):
        """The `DatasetBundle` the recipe's data section describes."""
        data = config["data"]
        return load_dataset(
            data["source"],
            form=data["form"],
            batch_size=data["batch_size"],
            image_size=data["image_size"],
            data_dir=data["data_dir"],
            validation_fraction=data["validation_fraction"],
            test_fraction=data["test_fraction"],
            seed=config["training"]["seed"],
            cache=data["cache"],
            shuffle_buffer=data["shuffle_buffer"],
            label_column=data["label_column"],
            timesteps=data["timesteps"],
        )

    def build_model(self, config, bundle):
        raise NotImplementedError

    def compile(self, model, config, steps_per_epoch):
        raise NotImplementedError

    def fit_data(self, dataset, config, bundle):
        """The dataset as `fit`/`evaluate` take it (targets shaped for the loss)."""
        return dataset

    def fit(self, model, bundle, config, callbacks, verbose):
        """Trains `model`; returns the Keras `History`. A task with phases (freeze, then fine-tune) overrides
        this and keeps `callbacks` (they hold the backup `--resume` restores) in every phase."""
        return model.fit(
            self.fit_data(bundle.train, config, bundle),
            validation_data=self.fit_data(bundle.validation, config, bundle),
            epochs=config["training"]["epochs"],
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,  # the tf.data pipeline shuffles
        )

    def evaluate(self, model, bundle, config):
        """Validation and test metrics as `{split_metric: value}`."""
        metrics = {}
        for split, dataset in (("val", bundle.validation), ("test", bundle.test)):
            if dataset is None:
                continue
            values = model.evaluate(self.fit_data(dataset, config, bundle), verbose=0, return_dict=True)
            metrics.update({f"{split}_{name}": round(float(value), 6) for name, value in values.items()})
        return metrics

    def report(self, model, bundle, config, run_dir, metrics):
        """Writes the task's report files (plots, tables) into `run_dir`; returns extra metrics."""
        return {}

    def export(self, run_dir, model, bundle, config):
        """Writes the recipe's export targets into `run_dir/export` (parity and latency included)."""
        from keras_nn.export import export_run

        return export_run(run_dir, model=model, bundle=bundle, config=config)


class ClassificationTask(Task):
    """One class per example: sparse cross-entropy (or label-smoothed one-hot), accuracy."""

    name = "classification"

    def build_model(self, config, bundle):
        arguments = {key: value for key, value in config["model"].items() if key != "name"}
        arguments.setdefault("num_classes", bundle.num_classes)
        if bundle.form == "text":
            raise ConfigError(
                f"data {bundle.source!r} is raw text; model {config['model']['name']!r} needs numbers "
                "(set a text model with a vectorizer, or use numeric data)"
            )
        arguments.setdefault("input_shape", tuple(bundle.input_shape))
        return create_model(config["model"]["name"], **arguments)

    def compile(self, model, config, steps_per_epoch):
        training = config["training"]
        from_logits = getattr(model, "classifier_activation", "softmax") is None
        if training["label_smoothing"]:
            loss = keras.losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=training["label_smoothing"])
            metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
        else:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        model.compile(
            optimizer=build_optimizer(config, steps_per_epoch),
            loss=loss,
            metrics=metrics,
            jit_compile=True if training["xla"] else "auto",
            steps_per_execution=training["steps_per_execution"],
        )

    def fit_data(self, dataset, config, bundle):
        if not config["training"]["label_smoothing"] or dataset is None:
            return dataset
        import tensorflow as tf

        return dataset.map(lambda x, y: (x, tf.one_hot(y, bundle.num_classes)), num_parallel_calls=tf.data.AUTOTUNE)


TASKS = {"classification": ClassificationTask()}


def register_task(task):
    """Adds a `Task` instance under `task.name` (recipes select it with `task: NAME`)."""
    if task.name in TASKS:
        raise ValueError(f"task {task.name!r} is registered twice")
    TASKS[task.name] = task
    return task


def get_task(name):
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"recipe key 'task' = {name!r} is not allowed; choose one of: {', '.join(TASKS)}") from None
