"""`Task`: the parts of a run that depend on what the model predicts.

The trainer (`keras_nn.training.train`) is the same for every task; a task supplies what differs: how the data
is loaded, the model built and compiled, the fit run, the results evaluated and reported, what the run exports
(an export plan, `keras_nn.config.export_plan`; a task never imports the exporters) and, for tasks that read
text, the text front end. A task's own recipe keys live in the recipe's `task_options` section and are
declared as a schema (`options`) checked by the same machinery as the recipe (`keras_nn.config.schema`).

Tasks are registered as classes (`keras_nn.training.tasks.register_task`) and built fresh for every run, so
nothing a run leaves on a task reaches the next one.
"""

from keras_nn.config.export_plan import ModelExport
from keras_nn.config.schema import validate_section
from keras_nn.data import load_dataset
from keras_nn.errors import ConfigError, UnknownDatasetError
from keras_nn.training.distributed import steps_per_execution
from keras_nn.training.optimizers import build_optimizer


def model_arguments(config):
    """The recipe's `model` section as `create_model` keyword arguments (everything but the name)."""
    return {key: value for key, value in config["model"].items() if key != "name"}


def pipeline_arguments(config):
    """How every data source batches, shuffles and caches, from the recipe (`data` and `training.seed`)."""
    data = config["data"]
    return {
        "batch_size": data["batch_size"],
        "seed": config["training"]["seed"],
        "shuffle_buffer": data["shuffle_buffer"],
        "cache": data["cache"],
    }


def split_arguments(config):
    """The shares carved out for validation and test when a source has no such split."""
    data = config["data"]
    return {"validation_fraction": data["validation_fraction"], "test_fraction": data["test_fraction"]}


def dataset_arguments(config):
    """Every `keras_nn.data.load_dataset` argument the recipe sets."""
    data = config["data"]
    return {
        "source": data["source"],
        "form": data["form"],
        "image_size": data["image_size"],
        "data_dir": data["data_dir"],
        "label_column": data["label_column"],
        "timesteps": data["timesteps"],
        "skip_unreadable": data["skip_unreadable"],
        **pipeline_arguments(config),
        **split_arguments(config),
    }


def check_source(config, allowed, task):
    """Raises `UnknownDatasetError` unless `data.source` is one of `allowed` (or starts with an allowed scheme
    ending in `:`); returns the source."""
    source = config["data"]["source"]
    if source not in allowed and not any(source.startswith(prefix) for prefix in allowed if prefix.endswith(":")):
        raise UnknownDatasetError(f"data.source={source!r} does not fit task {task!r}; use one of: {', '.join(allowed)}")
    return source


def uses_logits(model):
    """True when the model's classifier has no activation (its outputs are logits, not probabilities)."""
    return getattr(model, "classifier_activation", "softmax") is None



def compile_options(training):
    """The `model.compile` arguments the recipe's `training` section sets: `jit_compile` and `steps_per_execution`.

    `training.xla` is passed as a plain bool. Keras's own default, `jit_compile="auto"`, turns XLA on for a model
    that supports it on a machine with a GPU, so `xla: false` would have compiled with XLA there anyway.
    """
    return {
        "jit_compile": bool(training["xla"]),
        "steps_per_execution": steps_per_execution(training["steps_per_execution"]),
    }


class Task:
    """The parts of a run that depend on what the model predicts. Subclasses override what differs.

    Class attributes:
        name: the recipe's `task` value.
        options: the schema of the task's `task_options` (key -> `keras_nn.config.schema.Field` or a nested
            schema dict).
    """

    name = "task"
    options = {}

    @classmethod
    def resolve_options(cls, raw):
        """Checks a recipe's `task_options` against `options`; returns them with every default filled in."""
        return cls.check_option_values(validate_section(raw, cls.options, "task_options"))

    @classmethod
    def check_option_values(cls, options):
        """Checks what no single key can (one key against another); returns the options."""
        return options

    # ------------------------------------------------------------------------------------------------ data

    def load_data(self, config):
        """The `DatasetBundle` the recipe's data section describes."""
        return load_dataset(**dataset_arguments(config))

    # ------------------------------------------------------------------------------------------- the model

    def build_model(self, config, bundle):
        raise NotImplementedError

    def compile(self, model, config, steps_per_epoch):
        raise NotImplementedError

    def compile_model(self, model, config, steps_per_epoch, loss, metrics=None, weighted_metrics=None):
        """`model.compile` with the recipe's optimizer, schedule, XLA and steps-per-execution settings."""
        training = config["training"]
        model.compile(
            optimizer=build_optimizer(config, steps_per_epoch),
            loss=loss,
            metrics=metrics,
            weighted_metrics=weighted_metrics,
            **compile_options(training),
        )

    def side_models(self):
        """The models besides the trained one that `build_model` builds and `compile` compiles with it (a
        comparison model, an inline pretraining), by attribute name; `fit` trains them under the run's strategy.
        After a multi-worker `fit` the chief swaps each for a copy of its own (`keras_nn.training.distributed`)
        before `compile` is called again for the trained model's copy."""
        return {}

    def reject_label_smoothing(self, config):
        """Raises `ConfigError` when the recipe asks for label smoothing, which this task's loss lacks."""
        if config["training"]["label_smoothing"]:
            raise ConfigError(f"training.label_smoothing is not supported by task {self.name!r}; set it to 0")

    # ------------------------------------------------------------------------------------------------- fit

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

    # ------------------------------------------------------------------------------------------- results

    def evaluate(self, model, bundle, config):
        """Validation and test metrics as `{split_metric: value}`."""
        metrics = {}
        for split, dataset in (("val", bundle.validation), ("test", bundle.test)):
            if dataset is None:
                continue
            values = model.evaluate(self.fit_data(dataset, config, bundle), verbose=0, return_dict=True)
            metrics.update({f"{split}_{name}": round(float(value), 6) for name, value in values.items()})
        return metrics

    def report(self, model, bundle, config, run, metrics):
        """Writes the task's report files (plots, tables, what its front end reads back) into the run directory
        `run` (a `keras_nn.runs.RunDirectory`); returns extra metrics."""
        return {}

    # ------------------------------------------------------------------------------------ export, front end

    def export_plan(self, model, bundle, config):
        """What the run exports: a plan of `keras_nn.config.export_plan` with the model and the data the export
        calibrates and checks parity with (the recipe's `export.representative_samples` training examples and
        `export.verify_samples` test examples)."""
        section = config["export"]
        representative, _ = bundle.as_numpy("train", limit=section["representative_samples"])
        inputs, labels = bundle.as_numpy("test", limit=section["verify_samples"])
        return ModelExport(model, representative_data=representative, verify_inputs=inputs, verify_labels=labels)

    def predict_texts(self, model, run, config, texts, beam_width=None):
        """The run's model on raw texts: one dict per text with `input`, `output` (or `class`) and `score`.

        Tasks whose models read numbers take `.npy` inputs instead; they keep this default.
        """
        raise ConfigError(
            f"run {str(run.root)!r} is a {self.name!r} run, whose model reads arrays, not text: use `keras-nn "
            f"predict {run.root} INPUTS.npy` (translate takes a seq2seq or translation run)"
        )

