"""What the tasks of energy-based models share: data checked for Bernoulli visible units (`EnergyTask`), and a
model pretrained greedily as a stack of RBMs before it is fine-tuned (`PretrainedStackTask`)."""

import json
from pathlib import Path

import keras

from keras_nn.data import load_dataset
from keras_nn.data.binary import binarize_bundle, check_threshold, check_visible_data
from keras_nn.errors import ConfigError, MissingPathError, ModelFileError
from keras_nn.files import atomic_write_text, save_model
from keras_nn.training.pretraining import (
    PRETRAIN_OPTIONS,
    VISIBLE_DATA_OPTIONS,
    machine_options,
    pretrain_greedily,
)
from keras_nn.training.tasks.base import Task, dataset_arguments

#: The folder of a run (`RunDirectory.pretrained`) that holds its pretrained RBMs, `rbm_1.keras`, ... bottom first.
PRETRAINED_FOLDER = "pretrained"


def visible_type(config):
    """The recipe model's visible unit type (`bernoulli` unless the model section says otherwise)."""
    return config["model"].get("visible_type", "bernoulli")


class EnergyTask(Task):
    """Loads the data and checks it suits the model's visible units before anything trains.

    Non-binary data for Bernoulli units is refused with the fixes (`task_options.binarize`,
    `task_options.probabilities`, `model.visible_type: gaussian`); `binarize` thresholds every split.
    """

    options = dict(VISIBLE_DATA_OPTIONS)

    def load_data(self, config):
        options = config["task_options"]
        check_threshold(options["binarize"])
        bundle = load_dataset(**dataset_arguments(config))
        images, _ = bundle.as_numpy("train")
        check_visible_data(images, visible_type(config), options["binarize"], options["probabilities"], bundle.source)
        if options["binarize"] is not None:
            bundle = binarize_bundle(bundle, options["binarize"])
        return bundle


class PretrainedStackTask(EnergyTask):
    """A model with `pretraining_machines()` and `load_pretrained(machines)` (`dbn`, `deep_autoencoder`):
    `fit` pretrains its RBMs greedily on every training input (or loads them from an earlier run,
    `task_options.pretrain.from_run`), unrolls them into the model, then fine-tunes it with the recipe's
    optimizer and epochs. `pretrain.enabled: false` fine-tunes from a random start with the same budget.
    """

    options = {**EnergyTask.options, "pretrain": PRETRAIN_OPTIONS}
    #: What a recipe's model.name may be, for the message when it is something else.
    model_names = "dbn or deep_autoencoder"

    def build_network(self, config, bundle):
        """The model before any pretraining (the task's own construction)."""
        raise NotImplementedError

    def build_model(self, config, bundle):
        model = self.build_network(config, bundle)
        if not hasattr(model, "pretraining_machines"):
            raise ConfigError(
                f"task {self.name!r} pretrains a stack of RBMs; model {config['model']['name']!r} has none: use "
                f"{self.model_names}"
            )
        self.machines, self.pretraining = None, []
        from_run = config["task_options"]["pretrain"]["from_run"]
        if from_run:
            # Loaded and checked here, before the run writes a file: RBMs of other sizes leave nothing behind.
            self.machines = load_machines(from_run)
            model.load_pretrained(self.machines)
        return model

    def pretraining_images(self, bundle):
        """The inputs the RBMs learn from (no labels): every training input."""
        images, _ = bundle.as_numpy("train")
        return images

    def fit(self, model, bundle, config, callbacks, verbose):
        pretrain = config["task_options"]["pretrain"]
        if not pretrain["from_run"] and pretrain["enabled"]:
            self.machines = model.pretraining_machines(seed=config["training"]["seed"], **machine_options(pretrain))
            self.pretraining = pretrain_greedily(
                self.machines,
                self.pretraining_images(bundle),
                epochs=pretrain["epochs"],
                batch_size=pretrain["batch_size"],
                learning_rate=pretrain["learning_rate"],
                gaussian_learning_rate=pretrain["gaussian_learning_rate"],
                momentum=pretrain["momentum"],
                seed=config["training"]["seed"],
                verbose=verbose,
            )
            model.load_pretrained(self.machines)
        return super().fit(model, bundle, config, callbacks, verbose)

    def report_pretraining(self, run, config):
        """Saves the pretrained RBMs and the pretraining record into the run; returns metrics about them."""
        from_run = config["task_options"]["pretrain"]["from_run"]
        if from_run:
            return {"pretrained": True, "pretrained_from": str(from_run)}
        if not self.machines:
            return {"pretrained": False}
        folder = run.pretrained
        folder.mkdir(parents=True, exist_ok=True)
        for index, machine in enumerate(self.machines):
            save_model(machine, folder / f"rbm_{index + 1}.keras")
        atomic_write_text(folder / "pretraining.json", json.dumps(self.pretraining, indent=2))
        summary = [{key: value for key, value in layer.items() if key != "history"} for layer in self.pretraining]
        return {"pretrained": True, "pretraining": summary}


def load_machines(run_dir):
    """The pretrained RBMs an earlier run saved, bottom first."""
    folder = Path(run_dir) / PRETRAINED_FOLDER
    paths = sorted(folder.glob("rbm_*.keras"), key=lambda path: int(path.stem.split("_")[1]))
    if not paths:
        raise MissingPathError(
            f"task_options.pretrain.from_run={str(run_dir)!r} holds no pretrained RBMs ({folder}/rbm_1.keras ...); "
            "name the directory of a run that pretrained (pretrain.enabled: true)"
        )
    machines = []
    for path in paths:
        try:
            machines.append(keras.saving.load_model(path, compile=False))
        except (ValueError, OSError) as error:
            raise ModelFileError(f"cannot read pretrained RBM {str(path)!r} ({error}); pretrain again") from None
    return machines
