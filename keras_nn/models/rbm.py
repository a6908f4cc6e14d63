"""The restricted Boltzmann machine as a trainable model: contrastive divergence in `train_step`."""

import math

import keras
from keras import ops

from keras_nn.errors import ConfigError
from keras_nn.layers.energy.rbm import RBM, UNIT_TYPES, sample_units, unit_means
from keras_nn.models.base import (
    FunctionalModel,
    check_choice,
    check_positive_int,
    recompile_from_config,
    replicas_in_sync,
)
from keras_nn.models.registry import register_model
from keras_nn.models.stateless_step import run_stateless


@keras.saving.register_keras_serializable(package="keras_nn")
class RestrictedBoltzmannMachine(FunctionalModel):
    """An RBM (`keras_nn.layers.RBM`) trained by contrastive divergence inside `fit`.

    `model(x)` gives the hidden probabilities (the features). `fit(x)` runs contrastive divergence in
    `train_step`: the positive statistics `<v h>` at the data, the negative ones after `cd_steps` Gibbs steps
    started at the data (CD-k, Hinton 2002) or at persistent "fantasy particles" that carry over from update to
    update (PCD, Tieleman 2008), and the update `<v h>_data - <v h>_model` (with the biases' analogues) handed
    to the compiled optimizer as a gradient, so SGD's learning rate and momentum are the RBM's. Weight decay
    (an L2 cost on the weights) and a sparsity target for the hidden units (Hinton's guide, section 11) are
    options. It trains under a `tf.distribute` strategy like any Keras model: the update is scaled so that the
    replicas' sum is the mean over the global batch.

    The logged `loss` is the reconstruction error (squared error of the mean-field reconstruction, summed
    over visible units, mean over examples): the quantity Hinton's guide says people watch, not the objective
    contrastive divergence follows. Bernoulli RBMs also log `pseudo_log_likelihood`, computed as scikit-learn's
    `BernoulliRBM.score_samples`.

    Negative statistics follow Hinton's guide for CD (visible probabilities of the reconstruction, hidden
    probabilities) and scikit-learn for PCD (sampled visible states, hidden probabilities; the fantasy particles
    are kept as hidden states, as scikit-learn keeps them).

    Args:
        input_shape: shape of one example; flattened to the visible units.
        hidden_units: number of hidden units.
        visible_type, hidden_type: `"bernoulli"` or `"gaussian"` (see `keras_nn.layers.RBM`).
        cd_steps: Gibbs steps per update (the k of CD-k).
        persistent: persistent contrastive divergence (Tieleman 2008) instead of CD-k.
        persistent_chains: number of fantasy particles in PCD.
        weight_decay: L2 cost on the weights (Hinton's guide suggests 1e-4 to 1e-5).
        sparsity_target: wanted mean activation of each hidden unit (`None`: no sparsity penalty).
        sparsity_cost: weight of the sparsity penalty.
        sparsity_decay: decay of the running estimate of each unit's mean activation.
        training_metrics: compute the reconstruction error and pseudo-log-likelihood of every training batch
            (`False` skips them: they cost one more matrix product per step; validation and `evaluate` still
            report them, and `loss` is then 0 in training).
        seed: seed of the Gibbs sampling and of the weight initialization.
        name: model name.

    Call arguments:
        inputs: `(batch, *input_shape)` visible states.

    Example:
    >>> model = keras_nn.create_model("rbm", input_shape=(64,), hidden_units=32, persistent=True)
    >>> model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.5))
    >>> model.fit(binary_images, epochs=10)
    >>> features = model.predict(binary_images)        # hidden probabilities
    >>> samples = model.rbm.gibbs_chain(start, steps=1000)

    References:
        Hinton, "Training Products of Experts by Minimizing Contrastive Divergence", Neural Computation 2002.
        Tieleman, "Training Restricted Boltzmann Machines using Approximations to the Likelihood Gradient",
        ICML 2008.
        Hinton, "A Practical Guide to Training Restricted Boltzmann Machines", UTML TR 2010-003.
    """

    def __init__(
        self,
        input_shape=(784,),
        hidden_units=500,
        visible_type="bernoulli",
        hidden_type="bernoulli",
        cd_steps=1,
        persistent=False,
        persistent_chains=100,
        weight_decay=0.0,
        sparsity_target=None,
        sparsity_cost=0.0,
        sparsity_decay=0.95,
        training_metrics=True,
        seed=None,
        name="rbm",
        **kwargs,
    ):
        arguments = dict(locals())
        check_positive_int("hidden_units", hidden_units)
        check_positive_int("cd_steps", cd_steps)
        check_positive_int("persistent_chains", persistent_chains)
        check_choice("visible_type", visible_type, UNIT_TYPES)
        check_choice("hidden_type", hidden_type, UNIT_TYPES)
        if float(weight_decay) < 0:
            raise ConfigError(f"weight_decay={weight_decay!r} must be >= 0")
        if sparsity_target is not None and not 0.0 < float(sparsity_target) < 1.0:
            raise ConfigError(f"sparsity_target={sparsity_target!r} must be in (0, 1), e.g. 0.05, or null for none")
        if not 0.0 <= float(sparsity_decay) < 1.0:
            raise ConfigError(f"sparsity_decay={sparsity_decay!r} must be in [0, 1)")
        input_shape = tuple(int(size) for size in input_shape)
        inputs = keras.Input(shape=input_shape, name="visible")
        x = keras.layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
        rbm = RBM(
            hidden_units,
            visible_type=visible_type,
            hidden_type=hidden_type,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.01, seed=seed),
            seed=seed,
            name="rbm",
        )
        outputs = rbm(x)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self._init_arguments(arguments)
        self.visible_units = math.prod(input_shape)
        self.cd_steps = cd_steps
        self.persistent = bool(persistent)
        self.weight_decay = float(weight_decay)
        self.sparsity_target = None if sparsity_target is None else float(sparsity_target)
        self.sparsity_cost = float(sparsity_cost)
        self.sparsity_decay = float(sparsity_decay)
        self.training_metrics = bool(training_metrics)
        self.chain_seed = keras.random.SeedGenerator(seed)
        # Sampler state, created only when used: without PCD or a sparsity target `count_params` is the RBM's
        # parameters alone (PCD adds its particles, non-trainable). Under a strategy every replica continues the
        # first replica's particles.
        self.fantasy_particles = None
        if self.persistent:
            self.fantasy_particles = self.add_weight(
                shape=(persistent_chains, hidden_units),
                initializer="zeros",  # scikit-learn's start: the first chain step samples v from the visible biases
                trainable=False,
                aggregation="only_first_replica",
                name="fantasy_particles",
            )
        self.hidden_activity = None
        if self.sparsity_target is not None and self.sparsity_cost > 0:
            self.hidden_activity = self.add_weight(
                shape=(hidden_units,),
                initializer=keras.initializers.Constant(self.sparsity_target),
                trainable=False,
                name="hidden_activity",
            )
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_error")
        self.pseudo_likelihood_tracker = (
            keras.metrics.Mean(name="pseudo_log_likelihood") if visible_type == "bernoulli" else None
        )

    @property
    def rbm(self):
        """The `keras_nn.layers.RBM` this model trains."""
        return self.get_layer("rbm")

    @property
    def metrics(self):
        trackers = [self.reconstruction_tracker, self.pseudo_likelihood_tracker]
        return [tracker for tracker in trackers if tracker is not None]

    def compile(self, optimizer="sgd", **kwargs):
        """`keras.Model.compile`; only the optimizer (and `jit_compile`, `steps_per_execution`) matter:
        contrastive divergence has no loss to give."""
        if kwargs.get("loss") is not None:
            raise ConfigError(
                "RestrictedBoltzmannMachine trains by contrastive divergence and takes no loss; drop loss= from compile"
            )
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        # The saved config has the optimizer and no loss, which `compile` takes.
        recompile_from_config(self, config)

    # ------------------------------------------------------------------------------------------- training

    def _visible(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return ops.reshape(ops.cast(x, self.rbm.compute_dtype), (-1, self.visible_units))

    def contrastive_divergence(self, visible):
        """The CD-k (or PCD) update for a batch: gradients (to descend) of the kernel, visible and hidden biases,
        in that order, the chain's last hidden sample and the data's hidden activation."""
        rbm = self.rbm
        positive_activation = rbm.hidden_activation(visible)
        positive_hidden = unit_means(positive_activation, rbm.hidden_type)
        if self.persistent:
            # The particles are kept as hidden states, as scikit-learn keeps them: each step then costs two
            # matrix products (down, up) and the last one's hidden probabilities are the negative statistics.
            hidden = ops.cast(self.fantasy_particles.value, visible.dtype)
        else:
            hidden = sample_units(positive_hidden, rbm.hidden_type, self.chain_seed)
        for step in range(self.cd_steps):
            visible_mean = rbm.visible_probabilities(hidden)
            last = step == self.cd_steps - 1
            # CD's last reconstruction is the visible probabilities (Hinton's guide, section 3); a chain that
            # goes on (PCD, or CD's earlier steps) samples.
            negative_visible = visible_mean if last and not self.persistent else sample_units(
                visible_mean, rbm.visible_type, self.chain_seed
            )
            negative_hidden = rbm.hidden_probabilities(negative_visible)
            if self.persistent or not last:
                hidden = sample_units(negative_hidden, rbm.hidden_type, self.chain_seed)

        batch = ops.cast(ops.shape(visible)[0], visible.dtype)
        particles = ops.cast(ops.shape(negative_visible)[0], visible.dtype)
        # <v h>_model - <v h>_data as one matrix product over the stacked batch and particles.
        kernel_gradient = ops.matmul(
            ops.transpose(ops.concatenate([negative_visible, visible], axis=0)),
            ops.concatenate([negative_hidden / particles, -positive_hidden / batch], axis=0),
        )
        visible_gradient = ops.mean(negative_visible, axis=0) - ops.mean(visible, axis=0)
        hidden_gradient = ops.mean(negative_hidden, axis=0) - ops.mean(positive_hidden, axis=0)
        kernel_gradient = ops.cast(kernel_gradient, "float32")
        visible_gradient = ops.cast(visible_gradient, "float32")
        hidden_gradient = ops.cast(hidden_gradient, "float32")
        if self.weight_decay:
            kernel_gradient = kernel_gradient + self.weight_decay * ops.convert_to_tensor(rbm.kernel)
        if self.hidden_activity is not None:
            # Hinton's guide, section 11: the cross-entropy between the target and a running estimate q of
            # each unit's activity has derivative q - target w.r.t. the unit's total input.
            activity = self.sparsity_decay * self.hidden_activity + (1.0 - self.sparsity_decay) * ops.cast(
                ops.mean(positive_hidden, axis=0), "float32"
            )
            self.hidden_activity.assign(activity)
            excess = self.sparsity_cost * (activity - self.sparsity_target)
            hidden_gradient = hidden_gradient + excess
            kernel_gradient = kernel_gradient + ops.outer(ops.cast(ops.mean(visible, axis=0), "float32"), excess)
        return [kernel_gradient, visible_gradient, hidden_gradient], hidden, positive_activation

    def train_step(self, *args):
        # TensorFlow and PyTorch call train_step(data) and let it change the variables; JAX calls
        # train_step(state, data) and wants the new state back: the same step runs in a StatelessScope there.
        if len(args) == 2:
            return run_stateless(self, self._train_step, *args)
        return self._train_step(*args)

    def test_step(self, *args):
        if len(args) == 2:
            return run_stateless(self, self._test_step, *args)
        return self._test_step(*args)

    def _train_step(self, data):
        visible = self._visible(data)
        gradients, chain, activation = self.contrastive_divergence(visible)
        replicas = replicas_in_sync()
        if replicas > 1:
            gradients = [gradient / float(replicas) for gradient in gradients]
        # A LossScaleOptimizer (mixed precision) divides by its scale: multiply by it, as it would a loss.
        gradients = [self.optimizer.scale_loss(gradient) for gradient in gradients]
        rbm = self.rbm
        self.optimizer.apply(gradients, [rbm.kernel, rbm.visible_bias, rbm.hidden_bias])
        if self.persistent:
            self.fantasy_particles.assign(ops.cast(chain, self.fantasy_particles.dtype))
        if not self.training_metrics:
            return {"loss": ops.zeros((), "float32")}
        return self._update_trackers(visible, activation)

    def _test_step(self, data):
        visible = self._visible(data)
        return self._update_trackers(visible, self.rbm.hidden_activation(visible))

    def _update_trackers(self, visible, activation):
        rbm = self.rbm
        hidden = unit_means(activation, rbm.hidden_type)
        reconstruction = rbm.visible_probabilities(hidden)
        error = ops.sum(ops.square(ops.cast(visible - reconstruction, "float32")), axis=-1)
        self.reconstruction_tracker.update_state(error)
        if self.pseudo_likelihood_tracker is not None:
            self.pseudo_likelihood_tracker.update_state(
                ops.cast(rbm.pseudo_log_likelihood(visible, seed=self.chain_seed, activation=activation), "float32")
            )
        logs = {tracker.name: tracker.result() for tracker in self.metrics}
        # `loss` is what the callbacks (best weights, early stopping) monitor.
        return {"loss": logs["reconstruction_error"], **logs}


register_model(
    "rbm",
    RestrictedBoltzmannMachine,
    family="energy",
    description="restricted Boltzmann machine trained by CD-k or persistent CD in fit (784-500, Bernoulli)",
    paper="Hinton 2002; Tieleman 2008",
)
