"""Every registered model exports to TFLite (float32) and ONNX with builtin operators and runs there like Keras.

One tiny configuration per name in `TINY` (the registered structure, with small widths and inputs and, for the
ResNets, one block per stage: depth repeats the same blocks, and the full depths are counted in
tests/models/test_resnet.py); names whose tiny configurations build the same model (`SAME_AS`) are checked to
build it and exported once, by this file or by the test named in `EXPORTED_BY`. Batch norm's statistics are randomized, so a file that drops or misfolds them fails.
Models that `keras_nn.export` cannot take as they are (several inputs) are in
`EXCLUDED` with the reason and the test that exports them instead. `test_every_registered_model_is_covered`
fails when a model joins `list_models()` without joining one of the two tables.
"""

import functools

import numpy as np
import onnx
import pytest
from ai_edge_litert import schema_py_generated as tflite_schema
from testing_utils import randomize_batch_norm

import keras_nn
from keras_nn.errors import ConfigError
from keras_nn.export import to_onnx, to_tflite, verify

# Softmax or regression outputs of magnitude <= 2; the worst error measured over every file below (random
# weights and batch-norm statistics, seed 0) was 1.4e-06 (simclr's features); most files are within 2e-07.
TOLERANCE = 5e-6
RNG = np.random.default_rng(0)


def images(height, width, channels):
    return RNG.random((4, height, width, channels), dtype=np.float32)


def sequences(steps, features):
    return RNG.normal(size=(4, steps, features)).astype("float32")


def tokens(length, vocab_size):
    ids = RNG.integers(1, vocab_size, size=(4, length)).astype("int32")
    ids[:2, length // 2 :] = 0  # padded tails: masked steps are skipped in every runtime too
    return ids


SMALL_VGG = dict(num_classes=3, input_shape=(32, 32, 3), filters=(4, 4, 8, 8, 8), fc_units=16)
SMALL_RESNET = dict(
    num_classes=3, input_shape=(32, 32, 3), filters=(4, 4, 8, 8), stem_filters=4, blocks=(1, 1, 1, 1)
)
SMALL_CIFAR_RESNET = dict(
    num_classes=3, input_shape=(16, 16, 3), filters=(4, 4, 8), stem_filters=4, blocks=(1, 1, 1)
)
SMALL_SEQUENCE = dict(input_shape=(7, 3), units=5)
SMALL_TOKENS = dict(vocab_size=20, sequence_length=7, embedding_dim=4, units=5)

# name -> (create_model arguments, inputs). The recurrent families' richer configurations (stacked,
# bidirectional, SavedModel too) are in tests/models/test_recurrent_exports.py; these take the other input kind.
TINY = {
    "alexnet": (
        dict(num_classes=3, input_shape=(64, 64, 3), filters=(4, 8, 8, 8, 8), fc_units=16),
        images(64, 64, 3),
    ),
    "gpt_decoder": (
        dict(
            vocab_size=20,
            num_layers=1,
            hidden_dim=16,
            num_heads=2,
            intermediate_dim=32,
            max_sequence_length=8,
            sequence_length=8,
        ),
        RNG.integers(0, 20, size=(4, 8)).astype("int32"),
    ),
    # No width argument; with its auxiliary heads (65x65 is the smallest input they take), which training alone
    # uses: the files hold the main output alone (the aux model's graph-mode fit is in tests/models/test_inception.py).
    "inception_v1": (dict(num_classes=3, input_shape=(65, 65, 3), aux_heads=True), images(65, 65, 3)),
    "lenet5": (dict(num_classes=3), images(32, 32, 1)),
    "mobilenet_v2": (dict(num_classes=3, alpha=0.1, input_shape=(32, 32, 3)), images(32, 32, 3)),
    "simple_cnn": (
        dict(num_classes=3, input_shape=(8, 8, 1), filters=(4, 8, 8), dense_units=8),
        images(8, 8, 1),
    ),
    **{name: (SMALL_VGG, images(32, 32, 3)) for name in ("vgg11", "vgg13", "vgg16", "vgg19")},
    **{
        name: (SMALL_RESNET, images(32, 32, 3))
        for name in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
    },
    **{
        name: (SMALL_CIFAR_RESNET, images(16, 16, 3))
        for name in (
            "resnet20_cifar",
            "resnet32_cifar",
            "resnet44_cifar",
            "resnet56_cifar",
            "resnet110_cifar",
        )
    },
    "rnn_classifier": (dict(SMALL_TOKENS, num_classes=4), tokens(7, 20)),
    "lstm_classifier": (dict(SMALL_SEQUENCE, num_classes=4), sequences(7, 3)),
    "gru_classifier": (dict(SMALL_SEQUENCE, num_classes=4, bidirectional=True), sequences(7, 3)),
    "rnn_tagger": (dict(SMALL_SEQUENCE, num_classes=3), sequences(7, 3)),
    "lstm_tagger": (dict(SMALL_SEQUENCE, num_classes=3, bidirectional=False), sequences(7, 3)),
    "gru_tagger": (dict(SMALL_TOKENS, num_classes=3), tokens(7, 20)),
    # Logits at every step; the streaming step model's parity is in tests/models/test_language_model.py.
    "lstm_language_model": (dict(SMALL_TOKENS, num_layers=1), tokens(7, 20)),
    "gru_language_model": (dict(SMALL_TOKENS, embedding_dim=5, tie_embeddings=True), tokens(7, 20)),
    "lstm_forecaster": (dict(input_shape=(7, 3), horizon=3, units=5, num_layers=2), sequences(7, 3)),
    # The registered ViT/DeiT structure (and DeiT's drop path, off at inference) at 16x16 with patch 4, width 32,
    # depth 2: tests/models/test_vit_exports.py's SMALL, where the ViT and the distilled DeiT export (EXPORTED_BY).
    **{
        name: (
            dict(num_classes=5, input_shape=(16, 16, 3), patch_size=4, hidden_dim=32, depth=2, num_heads=2,
                 mlp_dim=64),
            images(16, 16, 3),
        )
        for name in (
            "vit_tiny_patch16_224",
            "vit_small_patch16_224",
            "vit_base_patch16_224",
            "deit_tiny_patch16_224",
            "deit_small_patch16_224",
            "deit_tiny_distilled_patch16_224",
            "deit_small_distilled_patch16_224",
            "deit_base_distilled_patch16_224",
        )
    },
    "gru_forecaster": (dict(input_shape=(7, 3), horizon=2, targets=[0, 2], units=5), sequences(7, 3)),
    # The detector's grid (decoding and NMS inside the exported file are the detector exporter's tests).
    "yolo_tiny": (dict(num_classes=3, input_shape=(64, 64, 3), filters=(4, 4, 4, 4, 8, 8, 8, 8)), images(64, 64, 3)),
    "yolo_mobilenet_v2": (
        dict(num_classes=3, input_shape=(32, 32, 3), backbone_arguments={"alpha": 0.1}, head_filters=[8]),
        images(32, 32, 3),
    ),
    **{
        f"yolo_{backbone}": (
            dict(num_classes=3, input_shape=(32, 32, 3), head_filters=[8], backbone_arguments=dict(
                filters=[4, 4, 8, 8], stem_filters=4, blocks=[1, 1, 1, 1])),
            images(32, 32, 3),
        )
        for backbone in ("resnet18", "resnet50")
    },
    # The energy family: the RBM's feature extractor, the unrolled DBN classifier, the whole autoencoder (its
    # encoder alone is what the autoencoder task exports: tests/training/tasks/test_autoencoder.py).
    "rbm": (dict(input_shape=(8, 8, 1), hidden_units=8), images(8, 8, 1)),
    "dbn": (dict(num_classes=3, input_shape=(8, 8, 1), hidden_units=[8, 4]), images(8, 8, 1)),
    "deep_autoencoder": (dict(input_shape=(8, 8, 1), hidden_units=[8, 4], code_units=2), images(8, 8, 1)),
    # The GAN exports as its (unconditional) generator: noise in, images out.
    "dcgan": (dict(input_shape=(16, 16, 1), latent_dim=8, base_filters=8), RNG.normal(size=(4, 8)).astype("float32")),
    # SimCLR's graph is images -> encoder features (the projection head only trains).
    "simclr": (
        dict(backbone="resnet20_cifar", input_shape=(16, 16, 3), projection_dim=4, backbone_arguments=dict(
            filters=[4, 4, 8], stem_filters=4, blocks=[1, 1, 1])),
        images(16, 16, 3),
    ),
}

SMALL_BERT = dict(
    vocab_size=20,
    num_layers=1,
    hidden_dim=8,
    num_heads=2,
    intermediate_dim=16,
    max_sequence_length=8,
    sequence_length=8,
)
SEVERAL_INPUTS = (
    "several inputs (token ids, segment ids, padding mask); keras_nn.export takes single-input models"
)
# name -> (tiny arguments, why it is not in TINY, where its export is tested: paths in main's tests/training/tasks/).
EXCLUDED = {
    "bert_encoder": (SMALL_BERT, SEVERAL_INPUTS, "nowhere yet: exporting it raises ConfigError (below)"),
    "bert_classifier": (
        dict(SMALL_BERT, num_classes=3),
        SEVERAL_INPUTS,
        "nowhere yet: raises ConfigError (below)",
    ),
    "bert_masked_lm": (
        dict(SMALL_BERT, num_masks=2),
        SEVERAL_INPUTS,
        "nowhere yet: raises ConfigError (below)",
    ),
    "seq2seq_attention": (
        dict(source_vocab_size=12, target_vocab_size=10, embedding_dim=4, encoder_units=4, decoder_units=4),
        "two inputs (source, shifted target); its task exports the greedy decoder",
        "tests/training/tasks/test_seq2seq.py::test_seq2seq_exports_to_every_runtime_with_parity",
    ),
    "transformer_translator": (
        dict(
            source_vocab_size=12,
            target_vocab_size=12,
            max_length=8,
            num_layers=1,
            d_model=8,
            num_heads=2,
            intermediate_dim=16,
        ),
        "two inputs (source, shifted target); its task exports the encoder and the decoding loop",
        "tests/training/tasks/test_translation.py::test_saved_model_translates_strings_like_the_python_path",
    ),
}

# Names whose tiny arguments override every argument their registrations differ in (the ResNets' depths, the
# ViTs' widths) build the same model as another name: test_names_sharing_a_tiny_model_build_the_same_one checks
# that their configs are equal, and only the name they share it with is exported.
SAME_AS = {
    "resnet34": "resnet18",
    **{name: "resnet50" for name in ("resnet101", "resnet152")},
    **{name: "resnet20_cifar" for name in ("resnet32_cifar", "resnet44_cifar", "resnet56_cifar", "resnet110_cifar")},
    **{name: "vit_tiny_patch16_224" for name in ("vit_small_patch16_224", "vit_base_patch16_224")},
    "deit_small_patch16_224": "deit_tiny_patch16_224",
    **{
        name: "deit_tiny_distilled_patch16_224"
        for name in ("deit_small_distilled_patch16_224", "deit_base_distilled_patch16_224")
    },
}

# Names exported with parity by a test that asserts more (randomized weights, every TFLite precision, the GELU
# and Erf operators, SavedModel too) from `create_model(name, **TINY[name][0])`: name -> that test's file.
EXPORTED_BY = {
    "vit_tiny_patch16_224": "tests/models/test_vit_exports.py",
    "deit_tiny_distilled_patch16_224": "tests/models/test_vit_exports.py",
}

# The quick run (`-m "not slow"`) exports one configuration of each kind of network: a plain CNN, a residual CNN,
# an LSTM classifier, a GRU tagger, a Transformer decoder; the full run exports
# every registered name (inception_v1 alone takes 20-57 s, TFLite conversion dominating).
QUICK = {"simple_cnn", "resnet20_cifar", "lstm_classifier", "gru_tagger", "gpt_decoder"}

BUILTIN_TFLITE_OPERATORS = {
    name for name in vars(tflite_schema.BuiltinOperator) if not name.startswith("_")
} - {"CUSTOM"}


def test_every_registered_model_is_covered():
    assert not set(TINY) & set(EXCLUDED)
    assert sorted([*TINY, *EXCLUDED]) == sorted(keras_nn.list_models())
    assert all(reason and where for _, reason, where in EXCLUDED.values())
    assert QUICK <= set(TINY) - set(SAME_AS)
    assert set(SAME_AS) <= set(TINY) and set(SAME_AS.values()) <= set(TINY) - set(SAME_AS)
    assert set(EXPORTED_BY) <= set(TINY) - set(SAME_AS) - QUICK


@functools.cache  # each shared model is built once for all the names that share it
def tiny_config(name):
    config = keras_nn.create_model(name, **TINY[name][0]).get_config()
    config.pop("name")
    return config


@pytest.mark.slow  # it stands for exports that run in the whole suite alone
@pytest.mark.parametrize("name", sorted(SAME_AS))
def test_names_sharing_a_tiny_model_build_the_same_one(name):
    assert tiny_config(name) == tiny_config(SAME_AS[name])


def onnx_node_domains(path):
    """The operator domain of every node, Loop and If bodies included ('' is the default ONNX domain)."""
    domains = set()

    def visit(graph):
        for node in graph.node:
            domains.add(node.domain)
            for attribute in node.attribute:
                for body in [attribute.g] if attribute.HasField("g") else list(attribute.graphs):
                    visit(body)

    visit(onnx.load(str(path)).graph)
    return domains


@pytest.mark.parametrize(
    "name",
    [name if name in QUICK else pytest.param(name, marks=pytest.mark.slow) for name in sorted(set(TINY) - set(SAME_AS) - set(EXPORTED_BY))],
)
def test_model_exports_to_tflite_and_onnx_with_parity(tmp_path, name):
    arguments, inputs = TINY[name]
    model = keras_nn.create_model(name, **arguments)
    randomize_batch_norm(model)  # a runtime that drops or misfolds batch norm shows in the outputs
    reference = np.asarray(model.predict(inputs, verbose=0))
    tflite = verify(model, to_tflite(model, tmp_path / "model.tflite"), inputs, reference=reference)
    onnx_report = verify(model, to_onnx(model, tmp_path / "model.onnx"), inputs, reference=reference)
    for report in (tflite, onnx_report):
        assert report["max_abs_error"] < TOLERANCE, report
        assert report["repeat_max_abs_diff"] == 0.0, report
        assert report["flex_operators"] == [], report
        assert report.get("top1_agreement", 1.0) == 1.0, report
    assert set(tflite["operators"]) <= BUILTIN_TFLITE_OPERATORS, tflite["operators"]
    assert onnx_node_domains(tmp_path / "model.onnx") <= {"", "ai.onnx"}


@pytest.mark.parametrize("name", sorted(EXCLUDED))
def test_excluded_models_are_refused_by_name(tmp_path, name):
    """The exclusion holds only while export refuses the model: when it learns to take several inputs, this
    fails and the model moves to TINY."""
    model = keras_nn.create_model(name, **EXCLUDED[name][0])
    for writer, file_name in ((to_tflite, "model.tflite"), (to_onnx, "model.onnx")):
        with pytest.raises(ConfigError, match=r"has \d inputs; export takes single-input models"):
            writer(model, tmp_path / file_name)
    assert not list(tmp_path.iterdir())
