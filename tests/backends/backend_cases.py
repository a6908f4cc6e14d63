"""Every registered model family and every public layer of keras_nn.layers, at the tiny configurations their own
tests use, as named checks that run on whichever Keras backend is loaded (tests/backends/run_backend_checks.py
runs them in a subprocess with KERAS_BACKEND=jax or torch).

Each case runs the shared checks of tests/testing_utils.py (output shape, config and `.keras` round trip, a few
training steps that lower the loss) or, for an inference-only layer or function, compares its outputs with the
hand-computed values its own test uses. Every kind of network (CNN, Transformer, recurrent, GAN, energy) trains
at least once in the backend's default compile; a layer that a model here trains, and a model too big to train
cheaply (Inception-v1, MobileNetV2), gets the forward, config and `.keras` checks with its outputs from `predict`
(one compiled program). Mixed precision runs on one model (BERT's masked LM: attention masks and softmax are
what float16 breaks first) to keep the subprocess short; the TensorFlow suite runs it everywhere.

Nothing here imports TensorFlow: the runner refuses it on the other backends, as on a machine without it.
"""

import copy
import os
import tempfile

import keras
import numpy as np
from keras import ops
from testing_utils import (
    assert_same_outputs,
    check_mixed_precision,
    check_serialization,
    check_training_lowers_loss,
)

import keras_nn
from keras_nn import layers
from keras_nn.losses import MaskedSparseCategoricalCrossentropy, NTXent, YoloLoss

RNG = np.random.default_rng(0)
LOGITS_LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
CASES = {}


def case(function):
    CASES[function.__name__] = function
    return function


def images(shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype="float32")


def check(build, inputs, expected_output_shape, targets=None, loss=None, mixed=False, learning_rate=1e-2,
          train=True):
    """`run_model_test`'s checks with one training check, compiled as Keras compiles by default on this backend
    (`jit_compile="auto"`: a jitted step on JAX, eager on PyTorch), which is what a user of the backend runs."""
    model = build()
    if train:
        # Eager calls, as the training check's own: their compiled operations serve it too.
        outputs = model(inputs, training=False)
        check_serialization(model, inputs)
        check_training_lowers_loss(build(), inputs, targets, loss, jit_compile="auto", learning_rate=learning_rate)
    else:
        outputs = check_serialization_predicted(model, inputs)
    assert tuple(outputs.shape) == tuple(expected_output_shape), (tuple(outputs.shape), expected_output_shape)
    if mixed:
        check_mixed_precision(build, inputs, targets, loss, reference=model)
    return model


def check_serialization_predicted(model, inputs):
    """`check_serialization`'s checks (config round trip; a `.keras` save and reload gives the same class, config,
    weights and outputs) with both models' outputs from `predict`, one compiled program each, where an eager call
    on JAX compiles every operation on its own (Inception-v1's first call, LLVM -O0: 11 CPU s eager, 1.7 s jitted).
    Returns the model's outputs."""
    batch_size = len(keras.tree.flatten(inputs)[0])
    reference = model.predict(inputs, batch_size=batch_size, verbose=0)
    config = model.get_config()
    assert model.__class__.from_config(copy.deepcopy(config)).get_config() == config
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    assert type(reloaded) is type(model), type(reloaded)
    for saved, loaded in zip(model.get_weights(), reloaded.get_weights(), strict=True):
        np.testing.assert_array_equal(loaded, saved)
    assert_same_outputs(reference, reloaded.predict(inputs, batch_size=batch_size, verbose=0))
    return reference


def check_layer(layer_cls, init_kwargs, inputs, expected_output_shape, **kwargs):
    """`run_layer_test` with `check`: the layer's config round trip, then the checks on a one-layer model."""
    layer = layer_cls(**init_kwargs)
    assert layer_cls.from_config(copy.deepcopy(layer.get_config())).get_config() == layer.get_config()

    def build():
        model_inputs = keras.Input(shape=inputs.shape[1:], dtype=str(inputs.dtype))
        return keras.Model(model_inputs, layer_cls(**init_kwargs)(model_inputs))

    return check(build, inputs, expected_output_shape, **kwargs)


# ---------------------------------------------------------------------------------------------- models: CNNs


@case
def simple_cnn():
    build = lambda: keras_nn.create_model("simple_cnn", num_classes=5, input_shape=(8, 8, 1), filters=(8, 16, 16))  # noqa: E731
    check(build, images((4, 8, 8, 1)), (4, 5))


@case
def lenet5():
    check(lambda: keras_nn.create_model("lenet5", num_classes=4, c3_connections="paper"), images((4, 32, 32, 1)),
          (4, 4), learning_rate=1e-3)


@case
def alexnet():
    check(lambda: keras_nn.create_model("alexnet", num_classes=5, input_shape=(63, 63, 3), filters=(8, 12, 16, 16, 12),
                                        fc_units=32, local_response_norm=True),
          images((4, 63, 63, 3)), (4, 5))


@case
def vgg():
    check(lambda: keras_nn.create_model("vgg11", num_classes=5, input_shape=(32, 32, 3), filters=(4, 8, 8, 16, 16),
                                        stage_convs=(1, 1, 1, 1, 1), fc_units=16, batch_norm=True),
          images((4, 32, 32, 3)), (4, 5))


@case
def resnet():
    check(lambda: keras_nn.create_model("resnet20_cifar", input_shape=(8, 8, 3), num_classes=5, blocks=(1, 1, 1),
                                        filters=(4, 8, 16), stem_filters=4, batch_norm_momentum=0.5),
          images((4, 8, 8, 3)), (4, 5))


@case
def inception_v1():
    check(lambda: keras_nn.create_model("inception_v1", num_classes=5, input_shape=(32, 32, 3)), images((4, 32, 32, 3)),
          (4, 5), train=False)  # its InceptionBlock and ConvBNAct train below; its step's compile takes minutes


@case
def mobilenet_v2():
    check(lambda: keras_nn.create_model("mobilenet_v2", alpha=0.35, num_classes=5, input_shape=(32, 32, 3)),
          images((4, 32, 32, 3)), (4, 5), train=False)  # as inception_v1


@case
def yolo():
    targets = np.zeros((2, 1, 1, 8), "float32")
    targets[:, 0, 0, :5] = [1.0, 0.5, 0.5, 0.3, 0.4]
    targets[:, 0, 0, 5] = 1.0
    check(lambda: keras_nn.create_model("yolo_tiny", num_classes=3, input_shape=(64, 64, 3),
                                        filters=(4, 4, 8, 8, 8, 8, 16, 8)),
          images((2, 64, 64, 3)), (2, 1, 1, 13), targets=targets, loss=YoloLoss(num_classes=3))


# ---------------------------------------------------------------------------------------- models: Transformers

BERT = dict(vocab_size=30, num_layers=1, hidden_dim=16, num_heads=2, intermediate_dim=32, max_sequence_length=12)
TOKEN_IDS = np.array([[2, 5, 9, 7, 3, 0, 0, 0], [2, 11, 4, 8, 6, 13, 3, 0]], "int32")
BERT_INPUTS = {
    "token_ids": TOKEN_IDS,
    "segment_ids": np.array([[0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1, 1, 0]], "int32"),
    "padding_mask": (TOKEN_IDS != 0).astype("int32"),
}


@case
def bert_encoder():
    model = keras_nn.create_model("bert_encoder", **BERT)
    outputs = model(BERT_INPUTS)
    assert tuple(outputs["sequence_output"].shape) == (2, 8, 16), outputs["sequence_output"].shape
    check_serialization(model, BERT_INPUTS)


@case
def bert_masked_lm():
    check(lambda: keras_nn.create_model("bert_masked_lm", **BERT),
          {**BERT_INPUTS, "mask_positions": np.array([[1, 3, 0], [2, 4, 5]], "int32")},
          (2, 3, 30), targets=np.array([[5, 7, 2], [4, 6, 13]], "int32"), loss=LOGITS_LOSS, learning_rate=3e-3,
          mixed=True)


@case
def bert_classifier():
    check(lambda: keras_nn.create_model("bert_classifier", num_classes=3, **BERT), BERT_INPUTS, (2, 3),
          targets=np.array([0, 2]), learning_rate=3e-3)


@case
def gpt_decoder():
    tokens = np.array([[3, 7, 1, 9, 4, 4, 12, 5], [8, 2, 2, 6, 15, 11, 0, 3]], "int32")
    model = check(lambda: keras_nn.create_model("gpt_decoder", vocab_size=20, num_layers=1, hidden_dim=16, num_heads=2,
                                                intermediate_dim=32, max_sequence_length=24),
                  tokens[:, :-1], (2, 7, 20), targets=tokens[:, 1:], loss=LOGITS_LOSS, learning_rate=3e-3)
    # The cached sampling loop (jax.jit on JAX): greedy decoding continues the prompt by one token per step.
    generated = ops.convert_to_numpy(model.generate(tokens[:, :3], max_new_tokens=3, temperature=0.0))
    assert generated.shape == (2, 6) and (generated[:, :3] == tokens[:, :3]).all(), generated


@case
def transformer_translator():
    source = np.array([[5, 9, 7, 12, 6, 0, 0], [4, 4, 8, 6, 11, 10, 5]], "int32")
    target_in = np.array([[1, 5, 7, 9, 4, 0], [1, 6, 6, 8, 4, 7]], "int32")
    target_out = np.array([[5, 7, 9, 4, 2, 0], [6, 6, 8, 4, 7, 2]], "int32")
    check(lambda: keras_nn.create_model("transformer_translator", source_vocab_size=13, target_vocab_size=10,
                                        shared_embeddings=False, num_layers=1, d_model=16, num_heads=2,
                                        intermediate_dim=32, max_length=9, dropout=0.1),
          {"source": source, "target_in": target_in}, (2, 6, 10), targets=target_out,
          loss=MaskedSparseCategoricalCrossentropy(label_smoothing=0.1))


@case
def vision_transformer():
    check(lambda: keras_nn.create_model("deit_tiny_distilled_patch16_224", num_classes=5, input_shape=(16, 16, 3),
                                        patch_size=4, hidden_dim=32, depth=2, num_heads=2, mlp_dim=64,
                                        drop_path_rate=0.1),
          images((4, 16, 16, 3)), (4, 5))


# -------------------------------------------------------------------------------------- models: recurrent


@case
def recurrent_classifier():
    check(lambda: keras_nn.create_model("lstm_classifier", vocab_size=12, sequence_length=5, embedding_dim=8, units=6,
                                        num_layers=2, bidirectional=True, num_classes=3),
          RNG.integers(1, 12, (2, 5)).astype("int32"), (2, 3))


@case
def forecaster():
    check(lambda: keras_nn.create_model("gru_forecaster", input_shape=(10, 1), horizon=3, units=4, num_layers=2,
                                        residual=False),
          images((3, 10, 1)), (3, 3, 1))


@case
def sequence_tagger():
    check(lambda: keras_nn.create_model("rnn_tagger", vocab_size=12, num_classes=4, embedding_dim=8, units=6),
          RNG.integers(1, 12, (2, 5)).astype("int32"), (2, 5, 4), targets=RNG.integers(0, 4, (2, 5)),
          loss="sparse_categorical_crossentropy")


@case
def seq2seq_attention():
    check(lambda: keras_nn.create_model("seq2seq_attention", source_vocab_size=13, target_vocab_size=10, source_length=7,
                                        target_length=5, embedding_dim=8, encoder_units=6, decoder_units=8,
                                        attention_units=5),
          {"source": np.array([[5, 9, 7, 12, 2, 0, 0], [4, 4, 8, 6, 11, 3, 2]], "int32"),
           "target_in": np.array([[1, 5, 7, 9, 0], [1, 6, 6, 8, 4]], "int32")},
          (2, 5, 10), targets=np.array([[5, 7, 9, 2, 0], [6, 6, 8, 4, 2]], "int32"), loss=LOGITS_LOSS)


@case
def language_model():
    tokens = RNG.integers(0, 11, (3, 7)).astype("int32")
    check(lambda: keras_nn.create_model("gru_language_model", vocab_size=11, embedding_dim=8, units=8, num_layers=1,
                                        tie_embeddings=True),
          tokens[:, :-1], (3, 6, 11), targets=tokens[:, 1:], loss=LOGITS_LOSS)


# ---------------------------------------------------------------------- models: energy, generative, self-supervised


@case
def deep_autoencoder():
    inputs = images((6, 8, 8, 1))
    check(lambda: keras_nn.create_model("deep_autoencoder", input_shape=(8, 8, 1), hidden_units=[12, 6], code_units=2),
          inputs, (6, 8, 8, 1), targets=inputs, loss="binary_crossentropy")


@case
def dbn():
    check(lambda: keras_nn.create_model("dbn", num_classes=3, input_shape=(8, 8, 1), hidden_units=[12, 6]),
          images((6, 8, 8, 1)), (6, 3))


@case
def rbm():
    # Contrastive divergence in its own train_step (a StatelessScope on JAX): fit lowers the reconstruction error.
    inputs = (images((32, 16)) > 0.5).astype("float32")
    model = keras_nn.create_model("rbm", input_shape=(16,), hidden_units=8, seed=0)
    check_serialization(model, inputs)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    before = model.evaluate(inputs, verbose=0)
    history = model.fit(inputs, epochs=5, batch_size=8, verbose=0, shuffle=False)
    after = model.evaluate(inputs, verbose=0)
    assert np.isfinite(history.history["loss"]).all() and after < before, (before, after)


DCGAN_TINY = dict(input_shape=(16, 16, 1), latent_dim=8, base_filters=8, seed=0)
DCGAN_REAL = np.random.default_rng(2).uniform(-1, 1, (8, 16, 16, 1)).astype("float32")
DCGAN_NOISE = np.random.default_rng(1).standard_normal((8, 8)).astype("float32")


def dcgan_step(weights=None, run_eagerly=False):
    """One DCGAN training step (SGD(0.5) for both networks) on fixed real images and a fixed latent batch, from
    `weights` (the model's own initialization if None): `(model, initial weights, logs)`. From the same weights,
    every backend's step must give TensorFlow's update (tests/backends/test_other_backends.py compares them)."""
    gan = keras_nn.create_model("dcgan", **DCGAN_TINY)
    if weights is not None:
        gan.set_weights(weights)
    initial = gan.get_weights()
    gan.compile(generator_optimizer=keras.optimizers.SGD(0.5), discriminator_optimizer=keras.optimizers.SGD(0.5),
                run_eagerly=run_eagerly)
    # The step's latent draw, fixed: the backends' random streams differ.
    gan.latent_batch = lambda batch_size: (ops.convert_to_tensor(DCGAN_NOISE), None)
    return gan, initial, gan.train_on_batch(DCGAN_REAL, return_dict=True)


@case
def dcgan():
    # The GAN's train_step on this backend's autodiff (keras_nn/models/dcgan_{jax,torch}.py), compiled as Keras
    # compiles by default here; it trains both networks, which get the forward, config and `.keras` checks.
    noise = RNG.normal(size=(4, 8)).astype("float32")
    check(lambda: keras_nn.models.DCGANGenerator(image_shape=(16, 16, 1), latent_dim=8, base_filters=8, seed=0),
          noise, (4, 16, 16, 1), train=False)
    check(lambda: keras_nn.models.DCGANDiscriminator(input_shape=(16, 16, 1), base_filters=8), images((4, 16, 16, 1)),
          (4, 1), train=False)
    gan, initial, logs = dcgan_step()
    assert gan.generate(3, seed=1).shape == (3, 16, 16, 1)
    assert np.isfinite([float(value) for value in logs.values()]).all(), logs
    # Every weight of both networks moved (SGD: each has a gradient; batch norm's moving statistics advanced).
    unchanged = [weight.path for weight, before in zip(gan.weights, initial, strict=True)
                 if np.array_equal(ops.convert_to_numpy(weight), before)]
    assert not unchanged, unchanged
    output = os.environ.get("BACKEND_CHECKS_OUTPUT")
    if output:
        np.savez(os.path.join(output, f"dcgan_step_{keras.backend.backend()}.npz"), *initial, *gan.get_weights(),
                 [float(logs["d_loss"]), float(logs["g_loss"])])
    # Discriminator-only steps on the same real and fake batches lower the discriminator's loss.
    gan.generator_optimizer.learning_rate.assign(0.0)
    gan.discriminator_optimizer.learning_rate.assign(0.05)
    losses = []
    for _ in range(5):
        gan.reset_metrics()
        losses.append(float(gan.train_on_batch(DCGAN_REAL, return_dict=True)["d_loss"]))
    assert losses[-1] < losses[0], losses
    assert int(gan.generator_optimizer.iterations) == int(gan.discriminator_optimizer.iterations) == 6


@case
def simclr():
    # The NT-Xent loss over two views is SimCLR's compute_loss: the stock train_step runs it on every backend.
    view1 = images((8, 16, 16, 1))
    view2 = np.clip(view1 + 0.05 * RNG.normal(size=view1.shape), 0, 1).astype("float32")
    model = keras_nn.create_model("simclr", backbone="resnet20_cifar", input_shape=(16, 16, 1), projection_dim=6,
                                  backbone_arguments={"filters": [4, 4, 8], "stem_filters": 4, "blocks": [1, 1, 1]})
    assert tuple(model(view1).shape) == (8, 8)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=NTXent(0.5))
    before = model.evaluate(view1, view2, verbose=0, return_dict=True)["loss"]
    for _ in range(6):
        model.train_on_batch(view1, view2)
    after = model.evaluate(view1, view2, verbose=0, return_dict=True)["loss"]
    assert np.isfinite(after) and after < before, (before, after)


# ---------------------------------------------------------------------------------------------------- layers


# A layer that one of the models above trains (on its backend's default compile) gets the forward, config and
# `.keras` checks here (train=False); the others train here as well.


@case
def conv_layers():
    # ConvBNAct trains in ResNet's stem and inside BottleneckBlock and InceptionBlock here.
    check_layer(layers.ConvBNAct, {"filters": 6, "kernel_size": 3, "dilation_rate": 2, "activation": "relu6"},
                images((4, 8, 8, 3)), (4, 8, 8, 6), train=False)
    check_layer(layers.ResidualBlock, {"filters": 8, "strides": 2, "shortcut": "zero_pad"},
                images((4, 8, 8, 4)), (4, 4, 4, 8), train=False)
    check_layer(layers.BottleneckBlock, {"filters": 4, "strides": 2, "stride_on": "3x3"},
                images((4, 8, 8, 8)), (4, 4, 4, 16))
    check_layer(layers.DepthwiseSeparableConv, {"filters": 6, "strides": 2, "padding": 1},
                images((4, 9, 9, 4)), (4, 5, 5, 6))
    check_layer(layers.InceptionBlock, {"filters_1x1": 4, "filters_3x3_reduce": 3, "filters_3x3": 5,
                                           "filters_5x5_reduce": 2, "filters_5x5": 3, "filters_pool_proj": 2},
                   images((4, 6, 6, 5)), (4, 6, 6, 14))


@case
def rnn_layers():
    sequences = images((2, 4, 3))
    check_layer(layers.SimpleRNN, {"units": 3}, sequences, (2, 3), train=False)
    check_layer(layers.LSTM, {"units": 3, "return_sequences": True}, sequences, (2, 4, 3), train=False)
    check_layer(layers.GRU, {"units": 3, "reset_after": False, "learnable_initial_state": True}, sequences, (2, 3),
                train=False)
    check_layer(layers.Bidirectional, {"layer": layers.GRU(3, return_sequences=True)}, sequences, (2, 4, 6), train=False)
    for cell in (layers.SimpleRNNCell(3), layers.LSTMCell(3), layers.GRUCell(3)):
        outputs = keras.layers.RNN(cell)(sequences)
        assert tuple(outputs.shape) == (2, 3)
    stack = layers.stacked_rnn("lstm", 3, num_layers=2)
    inputs = keras.Input((4, 3))
    x = inputs
    for layer in stack:
        x = layer(x)
    assert tuple(keras.Model(inputs, x)(sequences).shape) == (2, 3)


@case
def attention_layers():
    queries, values = RNG.normal(size=(3, 2, 4)).astype("float32"), RNG.normal(size=(3, 5, 4)).astype("float32")
    check_layer(layers.MultiHeadAttention, {"num_heads": 2, "key_dim": 4, "dropout": 0.1},
                RNG.normal(size=(2, 5, 8)).astype("float32"), (2, 5, 8), train=False)
    # seq2seq_attention trains Bahdanau's; Luong's trains here.
    for make_layer, train in ((lambda: layers.BahdanauAttention(4), False), (lambda: layers.LuongAttention("general"), True)):
        def build(make_layer=make_layer):
            query, value = keras.Input((2, 4)), keras.Input((5, 4))
            context, _ = make_layer()(keras.layers.Dense(4)(query), value)
            return keras.Model([query, value], context)

        check(build, [queries, values], (3, 2, 4), train=train)
    # Scaled dot-product attention with a causal mask, against the same product in numpy.
    q, k, v = (RNG.normal(size=(2, 3, 4)).astype("float32") for _ in range(3))
    mask = layers.merge_masks(padding_mask=layers.make_padding_mask(np.array([[1, 2, 0], [3, 4, 5]])),
                              causal_mask=layers.make_causal_mask(3))
    output, weights = layers.ScaledDotProductAttention()(q, k, v, mask=mask, return_attention_scores=True)
    expected_mask = np.tril(np.ones((3, 3), bool))[None] & np.array([[1, 1, 0], [1, 1, 1]], bool)[:, None, :]
    scores = np.where(expected_mask, q @ k.transpose(0, 2, 1) / 2.0, -np.inf)
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(ops.convert_to_numpy(weights), expected, atol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(output), expected @ v, atol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(layers.masked_softmax(ops.convert_to_tensor(scores[:, :, :2]))),
                               expected[:, :, :2] / expected[:, :, :2].sum(-1, keepdims=True), atol=1e-6)


@case
def transformer_layers():
    x = RNG.normal(size=(2, 6, 16)).astype("float32")
    check_layer(layers.TransformerEncoderBlock, {"num_heads": 2, "intermediate_dim": 32, "dropout": 0.1},
                x, (2, 6, 16), train=False)
    check_layer(layers.TransformerDecoderBlock, {"num_heads": 2, "intermediate_dim": 32, "cross_attention": False},
                x, (2, 6, 16), train=False)
    # BERT's and GPT-2's activation: the tanh form of GELU, by hand.
    expected = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(ops.convert_to_numpy(layers.gelu_approximate(ops.convert_to_tensor(x))), expected,
                               rtol=1e-5, atol=1e-6)


@case
def position_and_embedding_layers():
    features = RNG.normal(size=(2, 7, 6)).astype("float32")
    check_layer(layers.PositionEmbedding, {"sequence_length": 9}, features, (2, 7, 6), train=False)
    check_layer(layers.PatchPositionEmbedding, {"grid_size": [2, 3], "num_prefix_tokens": 1},
                   RNG.normal(size=(2, 7, 4)).astype("float32"), (2, 7, 4))

    def sinusoidal():
        inputs = keras.Input((7, 6))
        return keras.Model(inputs, keras.layers.Dense(6)(inputs + layers.SinusoidalPositionEncoding()(inputs)))

    check(sinusoidal, features, (2, 7, 6), train=False)

    def tied():
        tokens = keras.Input((None,), dtype="int32")
        embedding = layers.TiedEmbedding(11, 6, name="tied")
        return keras.Model(tokens, embedding(embedding(tokens), reverse=True))

    ids = RNG.integers(0, 11, (2, 4)).astype("int32")
    check(tied, ids, (2, 4, 11), targets=np.roll(ids, -1, axis=1), loss=LOGITS_LOSS, train=False)
    # The same grid gives the table back; a larger one keeps the prefix row.
    table = RNG.normal(size=(1 + 2 * 2, 3)).astype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(layers.resample_position_embedding(table, 2, 2)), table)
    resampled = ops.convert_to_numpy(layers.resample_position_embedding(table, 2, 4))
    assert resampled.shape == (17, 3)
    np.testing.assert_allclose(resampled[0], table[0])


@case
def vision_layers():
    check_layer(layers.PatchEmbedding, {"patch_size": 4, "hidden_dim": 8}, images((2, 16, 16, 3)), (2, 16, 8), train=False)
    tokens = RNG.normal(size=(3, 5, 8)).astype("float32")
    check_layer(layers.ClassToken, {}, tokens, (3, 6, 8), train=False)

    def pooled():
        inputs = keras.Input((5, 8))
        x = inputs + layers.DropPath(0.2, seed=0)(keras.layers.Dense(8)(inputs))
        return keras.Model(inputs, layers.TokenPooling("avg", num_prefix_tokens=2)(x))

    check(pooled, tokens, (3, 8), train=False)


@case
def energy_layers():
    check_layer(layers.RBM, {"units": 4, "seed": 0}, (images((8, 6)) > 0.5).astype("float32"), (8, 4), train=False)


@case
def detection_layers():
    check_layer(layers.YoloHead, {"boxes_per_cell": 2, "num_classes": 3}, images((2, 4, 4, 8)), (2, 4, 4, 13),
                train=False)
    # The hand-computed 2x2 grid of tests/layers/detection/test_yolo_decoder.py.
    grid = np.full((1, 2, 2, 13), 0.5, "float32")
    grid[..., 10:] = [0.2, 0.3, 0.5]
    grid[0, 1, 0, 0:5] = [0.5, 0.25, 0.5, 0.6, 0.8]
    grid[0, 1, 0, 10:] = [0.1, 0.7, 0.2]
    boxes, scores = layers.YoloDecoder(boxes_per_cell=2, num_classes=3)(grid)
    np.testing.assert_allclose(ops.convert_to_numpy(boxes)[0, 4], [0.125, 0.445, 0.375, 0.805], atol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(scores)[0, 4], [0.08, 0.56, 0.16], atol=1e-6)
    # Non-maximum suppression on the five candidates of tests/layers/detection/test_non_max_suppression.py.
    candidates = np.array([[0.0, 0.0, 0.5, 0.5], [0.02, 0.02, 0.52, 0.52], [0.01, 0.01, 0.51, 0.51],
                           [0.6, 0.6, 0.9, 0.9], [0.6, 0.6, 0.9, 0.9]], "float32")
    class_scores = np.array([[0.9, 0.05], [0.8, 0.1], [0.1, 0.7], [0.0, 0.6], [0.2, 0.1]], "float32")
    for agnostic, picks in ((False, [0, 2, 3]), (True, [0, 3])):
        result = layers.NonMaxSuppression(max_detections=6, class_agnostic=agnostic)((candidates[None], class_scores[None]))
        result = {key: ops.convert_to_numpy(value) for key, value in result.items()}
        assert int(result["count"][0]) == len(picks), result
        np.testing.assert_allclose(result["boxes"][0, :len(picks)], candidates[picks])
        np.testing.assert_array_equal(result["classes"][0, :len(picks)], class_scores[picks].argmax(-1))
    iou = ops.convert_to_numpy(layers.box_iou(candidates[:2], candidates[:2]))
    np.testing.assert_allclose(iou[0, 1], (0.48 * 0.48) / (0.25 + 0.25 - 0.48 * 0.48), rtol=1e-5)
    centers = layers.corners_to_center(candidates)
    np.testing.assert_allclose(ops.convert_to_numpy(layers.center_to_corners(centers)), candidates, atol=1e-6)
