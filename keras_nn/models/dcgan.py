"""DCGAN: a convolutional generator and discriminator trained against each other in `train_step`."""

import functools

import keras
import numpy as np
from keras import ops

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.models.base import FunctionalModel, check_positive_int, model_from_arguments
from keras_nn.models.registry import register_model
from keras_nn.models.stateless_step import run_stateless

# The DCGAN paper's initialization: every weight N(0, 0.02), batch-norm scales N(1, 0.02).
WEIGHT_STDDEV = 0.02
# PyTorch's BatchNorm2d defaults (momentum 0.1 there is 0.9 here), which the DCGAN reference uses.
BATCH_NORM_MOMENTUM = 0.9
BATCH_NORM_EPSILON = 1e-5
LEAKY_SLOPE = 0.2
START_SIDE = 4


def upsampling_plan(input_shape, name="dcgan"):
    """`(steps, start_height, start_width)` for images of `input_shape = (height, width, channels)`.

    Each side must be `4 * 2**k` (k >= 1); the generator starts from `(height, width) / 2**steps` with `steps` the
    smaller side's k, so a non-square image starts from a non-square map (32x64: 3 steps from 4x8).
    """
    if input_shape is None or len(tuple(input_shape)) != 3 or any(
        not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1 for size in input_shape
    ):
        raise ShapeError(
            f"{name} needs input_shape (height, width, channels) of positive integers; got {input_shape!r}"
        )
    height, width, _ = (int(size) for size in input_shape)
    steps = []
    for side in (height, width):
        k = (side // START_SIDE).bit_length() - 1
        if side < 2 * START_SIDE or side != START_SIDE * 2**k:
            raise ShapeError(
                f"{name}: image side {side} (input_shape={tuple(input_shape)}) is not 4 * 2**k: 8, 16, 32, 64, ...; "
                "resize with data.image_size"
            )
        steps.append(k)
    k = min(steps)
    return k, height // 2**k, width // 2**k


def weight_initializer(seed, offset):
    return keras.initializers.RandomNormal(0.0, WEIGHT_STDDEV, seed=None if seed is None else seed + offset)


def batch_norm(seed, offset, name):
    return keras.layers.BatchNormalization(
        momentum=BATCH_NORM_MOMENTUM,
        epsilon=BATCH_NORM_EPSILON,
        gamma_initializer=keras.initializers.RandomNormal(1.0, WEIGHT_STDDEV, seed=None if seed is None else seed + offset),
        name=name,
    )


def check_num_classes(num_classes):
    if num_classes is not None:
        check_positive_int("num_classes", num_classes)
        if num_classes < 2:
            raise ConfigError(f"num_classes={num_classes!r}: a conditional GAN needs at least 2 classes, or null for none")


@keras.saving.register_keras_serializable(package="keras_nn")
class DCGANGenerator(FunctionalModel):
    """The DCGAN generator: noise (and a class label) in, an image in [-1, 1] out.

    A dense projection of the noise, reshaped to a `(height / 2**k, width / 2**k, base_filters * 2**(k - 1))` map
    (4x4 for square images), then `k` transposed convolutions (kernel 4, stride 2, no bias) that double the size
    and halve the filters, each but the last followed by batch normalization and ReLU; the last gives the image's
    channels through tanh. With the standard sizes (64x64x3, latent 100, 64 filters) it is the PyTorch DCGAN
    example's generator, 3,576,704 trainable parameters (its first layer, a 4x4 transposed convolution of a 1x1
    input, is this dense projection). Conditional: a learned label embedding (`num_classes` wide) is concatenated
    with the noise (Mirza & Osindero 2014).

    Args:
        image_shape: `(height, width, channels)` of the images made; each side `4 * 2**k` (8, 16, 32, 64, ...).
        latent_dim: size of the noise vector.
        base_filters: filters of the last hidden map (the first has `base_filters * 2**(k - 1)`).
        num_classes: number of classes of a conditional generator, `None` for an unconditional one.
        seed: seed of the weight initialization.
        name: model name.

    Call arguments:
        noise: `(batch, latent_dim)` float, or `(noise, labels)` with `labels` `(batch,)` int for a conditional
            generator.

    Returns:
        `(batch, height, width, channels)` float32 images in [-1, 1].

    Example:
    >>> generator = DCGANGenerator(image_shape=(32, 32, 1), latent_dim=64, base_filters=32)
    >>> generator(np.random.normal(size=(8, 64))).shape
    (8, 32, 32, 1)

    References:
        Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional Generative
        Adversarial Networks", ICLR 2016, https://arxiv.org/abs/1511.06434.
        Mirza & Osindero, "Conditional Generative Adversarial Nets", 2014, https://arxiv.org/abs/1411.1784.
    """

    def __init__(
        self,
        image_shape=(64, 64, 3),
        latent_dim=100,
        base_filters=64,
        num_classes=None,
        seed=None,
        name="dcgan_generator",
        **kwargs,
    ):
        arguments = dict(locals())
        check_positive_int("latent_dim", latent_dim)
        check_positive_int("base_filters", base_filters)
        check_num_classes(num_classes)
        steps, start_height, start_width = upsampling_plan(image_shape, name)
        channels = int(image_shape[-1])

        noise = keras.Input(shape=(latent_dim,), name="noise")
        inputs = noise
        x = noise
        if num_classes is not None:
            labels = keras.Input(shape=(), dtype="int32", name="labels")
            inputs = [noise, labels]
            # N(0, 1) as PyTorch's nn.Embedding: the label weighs as much as a noise coordinate from the start
            # (Keras' default, uniform in +-0.05, leaves the first images all but unconditioned).
            embedded = keras.layers.Embedding(
                num_classes, num_classes, embeddings_initializer=keras.initializers.RandomNormal(
                    0.0, 1.0, seed=None if seed is None else seed + 100
                ), name="label_embedding",
            )(labels)
            x = keras.layers.Concatenate(name="noise_and_label")([noise, embedded])
        filters = base_filters * 2 ** (steps - 1)
        x = keras.layers.Dense(
            start_height * start_width * filters, use_bias=False, kernel_initializer=weight_initializer(seed, 0),
            name="project",
        )(x)
        x = keras.layers.Reshape((start_height, start_width, filters), name="reshape")(x)
        x = batch_norm(seed, 1, "project_bn")(x)
        x = keras.layers.ReLU(name="project_relu")(x)
        for step in range(1, steps):
            filters //= 2
            x = keras.layers.Conv2DTranspose(
                filters, 4, strides=2, padding="same", use_bias=False,
                kernel_initializer=weight_initializer(seed, 2 * step), name=f"up{step}",
            )(x)
            x = batch_norm(seed, 2 * step + 1, f"up{step}_bn")(x)
            x = keras.layers.ReLU(name=f"up{step}_relu")(x)
        x = keras.layers.Conv2DTranspose(
            channels, 4, strides=2, padding="same", use_bias=False,
            kernel_initializer=weight_initializer(seed, 2 * steps), name=f"up{steps}",
        )(x)
        # tanh in float32: mixed-precision training keeps the output (what the discriminator sees) exact.
        images = keras.layers.Activation("tanh", dtype="float32", name="images")(x)
        super().__init__(inputs=inputs, outputs=images, name=name, **kwargs)
        self._init_arguments(arguments)
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.image_shape = tuple(int(size) for size in image_shape)


@keras.saving.register_keras_serializable(package="keras_nn")
class DCGANDiscriminator(FunctionalModel):
    """The DCGAN discriminator: an image (and a class label) in, one logit (real > 0, fake < 0) out.

    `k` strided convolutions (kernel 4, stride 2, no bias) from `base_filters` filters, doubling, each followed by
    LeakyReLU(0.2) and, after the first, batch normalization before it; then one dense unit (no bias) on the
    flattened last map. No sigmoid: the loss takes logits. With the standard sizes (64x64x3, 64 filters) it is the
    PyTorch DCGAN example's discriminator, 2,765,568 trainable parameters (its last layer, a 4x4 convolution to
    one channel with no padding, is this dense unit). Conditional: the label, one-hot, is broadcast to
    `num_classes` constant image planes concatenated with the image's channels.

    Args:
        input_shape: `(height, width, channels)` of the images; each side `4 * 2**k` (8, 16, 32, 64, ...).
        base_filters: filters of the first convolution.
        num_classes: number of classes of a conditional discriminator, `None` for an unconditional one.
        seed: seed of the weight initialization.
        name: model name.

    Call arguments:
        images: `(batch, height, width, channels)` in [-1, 1], or `(images, labels)` with `labels` `(batch,)` int
            for a conditional discriminator.

    Returns:
        `(batch, 1)` float32 logits.

    Example:
    >>> discriminator = DCGANDiscriminator(input_shape=(32, 32, 1), base_filters=32)
    >>> discriminator(np.zeros((8, 32, 32, 1))).shape
    (8, 1)

    References:
        Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional Generative
        Adversarial Networks", ICLR 2016, https://arxiv.org/abs/1511.06434.
        Mirza & Osindero, "Conditional Generative Adversarial Nets", 2014, https://arxiv.org/abs/1411.1784.
    """

    def __init__(
        self,
        input_shape=(64, 64, 3),
        base_filters=64,
        num_classes=None,
        seed=None,
        name="dcgan_discriminator",
        **kwargs,
    ):
        arguments = dict(locals())
        check_positive_int("base_filters", base_filters)
        check_num_classes(num_classes)
        steps, _, _ = upsampling_plan(input_shape, name)

        images = keras.Input(shape=tuple(int(size) for size in input_shape), name="images")
        inputs = images
        x = images
        if num_classes is not None:
            labels = keras.Input(shape=(), dtype="int32", name="labels")
            inputs = [images, labels]
            one_hot = ops.cast(ops.one_hot(labels, num_classes), images.dtype)
            planes = ops.ones_like(images[..., :1]) * one_hot[:, None, None, :]
            x = keras.layers.Concatenate(name="image_and_label")([images, planes])
        filters = base_filters
        for step in range(1, steps + 1):
            x = keras.layers.Conv2D(
                filters, 4, strides=2, padding="same", use_bias=False,
                kernel_initializer=weight_initializer(seed, 2 * step), name=f"down{step}",
            )(x)
            if step > 1:  # no batch norm on the input layer (the paper's guideline)
                x = batch_norm(seed, 2 * step + 1, f"down{step}_bn")(x)
            x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"down{step}_leaky_relu")(x)
            filters *= 2
        x = keras.layers.Flatten(name="flatten")(x)
        logits = keras.layers.Dense(
            1, use_bias=False, kernel_initializer=weight_initializer(seed, 2 * steps + 2), dtype="float32",
            name="logit",
        )(x)
        super().__init__(inputs=inputs, outputs=logits, name=name, **kwargs)
        self._init_arguments(arguments)
        self.num_classes = num_classes


@keras.saving.register_keras_serializable(package="keras_nn")
class DCGAN(keras.Model):
    """A DCGAN generator and discriminator trained against each other by `fit` (`train_step`).

    Each step draws a fresh latent batch (and, conditional, uniform random labels for it), makes a fake batch,
    then (1) updates the discriminator alone on the real batch (targets `1 - label_smoothing`, one-sided label
    smoothing, Salimans et al. 2016) and the fake one (targets 0), and (2) updates the generator alone with the
    non-saturating loss (the fake batch scored by the just-updated discriminator, targets 1; Goodfellow et al.
    2014, section 3). Both losses are binary cross-entropy on logits, each the mean over the global batch under a
    `tf.distribute` strategy; the discriminator's is the sum of its real and fake terms, as in the PyTorch DCGAN
    example. Batch normalization sees the real and the fake batch separately (also as there). The fake batch of
    step (1) is reused in step (2): one generator forward pass per step.

    Logged: `d_loss`, `g_loss`, `d_real_accuracy` (real images scored > 0) and `d_fake_accuracy` (fake images
    scored < 0, before the discriminator's update), and `loss` = `g_loss` (what callbacks monitor). `evaluate`
    logs the same in inference mode without updating anything.

    It trains on every Keras backend, each with its own autodiff: `tf.GradientTape` on TensorFlow (in a
    strategy's replicas), `jax.grad` over the networks' `stateless_call` on JAX, `torch` autograd on PyTorch
    (`dcgan_tensorflow.py`, `dcgan_jax.py`, `dcgan_torch.py`).

    Args:
        input_shape: `(height, width, channels)` of the images; each side `4 * 2**k` (8, 16, 32, 64, ...).
        latent_dim: size of the generator's noise vector.
        base_filters: the generator's last and the discriminator's first number of filters.
        num_classes: `None`, or the number of classes of a conditional GAN (both networks see the label).
        label_smoothing: real targets are `1 - label_smoothing` in the discriminator's loss (0 for none).
        seed: seed of the weight initialization and of the latent draws in training.
        name: model name.

    Call arguments:
        inputs: noise `(batch, latent_dim)`, or `(noise, labels)` for a conditional GAN.

    Returns:
        The generator's images, `(batch, height, width, channels)` in [-1, 1].

    Example:
    >>> gan = keras_nn.create_model("dcgan", input_shape=(32, 32, 1), latent_dim=64, base_filters=32)
    >>> gan.compile()                                  # Adam(2e-4, beta_1=0.5) for both networks
    >>> gan.fit(images_in_minus_one_to_one, batch_size=64, epochs=5)
    >>> samples = gan.generate(16, seed=0)

    References:
        Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, https://arxiv.org/abs/1406.2661.
        Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional Generative
        Adversarial Networks", ICLR 2016, https://arxiv.org/abs/1511.06434.
        Mirza & Osindero, "Conditional Generative Adversarial Nets", 2014, https://arxiv.org/abs/1411.1784.
        Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016 (one-sided label smoothing),
        https://arxiv.org/abs/1606.03498.
    """

    def __init__(
        self,
        input_shape=(64, 64, 3),
        latent_dim=100,
        base_filters=64,
        num_classes=None,
        label_smoothing=0.0,
        seed=None,
        name="dcgan",
        **kwargs,
    ):
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ConfigError(f"label_smoothing={label_smoothing!r} must be in [0, 1), e.g. 0.1, or 0 for none")
        super().__init__(name=name, **kwargs)
        self.generator = DCGANGenerator(
            image_shape=input_shape, latent_dim=latent_dim, base_filters=base_filters, num_classes=num_classes,
            seed=seed, name="generator",
        )
        self.discriminator = DCGANDiscriminator(
            input_shape=input_shape, base_filters=base_filters, num_classes=num_classes,
            seed=None if seed is None else seed + 1000, name="discriminator",
        )
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.image_shape = self.generator.image_shape
        self.base_filters = base_filters
        self.label_smoothing = float(label_smoothing)
        self.seed = seed
        self.noise_seed = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_accuracy_tracker = keras.metrics.Mean(name="d_real_accuracy")
        self.d_fake_accuracy_tracker = keras.metrics.Mean(name="d_fake_accuracy")
        self.generator_optimizer = None
        self.discriminator_optimizer = None
        self.built = True

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "input_shape": list(self.image_shape),
            "latent_dim": self.latent_dim,
            "base_filters": self.base_filters,
            "num_classes": self.num_classes,
            "label_smoothing": self.label_smoothing,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return model_from_arguments(cls, config)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_accuracy_tracker, self.d_fake_accuracy_tracker]

    @property
    def inputs(self):
        """The generator's inputs (noise, and labels when conditional): what the GAN is called on, and what an
        export of it serves (noise in, images out)."""
        return self.generator.inputs

    def call(self, inputs, training=None):
        return self.generator(inputs, training=training)

    # --------------------------------------------------------------------------------------------- compile

    def compile(self, generator_optimizer=None, discriminator_optimizer=None, **kwargs):
        """Sets each network's optimizer (default for both: Adam(2e-4, beta_1=0.5), the DCGAN paper's).

        Args:
            generator_optimizer, discriminator_optimizer: `keras.optimizers.Optimizer` instances (or names or
                configs `keras.optimizers.get` takes); one optimizer must not serve both.
            **kwargs: `keras.Model.compile`'s other arguments (`jit_compile`, `steps_per_execution`,
                `run_eagerly`); no `loss`, `optimizer` or `metrics`: the GAN's losses are its own.
        """
        for key in ("loss", "optimizer", "metrics"):
            if kwargs.get(key) is not None:
                raise ConfigError(
                    f"DCGAN.compile takes no {key}= (its losses and metrics are its own); pass "
                    "generator_optimizer= and discriminator_optimizer="
                )
            kwargs.pop(key, None)
        auto_scale_loss = kwargs.pop("auto_scale_loss", True)
        generator_optimizer = self._optimizer(generator_optimizer)
        discriminator_optimizer = self._optimizer(discriminator_optimizer)
        if generator_optimizer is discriminator_optimizer:
            raise ConfigError("DCGAN.compile needs two optimizer objects, one per network; pass two instances")
        # What `.keras` files keep, for `compile_from_config`: the two (unwrapped) optimizers and Keras' options.
        self._gan_compile_config = {
            **kwargs,
            "auto_scale_loss": auto_scale_loss,
            "generator_optimizer": generator_optimizer,
            "discriminator_optimizer": discriminator_optimizer,
        }
        # `model.optimizer` (what callbacks and the trainer see; its `iterations` counts training steps) is the
        # generator's, unwrapped: built here over the generator's variables only, it ignores the trainer's later
        # `model.optimizer.build(model.trainable_variables)` (a LossScaleOptimizer would build again).
        plain_generator_optimizer = generator_optimizer
        if auto_scale_loss and self.dtype_policy.name == "mixed_float16":
            generator_optimizer = keras.optimizers.LossScaleOptimizer(generator_optimizer, name="generator_loss_scale")
            discriminator_optimizer = keras.optimizers.LossScaleOptimizer(
                discriminator_optimizer, name="discriminator_loss_scale"
            )
        generator_optimizer.build(self.generator.trainable_variables)
        discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        super().compile(optimizer=plain_generator_optimizer, auto_scale_loss=False, **kwargs)

    @staticmethod
    def _optimizer(optimizer):
        if optimizer is None:
            return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)
        return keras.optimizers.get(optimizer)

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {key: keras.saving.serialize_keras_object(value) for key, value in self._gan_compile_config.items()}

    def compile_from_config(self, config):
        # Keras does not recompile a reloaded model whose compile is overridden unless this is too.
        self.compile(**{key: keras.saving.deserialize_keras_object(value) for key, value in config.items()})

    # ---------------------------------------------------------------------------------------------- losses

    def discriminator_loss(self, real_logits, fake_logits):
        """Binary cross-entropy of real logits against `1 - label_smoothing` plus fake logits against 0, each the
        mean over the batch."""
        real_logits = ops.cast(real_logits, "float32")
        fake_logits = ops.cast(fake_logits, "float32")
        real_targets = ops.full_like(real_logits, 1.0 - self.label_smoothing)
        real_term = ops.mean(ops.binary_crossentropy(real_targets, real_logits, from_logits=True))
        fake_term = ops.mean(ops.binary_crossentropy(ops.zeros_like(fake_logits), fake_logits, from_logits=True))
        return real_term + fake_term

    def generator_loss(self, fake_logits):
        """The non-saturating generator loss: binary cross-entropy of fake logits against 1, mean over the batch."""
        fake_logits = ops.cast(fake_logits, "float32")
        return ops.mean(ops.binary_crossentropy(ops.ones_like(fake_logits), fake_logits, from_logits=True))

    # -------------------------------------------------------------------------------------------- training

    def train_step(self, *args):
        # Each backend's autodiff in its own file; JAX calls train_step(state, data) and wants the new state back,
        # so its step runs in a StatelessScope holding that state (run_stateless, as the RBM's).
        backend = keras.backend.backend()
        if backend == "jax":
            from keras_nn.models.dcgan_jax import jax_train_step

            return run_stateless(self, functools.partial(jax_train_step, self), *args)
        if backend == "torch":
            from keras_nn.models.dcgan_torch import torch_train_step

            return torch_train_step(self, *args)
        from keras_nn.models.dcgan_tensorflow import tensorflow_train_step

        return tensorflow_train_step(self, *args)

    def test_step(self, *args):
        if len(args) == 2:
            return run_stateless(self, self._test_step, *args)
        return self._test_step(*args)

    def _test_step(self, data):
        images, labels = self.unpack_batch(data)
        noise, fake_labels = self.latent_batch(ops.shape(images)[0])
        fakes = self.generator(self.with_labels(noise, fake_labels), training=False)
        real_logits = self.discriminator(self.with_labels(images, labels), training=False)
        fake_logits = self.discriminator(self.with_labels(fakes, fake_labels), training=False)
        d_loss = self.discriminator_loss(real_logits, fake_logits)
        return self.update_trackers(d_loss, self.generator_loss(fake_logits), real_logits, fake_logits)

    @property
    def non_trainable_variables(self):
        variables = super().non_trainable_variables
        if keras.backend.backend() != "jax" or getattr(self, "discriminator_optimizer", None) is None:
            return variables
        # JAX's fit passes each stateless step the model's variables and `model.optimizer`'s (the generator's,
        # unwrapped) and keeps what it gets back: the discriminator's optimizer and the loss scales travel as
        # non-trainable state, or each step would start from their values before fit.
        carried = {id(variable) for variable in variables + list(self.optimizer.variables)}
        return variables + [
            variable
            for optimizer in (self.generator_optimizer, self.discriminator_optimizer)
            for variable in optimizer.variables
            if id(variable) not in carried
        ]

    # ------------------------------------------------------------------------------------ step pieces

    def unpack_batch(self, data):
        """`(images float32, labels int32 (batch,) or None)` of a batch `fit` or `evaluate` gives."""
        images, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(images, (list, tuple)) and len(images) == 2 and labels is None:
            images, labels = images
        if self.num_classes is not None and labels is None:
            raise ShapeError(
                f"{self.name} is conditional (num_classes={self.num_classes}) and needs (images, labels) batches; "
                "give the labels, or build it with num_classes=None"
            )
        images = ops.cast(images, "float32")
        if self.num_classes is None:
            return images, None
        return images, ops.cast(ops.reshape(labels, (-1,)), "int32")

    def latent_batch(self, batch_size):
        """A fresh latent batch `(batch_size, latent_dim)` and (conditional) uniform random labels, from the
        model's seed generator (different on every replica under a `tf.distribute` strategy)."""
        if keras.backend.backend() == "tensorflow":
            from keras_nn.models.dcgan_tensorflow import tensorflow_latent_batch

            return tensorflow_latent_batch(self, batch_size)
        seed = self.noise_seed.next()
        noise = keras.random.normal((batch_size, self.latent_dim), seed=seed)
        if self.num_classes is None:
            return noise, None
        labels = ops.cast(
            ops.floor(keras.random.uniform((batch_size,), seed=seed + 1) * self.num_classes), "int32"
        )
        return noise, ops.minimum(labels, self.num_classes - 1)

    def with_labels(self, tensor, labels):
        """A network's input: `tensor`, or `[tensor, labels]` for a conditional GAN."""
        return tensor if labels is None else [tensor, labels]

    def update_trackers(self, d_loss, g_loss, real_logits, fake_logits):
        """Updates the four trackers with a step's losses and logits; returns the logs (`loss` = `g_loss`)."""
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_accuracy_tracker.update_state(ops.cast(ops.greater(real_logits, 0.0), "float32"))
        self.d_fake_accuracy_tracker.update_state(ops.cast(ops.less(fake_logits, 0.0), "float32"))
        logs = {tracker.name: tracker.result() for tracker in self.metrics}
        # `loss` is what the callbacks (best weights, early stopping) monitor.
        return {"loss": logs["g_loss"], **logs}

    # ------------------------------------------------------------------------------------------ generation

    def generate(self, count, labels=None, seed=None, batch_size=256):
        """`count` images from the generator (inference mode), as a float32 numpy array in [-1, 1].

        Args:
            count: number of images.
            labels: conditional GAN only: one class id for all, or `count` of them (default: 0, 1, ...,
                num_classes - 1, 0, 1, ... so every class appears).
            seed: seed of the noise (numpy's generator): the same seed gives the same images.
            batch_size: images per generator call.

        Returns:
            `(count, height, width, channels)` float32 numpy array.
        """
        if not isinstance(count, (int, np.integer)) or isinstance(count, bool) or count < 1:
            raise ConfigError(f"count={count!r} must be a positive integer (the number of images to generate)")
        noise = np.random.default_rng(seed).standard_normal((count, self.latent_dim)).astype("float32")
        labels = self.generation_labels(count, labels)
        outputs = []
        for start in range(0, count, batch_size):
            chunk = slice(start, start + batch_size)
            inputs = noise[chunk] if labels is None else [noise[chunk], labels[chunk]]
            outputs.append(ops.convert_to_numpy(self.generator(inputs, training=False)))
        return np.concatenate(outputs).astype("float32")

    def generation_labels(self, count, labels=None):
        """The class ids `generate(count, labels)` draws: None for an unconditional GAN, else `(count,)` int32
        (`labels` checked: one id or `count` of them, each in `[0, num_classes)`)."""
        if self.num_classes is None:
            if labels is not None:
                raise ConfigError(f"{self.name} is not conditional (num_classes=None); generate it without labels")
            return None
        if labels is None:
            return (np.arange(count) % self.num_classes).astype("int32")
        labels = np.asarray(labels)
        if labels.ndim == 0:
            labels = np.full((count,), labels)
        if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer):
            raise ShapeError(
                f"labels must be one integer class id or {count} of them; got shape {labels.shape} of {labels.dtype}"
            )
        bad = labels[(labels < 0) | (labels >= self.num_classes)]
        if bad.size:
            raise ConfigError(
                f"label {int(bad[0])} is outside [0, {self.num_classes}); pick labels from 0 to {self.num_classes - 1}"
            )
        return labels.astype("int32")


register_model(
    "dcgan",
    DCGAN,
    family="gan",
    description="DCGAN generator and discriminator trained adversarially in fit (64x64x3, latent 100; conditional option)",
    paper="Radford et al. 2016; Goodfellow et al. 2014; Mirza & Osindero 2014",
)
