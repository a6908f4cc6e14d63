"""The deep autoencoder of Hinton & Salakhutdinov (2006): a stack of RBMs unrolled into encoder and decoder."""

import keras
from keras import ops

from keras_nn.layers.energy.rbm import UNIT_TYPES
from keras_nn.models.base import FunctionalModel, check_choice, check_input_shape, check_positive_int
from keras_nn.models.rbm_stack import check_layer_sizes, check_machines, copy_into_dense, stack_machines
from keras_nn.models.registry import register_model


@keras.saving.register_keras_serializable(package="keras_nn")
class DeepAutoencoder(FunctionalModel):
    """An encoder of sigmoid layers down to a linear code layer and its mirror-image decoder.

    Hinton & Salakhutdinov (2006) pretrain the encoder as a stack of RBMs (the top one with linear,
    unit-variance Gaussian hidden units: the code), then "unroll" it: the encoder takes each RBM's weights
    and hidden biases, the decoder the same weights transposed and the visible biases, so encoder and decoder
    start tied, and backpropagation of the reconstruction error fine-tunes them untied. On MNIST their
    784-1000-500-250-30 autoencoder reconstructs with a squared error of 3.00 per image against PCA's 13.87
    with 30 components, and its 2-D codes separate the digit classes where PCA's do not.

    `pretraining_machines()` gives the matching RBMs, `keras_nn.training.pretrain_greedily` trains them and
    `load_pretrained(machines)` unrolls them into this model. `encoder_model()` (inputs to codes) is what
    gets exported; `decoder_model()` maps codes back to inputs.

    Args:
        input_shape: shape of one example; flattened to the visible units, the reconstruction has this shape.
        hidden_units: sizes of the encoder's sigmoid layers, bottom first (the decoder mirrors them).
        code_units: size of the linear code layer.
        visible_type: `"bernoulli"` (data in [0, 1]: logistic output units, trained with cross-entropy as in
            the paper) or `"gaussian"` (standardized real data: linear output units, squared error).
        name: model name.

    Call arguments:
        inputs: `(batch, *input_shape)`.

    Returns:
        Reconstructions shaped like `inputs`.

    Example:
    >>> model = keras_nn.create_model("deep_autoencoder", input_shape=(64,), hidden_units=[128, 64], code_units=2)
    >>> machines = model.pretraining_machines(seed=0)
    >>> keras_nn.training.pretrain_greedily(machines, images, epochs=10, learning_rate=0.05)
    >>> model.load_pretrained(machines)
    >>> model.compile("adam", "binary_crossentropy"); model.fit(images, images)
    >>> codes = model.encoder_model().predict(images)

    References:
        Hinton & Salakhutdinov, "Reducing the Dimensionality of Data with Neural Networks", Science 313, 2006.
    """

    def __init__(
        self,
        input_shape=(784,),
        hidden_units=(1000, 500, 250),
        code_units=30,
        visible_type="bernoulli",
        name="deep_autoencoder",
        **kwargs,
    ):
        arguments = dict(locals())
        hidden_units = check_layer_sizes("deep_autoencoder", hidden_units)
        check_positive_int("code_units", code_units)
        check_choice("visible_type", visible_type, UNIT_TYPES)
        input_shape = check_input_shape(name, input_shape, rank=len(tuple(input_shape)))
        visible_units = 1
        for size in input_shape:
            visible_units *= size
        inputs = keras.Input(shape=input_shape, name="inputs")
        x = keras.layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
        for index, units in enumerate(hidden_units):
            x = keras.layers.Dense(units, activation="sigmoid", name=f"encoder_{index + 1}")(x)
        x = keras.layers.Dense(code_units, name="code")(x)
        for index, units in enumerate(reversed(hidden_units)):
            x = keras.layers.Dense(units, activation="sigmoid", name=f"decoder_{len(hidden_units) - index}")(x)
        output_activation = "sigmoid" if visible_type == "bernoulli" else None
        x = keras.layers.Dense(visible_units, activation=output_activation, dtype="float32", name="reconstruction")(x)
        outputs = keras.layers.Reshape(input_shape, name="unflatten")(x) if len(input_shape) > 1 else x
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self._init_arguments(arguments)
        self.hidden_units = hidden_units
        self.code_units = code_units
        self.visible_type = visible_type
        self.visible_units = visible_units

    @property
    def encoder_layers(self):
        """The encoder's dense layers, bottom first, the code layer last."""
        return [self.get_layer(f"encoder_{index + 1}") for index in range(len(self.hidden_units))] + [
            self.get_layer("code")
        ]

    @property
    def decoder_layers(self):
        """The decoder's dense layers mirrored to the encoder's: `decoder_layers[i]` undoes `encoder_layers[i]`
        (`decoder_layers[0]` is the output layer)."""
        return [self.get_layer("reconstruction")] + [
            self.get_layer(f"decoder_{index + 1}") for index in range(len(self.hidden_units))
        ]

    def encoder_model(self):
        """A `keras.Model` from the inputs to the codes, sharing this model's layers (what is exported)."""
        return keras.Model(self.inputs[0], self.get_layer("code").output, name=f"{self.name}_encoder")

    def decoder_model(self):
        """A `keras.Model` from codes to reconstructions, sharing this model's layers."""
        codes = keras.Input(shape=(self.code_units,), name="codes")
        x = codes
        for layer in reversed(self.decoder_layers):
            x = layer(x)
        outputs = ops.reshape(x, (-1, *self.input_shape[1:])) if len(self.input_shape) > 2 else x
        return keras.Model(codes, outputs, name=f"{self.name}_decoder")

    def pretraining_machines(self, seed=None, **options):
        """Fresh RBMs matching the encoder, bottom first; the top one has Gaussian (linear) hidden units, the
        code layer (`options`: `RestrictedBoltzmannMachine` training options)."""
        return stack_machines(
            self.input_shape[1:],
            (*self.hidden_units, self.code_units),
            self.visible_type,
            top_hidden_type="gaussian",
            seed=seed,
            **options,
        )

    def load_pretrained(self, machines):
        """Unrolls the RBMs: encoder layer `i` gets RBM `i`'s weights and hidden biases, decoder layer `i` the
        transposed weights and visible biases (tied at the start; fine-tuning unties them). `ShapeError` if the
        RBMs are of other sizes."""
        check_machines("deep_autoencoder", machines, (*self.hidden_units, self.code_units), self.visible_units)
        for encoder, decoder, machine in zip(self.encoder_layers, self.decoder_layers, machines, strict=True):
            rbm = machine.rbm
            copy_into_dense(encoder, rbm.kernel, rbm.hidden_bias)
            copy_into_dense(decoder, ops.transpose(rbm.kernel), rbm.visible_bias)


register_model(
    "deep_autoencoder",
    DeepAutoencoder,
    family="energy",
    description="RBM-pretrained deep autoencoder, encoder 784-1000-500-250-30 (linear code) and its mirror",
    paper="Hinton & Salakhutdinov 2006 (Science)",
)
