"""DCGAN's training step and latent draw on the TensorFlow backend (`tf.GradientTape`, `tf.distribute`).

Imported by `keras_nn.models.dcgan` on TensorFlow only: the JAX and PyTorch steps are in `dcgan_jax` and
`dcgan_torch`.
"""

import tensorflow as tf
from keras import ops

from keras_nn.models.base import replicas_in_sync


def tensorflow_latent_batch(gan, batch_size):
    """`gan.latent_batch` on TensorFlow: a fresh latent batch (and labels), different on every replica."""
    seed = gan.noise_seed.next()
    # The seed state is mirrored: without the replica's id every replica would draw the same batch.
    context = tf.distribute.get_replica_context()
    replica = 0 if context is None else context.replica_id_in_sync_group
    seed = tf.random.experimental.stateless_fold_in(tf.cast(seed, "int64"), replica)
    noise = tf.random.stateless_normal((batch_size, gan.latent_dim), seed=seed)
    if gan.num_classes is None:
        return noise, None
    label_seed = tf.random.experimental.stateless_fold_in(seed, 1)
    labels = tf.random.stateless_uniform(
        (batch_size,), seed=label_seed, minval=0, maxval=gan.num_classes, dtype="int32"
    )
    return noise, labels


def tensorflow_train_step(gan, data):
    """`DCGAN.train_step` on TensorFlow: the discriminator's update, then the generator's, each with its tape;
    losses are each replica's mean divided by the replicas (the optimizer sums the replicas' gradients)."""
    images, labels = gan.unpack_batch(data)
    noise, fake_labels = gan.latent_batch(ops.shape(images)[0])
    replicas = float(replicas_in_sync())
    generator, discriminator = gan.generator, gan.discriminator
    with tf.GradientTape() as generator_tape:
        fakes = generator(gan.with_labels(noise, fake_labels), training=True)
        with generator_tape.stop_recording(), tf.GradientTape() as discriminator_tape:
            real_logits = discriminator(gan.with_labels(images, labels), training=True)
            fake_logits = discriminator(gan.with_labels(tf.stop_gradient(fakes), fake_labels), training=True)
            d_loss = gan.discriminator_loss(real_logits, fake_logits)
            scaled = gan.discriminator_optimizer.scale_loss(d_loss / replicas)
        variables = discriminator.trainable_variables
        gan.discriminator_optimizer.apply(discriminator_tape.gradient(scaled, variables), variables)
        g_loss = gan.generator_loss(discriminator(gan.with_labels(fakes, fake_labels), training=True))
        scaled = gan.generator_optimizer.scale_loss(g_loss / replicas)
    variables = generator.trainable_variables
    gan.generator_optimizer.apply(generator_tape.gradient(scaled, variables), variables)
    return gan.update_trackers(d_loss, g_loss, real_logits, fake_logits)
