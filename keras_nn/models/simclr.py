"""SimCLR (Chen et al. 2020): a registry backbone learns features without labels by contrasting two views."""

import keras
from keras import ops

from keras_nn.errors import ConfigError
from keras_nn.models.base import FunctionalModel, check_positive_int, recompile_from_config
from keras_nn.models.registry import get_model_entry, register_model


def build_encoder(backbone, input_shape, backbone_arguments):
    """The registry backbone `backbone` as a feature extractor (`include_top=False, pooling="avg"`) named
    `encoder`; a backbone without a feature-extractor form raises `ConfigError`."""
    if backbone_arguments is not None and not isinstance(backbone_arguments, dict):
        raise ConfigError(f"backbone_arguments={backbone_arguments!r} must be a dict of create_model arguments")
    entry = get_model_entry(backbone)
    allowed = entry.allowed_arguments()
    if "include_top" not in allowed or "pooling" not in allowed:
        raise ConfigError(
            f"backbone={backbone!r} has no feature-extractor form (include_top=False, pooling='avg'); use an image "
            "backbone such as resnet18, resnet20_cifar, mobilenet_v2 or vgg11"
        )
    unknown = sorted(set(backbone_arguments or {}) - set(allowed))
    if unknown:
        raise ConfigError(
            f"backbone {backbone!r} does not take backbone_arguments {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )
    # create_model's own first argument is `name`; the entry's builder takes the model name.
    own = {"input_shape": input_shape, "include_top": False, "pooling": "avg", "name": "encoder"}
    return entry.builder(**{**entry.defaults, **(backbone_arguments or {}), **own})


def projection_head(width, hidden, layers, projection_dim):
    """SimCLR's MLP g: `layers - 1` of (Dense, batch norm, ReLU), then a Dense to `projection_dim`."""
    head = keras.Sequential(name="projection_head")
    head.add(keras.Input(shape=(width,)))
    for index in range(1, layers):
        head.add(keras.layers.Dense(hidden, use_bias=False, name=f"projection_dense{index}"))
        head.add(keras.layers.BatchNormalization(momentum=0.9, name=f"projection_bn{index}"))
        head.add(keras.layers.ReLU(name=f"projection_relu{index}"))
    head.add(keras.layers.Dense(projection_dim, name=f"projection_dense{layers}"))
    return head


@keras.saving.register_keras_serializable(package="keras_nn")
class SimCLR(FunctionalModel):
    """SimCLR: an encoder f (a registry backbone) and a projection head g trained with NT-Xent on two views.

    Each training example is a pair of augmented views of one image (`keras_nn.data.views.two_view_augmentation`).
    Both views go through the encoder, `h = f(x)` (global-average-pooled features), and the projection head,
    `z = g(h)`; `keras_nn.losses.NTXent` pulls each pair's projections together and pushes the other 2N - 2
    views of the batch away. After training the head is thrown away: the model's own graph is images -> `h`,
    which is what is evaluated (linear probe, k-NN) and exported.

    `fit` takes a dataset of `(view1, view2)` batches (the second view in the place of the labels). Logged:
    `loss` (NT-Xent) and `contrastive_accuracy` (how often a view's most similar other view is its positive,
    a 2N-1-way top-1 accuracy), with `val_` versions from validation pairs. `compile` takes the optimizer and
    the contrastive loss, `keras_nn.losses.NTXent(temperature)` (models sit below losses, so the training side
    hands the loss in, as for `Distiller`); a `.keras` file recompiles with it. The step is the stock Keras one
    with `compute_loss`, so it runs on every backend and under a `tf.distribute` strategy (each replica's
    negatives are the views on that replica; the paper gathers them, and its batch norm, over all replicas).

    Args:
        backbone: a registry name whose model takes `include_top=False, pooling="avg"` (`resnet18`,
            `resnet20_cifar`, `mobilenet_v2`, `vgg11`, ...).
        input_shape: `(height, width, channels)` of the images.
        projection_dim: width of the projection z (the paper: 128).
        projection_hidden: width of the head's hidden layers; None takes the encoder's feature width (the paper).
        projection_layers: Dense layers in the head (2 in SimCLR; SimCLRv2 uses 3).
        backbone_arguments: extra arguments of the backbone's `create_model` (e.g. `{"blocks": [1, 1, 1]}`).
        name: model name.

    Call arguments:
        images: `(batch, height, width, channels)` float images, as the data pipeline gives them ([0, 1]).
        training: the encoder's training mode (batch normalization).

    Returns:
        `(batch, features)` encoder features `h`.

    Example:
    >>> model = keras_nn.create_model("simclr", backbone="resnet20_cifar", input_shape=(32, 32, 3))
    >>> model.compile(optimizer="adam", loss=keras_nn.losses.NTXent(temperature=0.5))
    >>> model.fit(pairs, epochs=100)        # pairs: a dataset of (view1, view2) batches
    >>> features = model.predict(images)   # or model.encoder_model(), a plain feature extractor

    References:
        Chen, Kornblith, Norouzi & Hinton, "A Simple Framework for Contrastive Learning of Visual
        Representations", ICML 2020, https://arxiv.org/abs/2002.05709.
    """

    def __init__(
        self,
        backbone="resnet18",
        input_shape=(224, 224, 3),
        projection_dim=128,
        projection_hidden=None,
        projection_layers=2,
        backbone_arguments=None,
        name="simclr",
        **kwargs,
    ):
        arguments = dict(locals())
        check_positive_int("projection_dim", projection_dim)
        check_positive_int("projection_layers", projection_layers)
        if projection_hidden is not None:
            check_positive_int("projection_hidden", projection_hidden)
        encoder = build_encoder(backbone, input_shape, backbone_arguments)
        images = keras.Input(shape=tuple(encoder.inputs[0].shape[1:]), name="images")
        features = encoder(images)
        width = int(features.shape[-1])
        head = projection_head(width, projection_hidden or width, projection_layers, projection_dim)
        super().__init__(inputs=images, outputs=features, name=name, **kwargs)
        self._init_arguments(arguments)
        self.encoder = encoder
        self.projection_head = head
        self.feature_dim = width
        self.contrastive_accuracy_tracker = keras.metrics.Mean(name="contrastive_accuracy")

    def encoder_model(self):
        """The encoder f alone: images in, features `h` out (a functional model, what a task exports)."""
        return self.encoder

    def projections(self, images, training=False):
        """`z = g(f(images))`, `(batch, projection_dim)`."""
        return self.projection_head(self(images, training=training), training=training)

    def compile(self, optimizer="adam", loss=None, **kwargs):
        """`keras.Model.compile` with `loss` the contrastive loss, called as `loss(z1, z2)` and with a
        `logits(z1, z2)` method giving the `(2N, 2N)` logits and each view's positive (`NTXent` has both)."""
        if loss is None or not callable(getattr(loss, "logits", None)):
            raise ConfigError(
                f"SimCLR trains with a contrastive loss, not loss={loss!r}; compile it with "
                "loss=keras_nn.losses.NTXent(temperature=0.5)"
            )
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def compile_from_config(self, config):
        recompile_from_config(self, config)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # Keras unpacks a (view1, view2) batch as (x, y): y_pred is f(view1), the second view is `y`.
        first = self.projection_head(y_pred, training=training)
        second = self.projections(y, training=training)
        loss = self.loss(first, second, sample_weight=sample_weight)
        logits, positives = self.loss.logits(first, second)
        hits = ops.cast(ops.equal(ops.cast(ops.argmax(logits, axis=-1), "int32"), positives), "float32")
        self.contrastive_accuracy_tracker.update_state(hits)
        for extra in self.losses:
            # Regularization losses, summed as Keras' own compute_loss adds them (not through it: it would call the
            # compiled loss on (view2, features)).
            loss = loss + ops.sum(ops.cast(extra, "float32"))
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return self.get_metrics_result()


register_model(
    "simclr",
    SimCLR,
    family="self_supervised",
    description="SimCLR: a registry backbone + projection head trained with NT-Xent on two augmented views",
    paper="Chen et al. 2020, A Simple Framework for Contrastive Learning of Visual Representations",
)
