"""Greedy layer-wise pretraining of a stack of RBMs (Hinton, Osindero & Teh 2006), and the recipe options the
tasks that use it share (`dbn`, `autoencoder`)."""

import logging
import math
import time

import keras
import numpy as np

from keras_nn.config.schema import Field
from keras_nn.data.binary import batched_arrays
from keras_nn.errors import ShapeError

logger = logging.getLogger(__name__)

#: `task_options.pretrain` of the tasks whose models are pretrained as a stack of RBMs.
PRETRAIN_OPTIONS = {
    "enabled": Field((bool,), True, help="pretrain the stack of RBMs before fine-tuning (false: random start)"),
    "epochs": Field((int,), 10, minimum=1, help="epochs of contrastive divergence per RBM"),
    "batch_size": Field((int,), 20, minimum=1),
    "learning_rate": Field((float,), 0.1, minimum=0.0, help="SGD step of the RBMs with Bernoulli units"),
    "gaussian_learning_rate": Field(
        (float,), 0.001, minimum=0.0,
        help="SGD step of an RBM with a Gaussian side (the linear code layer): Hinton & Salakhutdinov use 0.001",
    ),
    "momentum": Field((float,), 0.5, minimum=0.0, maximum=1.0, exclusive_maximum=True),
    "weight_decay": Field((float,), 0.0002, minimum=0.0, help="L2 cost on the RBM weights"),
    "cd_steps": Field((int,), 1, minimum=1),
    "persistent": Field((bool,), False, help="persistent contrastive divergence (Tieleman 2008) instead of CD-k"),
    "from_run": Field(
        (str,), None,
        help="a run directory of the same task whose pretrained RBMs to start from instead of pretraining",
    ),
}

#: How the tasks whose models have Bernoulli visible units read non-binary data (`keras_nn.data.binary`).
VISIBLE_DATA_OPTIONS = {
    "binarize": Field((float,), None, help="threshold that turns inputs into 0/1 (null: use the data as it is)"),
    "probabilities": Field(
        (bool,), False, help="accept values strictly between 0 and 1 as probabilities of Bernoulli visible units"
    ),
}


def machine_options(pretrain):
    """The `RestrictedBoltzmannMachine` arguments a `pretrain` section sets."""
    return {
        "cd_steps": pretrain["cd_steps"],
        "persistent": pretrain["persistent"],
        "persistent_chains": pretrain["batch_size"],
        "weight_decay": pretrain["weight_decay"],
    }


def check_chain(machines, input_units):
    """Raises `ShapeError` unless each RBM's visible units are the hidden units of the one below (the first
    one's, the inputs' size)."""
    below = input_units
    for index, machine in enumerate(machines):
        visible, hidden = (int(size) for size in machine.rbm.kernel.shape)
        if visible != below:
            source = "the inputs have" if index == 0 else f"RBM {index} has"
            raise ShapeError(
                f"RBM {index + 1} has {visible} visible units but {source} {below}; the layer sizes of a stack must "
                "chain (each RBM's visible units = the hidden units below it): build the RBMs with the model's "
                "pretraining_machines()"
            )
        below = hidden


def pretrain_greedily(
    machines,
    images,
    epochs=10,
    batch_size=20,
    learning_rate=0.1,
    gaussian_learning_rate=0.001,
    momentum=0.5,
    seed=0,
    verbose=0,
):
    """Trains a stack of RBMs one at a time, each on the hidden probabilities of the ones below.

    Args:
        machines: `keras_nn.models.RestrictedBoltzmannMachine`s, bottom first, each one's visible units the
            hidden units of the one below (a model's `pretraining_machines()`).
        images: the training inputs as a numpy array `(N, *input_shape)` (no labels are used).
        epochs: epochs of contrastive divergence per RBM.
        batch_size: examples per update.
        learning_rate: SGD step of RBMs whose units are all Bernoulli.
        gaussian_learning_rate: SGD step of an RBM with a Gaussian side, which needs a far smaller one.
        momentum: SGD momentum.
        seed: seed of the shuffling.
        verbose: Keras verbosity of each RBM's `fit`.

    Returns:
        One dict per RBM: `layer`, `visible`, `hidden`, `epochs`, `reconstruction_error` (last epoch) and its
        `history`, `seconds`.
    """
    features = np.asarray(images, dtype="float32")
    check_chain(machines, int(np.prod(features.shape[1:])))
    summary = []
    for index, machine in enumerate(machines):
        rbm = machine.rbm
        gaussian = "gaussian" in (rbm.visible_type, rbm.hidden_type)
        rate = gaussian_learning_rate if gaussian else learning_rate
        steps = max(math.ceil(len(features) / batch_size), 1)
        machine.compile(optimizer=keras.optimizers.SGD(rate, momentum=momentum), steps_per_execution=steps)
        message = (
            f"pretraining RBM {index + 1} of {len(machines)} ({rbm.kernel.shape[0]} -> {rbm.units} units, "
            f"{rbm.visible_type}/{rbm.hidden_type}) for {epochs} epochs"
        )
        logger.info(message)
        if verbose:
            print(message, flush=True)  # the epochs Keras prints next are this RBM's
        started = time.perf_counter()
        history = machine.fit(
            batched_arrays(features, batch_size, shuffle=True, seed=seed + index),
            epochs=epochs,
            verbose=verbose,
            shuffle=False,  # the pipeline shuffles
        )
        summary.append(
            {
                "layer": index + 1,
                "visible": int(rbm.kernel.shape[0]),
                "hidden": int(rbm.units),
                "epochs": epochs,
                "learning_rate": rate,
                "reconstruction_error": round(float(history.history["reconstruction_error"][-1]), 6),
                "history": {key: [round(float(v), 6) for v in values] for key, values in history.history.items()},
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
        if index < len(machines) - 1:
            features = machine.predict(features, batch_size=1024, verbose=0)
    return summary
