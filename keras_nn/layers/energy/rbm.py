"""`RBM`: a restricted Boltzmann machine, Bernoulli or Gaussian units (Smolensky 1986; Hinton 2002)."""

import keras
from keras import ops

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers.validation import check_choice, check_positive_int

#: Unit types of either side of an RBM: binary stochastic units, or real-valued units with unit-variance
#: Gaussian noise (the data standardized first).
UNIT_TYPES = ("bernoulli", "gaussian")


@keras.saving.register_keras_serializable(package="keras_nn")
class RBM(keras.layers.Layer):
    """A restricted Boltzmann machine: visible units `v`, hidden units `h`, weights `W` between them only.

    The energy of a joint state is `E(v, h) = -v.b - h.c - v W h` for binary units; a Gaussian side (unit
    variance, as Hinton & Salakhutdinov 2006 use for real-valued pixels and for the linear code layer) replaces
    its linear term by `|x - bias|^2 / 2`. Both conditionals factorize, so one matrix product gives each:
    `p(h_j = 1 | v) = sigmoid(c_j + v W_j)` and `p(v_i = 1 | h) = sigmoid(b_i + W_i h)` (a Gaussian side has
    these pre-activations as its means). The free energy `F(v) = -log sum_h exp(-E(v, h))` is in closed form.

    Called on data, the layer returns the hidden probabilities (means), the features a deep belief net stacks,
    so it slots into a feed-forward model like a `Dense` layer with a sigmoid. Training is contrastive
    divergence, which is not the gradient of the layer's output: `keras_nn.models.RestrictedBoltzmannMachine`
    runs it (CD-k or persistent CD) in its `train_step`; this layer holds the energy, the conditionals and the
    Gibbs sampler it uses.

    Args:
        units: number of hidden units.
        visible_type: `"bernoulli"` (binary data or probabilities in [0, 1]) or `"gaussian"` (real values,
            standardized to unit variance).
        hidden_type: `"bernoulli"` or `"gaussian"` (linear hidden units with unit-variance noise: the code
            layer of Hinton & Salakhutdinov's autoencoder). Both sides Gaussian has no proper distribution and
            is refused.
        kernel_initializer: initializer of `W` (visible x hidden). Default N(0, 0.01), Hinton's guide (2010).
        visible_bias_initializer: initializer of `b`.
        hidden_bias_initializer: initializer of `c`.
        seed: seed of the layer's own random draws (sampling methods called without a `seed`).
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        inputs: visible states `(batch, visible_units)`.

    Returns:
        Hidden probabilities `(batch, units)` (hidden means for a Gaussian hidden side).

    Example:
    >>> rbm = keras_nn.layers.RBM(16)
    >>> v = np.random.binomial(1, 0.5, size=(4, 64)).astype("float32")
    >>> rbm(v).shape, rbm.free_energy(v).shape
    ((4, 16), (4,))
    >>> samples = rbm.gibbs_chain(v, steps=100)

    References:
        Hinton, "Training Products of Experts by Minimizing Contrastive Divergence", Neural Computation 2002.
        Hinton, "A Practical Guide to Training Restricted Boltzmann Machines", UTML TR 2010-003.
        Hinton & Salakhutdinov, "Reducing the Dimensionality of Data with Neural Networks", Science 2006.
    """

    def __init__(
        self,
        units,
        visible_type="bernoulli",
        hidden_type="bernoulli",
        kernel_initializer=None,
        visible_bias_initializer="zeros",
        hidden_bias_initializer="zeros",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("RBM", "units", units)
        check_choice("RBM", "visible_type", visible_type, UNIT_TYPES)
        check_choice("RBM", "hidden_type", hidden_type, UNIT_TYPES)
        if visible_type == hidden_type == "gaussian":
            raise ConfigError(
                "RBM: visible_type and hidden_type cannot both be 'gaussian' (the energy has no lower bound); "
                "make one side 'bernoulli'"
            )
        self.units = units
        self.visible_type = visible_type
        self.hidden_type = hidden_type
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or keras.initializers.RandomNormal(stddev=0.01, seed=seed)
        )
        self.visible_bias_initializer = keras.initializers.get(visible_bias_initializer)
        self.hidden_bias_initializer = keras.initializers.get(hidden_bias_initializer)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        visible_units = input_shape[-1]
        if visible_units is None:
            raise ShapeError(
                f"RBM needs a known number of visible units (the last axis of its input); got shape {input_shape}"
            )
        self.visible_units = int(visible_units)
        self.kernel = self.add_weight(
            shape=(self.visible_units, self.units), initializer=self.kernel_initializer, name="kernel"
        )
        self.visible_bias = self.add_weight(
            shape=(self.visible_units,), initializer=self.visible_bias_initializer, name="visible_bias"
        )
        self.hidden_bias = self.add_weight(
            shape=(self.units,), initializer=self.hidden_bias_initializer, name="hidden_bias"
        )

    # ---------------------------------------------------------------------------------------- conditionals

    def _seed(self, seed):
        return self.seed_generator if seed is None else seed

    def _chain_seed(self, seed):
        # An int seed draws the same numbers at every call: a chain given one would redraw them at every step
        # (and freeze at a fixed point). A generator seeded by it keeps the chain reproducible with fresh draws.
        return keras.random.SeedGenerator(seed) if isinstance(seed, int) else self._seed(seed)

    def _weights_like(self, x, *names):
        # Methods are called outside `__call__` too (the trainer, samplers), where Keras does not autocast:
        # cast the float32 variables to the compute dtype of the states here. Only the named ones are read, so
        # a training step reads each variable no more often than it needs to.
        return [ops.cast(getattr(self, name), x.dtype) for name in names]

    def _states(self, x):
        x = ops.convert_to_tensor(x)
        if not self.built:
            self.build(x.shape)
        return ops.cast(x, self.compute_dtype)

    def hidden_activation(self, visible):
        """The total input of each hidden unit, `c + v W`: `(batch, units)`."""
        visible = self._states(visible)
        kernel, hidden_bias = self._weights_like(visible, "kernel", "hidden_bias")
        return ops.matmul(visible, kernel) + hidden_bias

    def visible_activation(self, hidden):
        """The total input of each visible unit, `b + h W^T`: `(batch, visible_units)`."""
        hidden = ops.cast(ops.convert_to_tensor(hidden), self.compute_dtype)
        kernel, visible_bias = self._weights_like(hidden, "kernel", "visible_bias")
        return ops.matmul(hidden, ops.transpose(kernel)) + visible_bias

    def hidden_probabilities(self, visible):
        """`p(h = 1 | v)` for Bernoulli hidden units, `E[h | v]` for Gaussian ones."""
        return unit_means(self.hidden_activation(visible), self.hidden_type)

    def visible_probabilities(self, hidden):
        """`p(v = 1 | h)` for Bernoulli visible units, `E[v | h]` for Gaussian ones."""
        return unit_means(self.visible_activation(hidden), self.visible_type)

    def sample_hidden(self, visible, seed=None):
        """A draw of `h ~ p(h | v)`."""
        return sample_units(self.hidden_probabilities(visible), self.hidden_type, self._seed(seed))

    def sample_visible(self, hidden, seed=None):
        """A draw of `v ~ p(v | h)`."""
        return sample_units(self.visible_probabilities(hidden), self.visible_type, self._seed(seed))

    def gibbs_step(self, visible, seed=None):
        """One step of block Gibbs sampling, `v -> h ~ p(h | v) -> v' ~ p(v | h)`; returns `v'`."""
        seed = self._chain_seed(seed)
        return self.sample_visible(self.sample_hidden(visible, seed), seed)

    def gibbs_chain(self, visible, steps, seed=None):
        """`steps` Gibbs steps from `visible` (a `keras.ops.fori_loop`, so a long chain is one loop in a
        compiled function); returns the last visible sample."""
        seed = self._chain_seed(seed)
        visible = self._states(visible)
        return ops.fori_loop(0, int(steps), lambda _, state: self.gibbs_step(state, seed), visible)

    def reconstruct(self, visible):
        """The mean-field reconstruction `E[v | E[h | v]]`: the data mapped up to the hidden probabilities and
        back (what "reconstruction error" measures)."""
        return self.visible_probabilities(self.hidden_probabilities(visible))

    # -------------------------------------------------------------------------------------- free energy

    def _hidden_term(self, activation):
        if self.hidden_type == "bernoulli":
            return ops.sum(ops.softplus(activation), axis=-1)
        return 0.5 * ops.sum(ops.square(activation), axis=-1)

    def free_energy(self, visible, activation=None):
        """`F(v) = -log sum_h exp(-E(v, h))` (up to a constant for Gaussian units): `(batch,)`.

        Bernoulli visible: `-v.b`; Gaussian visible: `|v - b|^2 / 2`; plus, over hidden units, `-softplus(x_j)`
        (Bernoulli) or `-x_j^2 / 2` (Gaussian), where `x = c + v W`. `activation` is `x` when the caller has
        it already (it saves the matrix product).
        """
        visible = self._states(visible)
        (visible_bias,) = self._weights_like(visible, "visible_bias")
        if activation is None:
            activation = self.hidden_activation(visible)
        if self.visible_type == "bernoulli":
            visible_term = -ops.sum(visible * visible_bias, axis=-1)
        else:
            visible_term = 0.5 * ops.sum(ops.square(visible - visible_bias), axis=-1)
        return visible_term - self._hidden_term(activation)

    def pseudo_log_likelihood(self, visible, seed=None, exact=False, activation=None):
        """The pseudo-log-likelihood `sum_i log p(v_i | v_-i)` of binary data, per example: `(batch,)`.

        By default the stochastic estimate scikit-learn's `BernoulliRBM.score_samples` computes: one randomly
        chosen unit `i` flipped per example, `V * log sigmoid(F(v_flipped) - F(v))`. `exact=True` flips every
        unit in turn (memory `batch x V x hidden`). Flipping unit `i` moves the hidden activation by
        `+-W_i`, so no matrix product is needed beyond `activation` (that of `visible`, computed if not given).
        Only for Bernoulli visible units.
        """
        if self.visible_type != "bernoulli":
            raise ConfigError(
                "pseudo_log_likelihood is defined for Bernoulli visible units; this RBM's are Gaussian "
                "(use the reconstruction error instead)"
            )
        visible = self._states(visible)
        kernel, visible_bias = self._weights_like(visible, "kernel", "visible_bias")
        if activation is None:
            activation = self.hidden_activation(visible)
        hidden_term = self._hidden_term(activation)
        # F(flipped) - F(v) = -(b_i * sign_i) - hidden_term(flipped) + hidden_term(v), sign_i = 1 - 2 v_i.
        sign = 1.0 - 2.0 * visible
        if exact:
            flipped = activation[:, None, :] + sign[:, :, None] * kernel[None, :, :]
            gap = -sign * visible_bias - self._hidden_term(flipped) + hidden_term[:, None]
            return -ops.sum(ops.softplus(-gap), axis=-1)
        batch = ops.shape(visible)[0]
        index = keras.random.randint((batch,), 0, self.visible_units, seed=self._seed(seed))
        flip = ops.one_hot(index, self.visible_units, dtype=visible.dtype)
        flip_sign = ops.sum(flip * sign, axis=-1)
        flipped = activation + flip_sign[:, None] * ops.take(kernel, index, axis=0)
        gap = -flip_sign * ops.take(visible_bias, index) - self._hidden_term(flipped) + hidden_term
        return -float(self.visible_units) * ops.softplus(-gap)

    # ----------------------------------------------------------------------------------------------- layer

    def call(self, inputs):
        return self.hidden_probabilities(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "visible_type": self.visible_type,
            "hidden_type": self.hidden_type,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "visible_bias_initializer": keras.initializers.serialize(self.visible_bias_initializer),
            "hidden_bias_initializer": keras.initializers.serialize(self.hidden_bias_initializer),
            "seed": self.seed,
        }


def unit_means(activation, unit_type):
    """The means of units whose total input is `activation`: `sigmoid` for Bernoulli units, the input itself for
    Gaussian ones."""
    return ops.sigmoid(activation) if unit_type == "bernoulli" else activation


def sample_units(mean, unit_type, seed):
    """A draw of units whose means are `mean`: Bernoulli units fire with probability `mean`, Gaussian units
    are `mean` plus unit-variance noise. `seed` is a `keras.random.SeedGenerator` or an int."""
    if unit_type == "bernoulli":
        return ops.cast(keras.random.uniform(ops.shape(mean), seed=seed, dtype=mean.dtype) < mean, mean.dtype)
    return mean + keras.random.normal(ops.shape(mean), seed=seed, dtype=mean.dtype)
