"""DCGAN's training step on the JAX backend: `stateless_call` and JAX's autodiff (`jax.vjp`, `jax.grad`).

`DCGAN.train_step(state, data)` runs `jax_train_step` through `run_stateless` (the RBM's pattern): the variables
it reads hold JAX's state and its assignments are the new state. The gradients come from the networks'
`stateless_call` under JAX's transformations, as Keras' guide to customizing `fit()` with JAX does; the updates
are the optimizers' `apply`, which assigns into that state.
"""

import jax
from keras import ops


def values(variables):
    return [variable.value for variable in variables]


def assign(variables, new_values):
    for variable, value in zip(variables, new_values, strict=True):
        variable.assign(value)


def jax_train_step(gan, data):
    """One DCGAN step as the TensorFlow one (`dcgan_tensorflow.tensorflow_train_step`): the discriminator's
    update on the real and the (constant) fake batch, then the generator's through the updated discriminator,
    with one generator forward pass whose pullback gives the generator's gradients. Batch normalization's
    moving statistics advance as there: once in the generator, three times in the discriminator."""
    images, labels = gan.unpack_batch(data)
    noise, fake_labels = gan.latent_batch(ops.shape(images)[0])
    generator, discriminator = gan.generator, gan.discriminator

    def generate(trainable):
        return generator.stateless_call(
            trainable, values(generator.non_trainable_variables), gan.with_labels(noise, fake_labels), training=True
        )

    fakes, generator_pullback, generator_state = jax.vjp(generate, values(generator.trainable_variables), has_aux=True)
    assign(generator.non_trainable_variables, generator_state)

    def discriminate(trainable, non_trainable, batch, batch_labels):
        return discriminator.stateless_call(trainable, non_trainable, gan.with_labels(batch, batch_labels), training=True)

    def discriminator_objective(trainable):
        real_logits, state = discriminate(trainable, values(discriminator.non_trainable_variables), images, labels)
        fake_logits, state = discriminate(trainable, state, fakes, fake_labels)
        d_loss = gan.discriminator_loss(real_logits, fake_logits)
        return gan.discriminator_optimizer.scale_loss(d_loss), (d_loss, real_logits, fake_logits, state)

    variables = discriminator.trainable_variables
    gradients, (d_loss, real_logits, fake_logits, state) = jax.grad(discriminator_objective, has_aux=True)(
        values(variables)
    )
    assign(discriminator.non_trainable_variables, state)
    gan.discriminator_optimizer.apply(gradients, variables)

    def generator_objective(fake_batch):
        logits, state = discriminate(
            values(discriminator.trainable_variables), values(discriminator.non_trainable_variables), fake_batch,
            fake_labels,
        )
        g_loss = gan.generator_loss(logits)
        return gan.generator_optimizer.scale_loss(g_loss), (g_loss, state)

    fakes_gradient, (g_loss, state) = jax.grad(generator_objective, has_aux=True)(fakes)
    assign(discriminator.non_trainable_variables, state)
    (gradients,) = generator_pullback(fakes_gradient)
    gan.generator_optimizer.apply(gradients, generator.trainable_variables)
    return gan.update_trackers(d_loss, g_loss, real_logits, fake_logits)
