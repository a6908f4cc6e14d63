"""DCGAN's training step on the PyTorch backend: `torch` autograd (`backward`, each variable's `.grad`), as Keras'
guide to customizing `fit()` with PyTorch does."""

import torch


def torch_train_step(gan, data):
    """One DCGAN step as the TensorFlow one (`dcgan_tensorflow.tensorflow_train_step`): the discriminator's
    update on the real and the detached fake batch, then the generator's through the updated discriminator."""
    images, labels = gan.unpack_batch(data)
    noise, fake_labels = gan.latent_batch(images.shape[0])
    generator, discriminator = gan.generator, gan.discriminator
    fakes = generator(gan.with_labels(noise, fake_labels), training=True)

    discriminator.zero_grad()
    real_logits = discriminator(gan.with_labels(images, labels), training=True)
    fake_logits = discriminator(gan.with_labels(fakes.detach(), fake_labels), training=True)
    d_loss = gan.discriminator_loss(real_logits, fake_logits)
    gan.discriminator_optimizer.scale_loss(d_loss).backward()
    variables = discriminator.trainable_variables
    gradients = [variable.value.grad for variable in variables]
    with torch.no_grad():
        gan.discriminator_optimizer.apply(gradients, variables)

    # The generator's loss also reaches the discriminator's .grad; its next step clears them first.
    generator.zero_grad()
    g_loss = gan.generator_loss(discriminator(gan.with_labels(fakes, fake_labels), training=True))
    gan.generator_optimizer.scale_loss(g_loss).backward()
    variables = generator.trainable_variables
    gradients = [variable.value.grad for variable in variables]
    with torch.no_grad():
        gan.generator_optimizer.apply(gradients, variables)
        return gan.update_trackers(d_loss.detach(), g_loss.detach(), real_logits.detach(), fake_logits.detach())
