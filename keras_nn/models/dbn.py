"""The deep belief net: a stack of RBMs pretrained greedily, unrolled into a feed-forward classifier."""

import keras

from keras_nn.layers.energy.rbm import UNIT_TYPES
from keras_nn.models.base import (
    FunctionalModel,
    check_choice,
    check_input_shape,
    check_positive_int,
    check_rate,
)
from keras_nn.models.rbm_stack import check_layer_sizes, check_machines, copy_into_dense, stack_machines
from keras_nn.models.registry import register_model


@keras.saving.register_keras_serializable(package="keras_nn")
class DeepBeliefNetwork(FunctionalModel):
    """A deep belief net as the classifier it becomes: sigmoid layers of `hidden_units`, then a softmax layer.

    Hinton, Osindero & Teh (2006) train a DBN one layer at a time: an RBM on the data, a second RBM on the
    first one's hidden probabilities, and so on, each layer a better model of the data's features; the
    stack's weights then initialize a feed-forward net that backpropagation fine-tunes (their 784-500-500-2000
    net reaches 1.2% error on MNIST so fine-tuned). This model is that feed-forward net. `pretraining_machines()`
    gives the RBMs of matching sizes, `keras_nn.training.pretrain_greedily` trains them, and
    `load_pretrained(machines)` copies each RBM's weights and hidden biases into the layer it initializes;
    training the model with `fit` is then the fine-tuning. Without pretraining it is the same net from a
    random start (the baseline pretraining is measured against).

    Args:
        num_classes: number of classes.
        input_shape: shape of one example; flattened to the visible units.
        hidden_units: sizes of the sigmoid layers (the RBMs' hidden layers), bottom first.
        visible_type: unit type of the first RBM's visible layer: `"bernoulli"` for data in [0, 1],
            `"gaussian"` for standardized real values.
        dropout: dropout rate before each dense layer during fine-tuning.
        classifier_activation: `"softmax"` or `None` (logits).
        name: model name.

    Call arguments:
        inputs: `(batch, *input_shape)`.

    Example:
    >>> model = keras_nn.create_model("dbn", input_shape=(64,), hidden_units=[128, 128], num_classes=10)
    >>> machines = model.pretraining_machines(seed=0, persistent=True)
    >>> keras_nn.training.pretrain_greedily(machines, images, epochs=10, learning_rate=0.05)
    >>> model.load_pretrained(machines)
    >>> model.compile("adam", "sparse_categorical_crossentropy"); model.fit(images, labels)

    References:
        Hinton, Osindero & Teh, "A Fast Learning Algorithm for Deep Belief Nets", Neural Computation 2006.
        Bengio, Lamblin, Popovici & Larochelle, "Greedy Layer-Wise Training of Deep Networks", NIPS 2006.
    """

    def __init__(
        self,
        num_classes=10,
        input_shape=(784,),
        hidden_units=(500, 500, 2000),
        visible_type="bernoulli",
        dropout=0.0,
        classifier_activation="softmax",
        name="dbn",
        **kwargs,
    ):
        arguments = dict(locals())
        check_positive_int("num_classes", num_classes)
        hidden_units = check_layer_sizes("dbn", hidden_units)
        check_choice("visible_type", visible_type, UNIT_TYPES)
        check_choice("classifier_activation", classifier_activation, ["softmax", None])
        check_rate("dropout", dropout)
        input_shape = check_input_shape(name, input_shape, rank=len(tuple(input_shape)))
        inputs = keras.Input(shape=input_shape, name="inputs")
        x = keras.layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
        for index, units in enumerate(hidden_units):
            if dropout:
                x = keras.layers.Dropout(dropout, name=f"dropout_{index + 1}")(x)
            x = keras.layers.Dense(units, activation="sigmoid", name=f"hidden_{index + 1}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name="head_dropout")(x)
        outputs = keras.layers.Dense(num_classes, activation=classifier_activation, dtype="float32", name="predictions")(x)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self._init_arguments(arguments)
        self.num_classes = num_classes
        self.classifier_activation = classifier_activation
        self.hidden_units = hidden_units
        self.visible_type = visible_type

    @property
    def hidden_layers(self):
        """The sigmoid layers, bottom first (each initialized by one RBM)."""
        return [self.get_layer(f"hidden_{index + 1}") for index in range(len(self.hidden_units))]

    def pretraining_machines(self, seed=None, **options):
        """Fresh RBMs matching the hidden layers, bottom first (`options`: `RestrictedBoltzmannMachine`
        training options such as `cd_steps`, `persistent`, `weight_decay`)."""
        return stack_machines(self.input_shape[1:], self.hidden_units, self.visible_type, seed=seed, **options)

    def load_pretrained(self, machines):
        """Initializes each hidden layer from its RBM: kernel `W`, bias the RBM's hidden bias (the classifier
        layer keeps its own initialization). `ShapeError` if the RBMs are of other sizes."""
        visible_units = self.hidden_layers[0].kernel.shape[0]
        check_machines("dbn", machines, self.hidden_units, visible_units)
        for layer, machine in zip(self.hidden_layers, machines, strict=True):
            copy_into_dense(layer, machine.rbm.kernel, machine.rbm.hidden_bias)


register_model(
    "dbn",
    DeepBeliefNetwork,
    family="energy",
    description="deep belief net unrolled into a classifier (784-500-500-2000-10), pretrained as a stack of RBMs",
    paper="Hinton, Osindero & Teh 2006",
)
