import os

import keras
import numpy as np
import pytest
from testing_utils import run_model_test

import keras_nn
from keras_nn.errors import ConfigError
from keras_nn.models import BertClassifier, BertEncoder, BertMaskedLM

TINY = dict(
    vocab_size=30, num_layers=2, hidden_dim=16, num_heads=2, intermediate_dim=32, max_sequence_length=12
)
TOKEN_IDS = np.array([[2, 5, 9, 7, 3, 0, 0, 0], [2, 11, 4, 8, 6, 13, 3, 0]], "int32")
INPUTS = {
    "token_ids": TOKEN_IDS,
    "segment_ids": np.array([[0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1, 1, 0]], "int32"),
    "padding_mask": (TOKEN_IDS != 0).astype("int32"),
}
MASK_POSITIONS = np.array([[1, 3, 0], [2, 4, 5]], "int32")
MASK_IDS = np.array([[5, 7, 2], [4, 6, 13]], "int32")


def numpy(value):
    return keras.ops.convert_to_numpy(value)


def test_bert_base_has_the_published_parameter_count():
    # Hugging Face bert-base-uncased BertModel (with pooler): 109,482,240; the docstring derives it.
    assert keras_nn.create_model("bert_encoder").count_params() == 109_482_240


def test_head_parameter_counts():
    hidden, vocab = TINY["hidden_dim"], TINY["vocab_size"]
    backbone = BertEncoder(**TINY).count_params()
    # Transform dense, its LayerNorm and the vocabulary bias; the output projection is the tied embedding.
    assert BertMaskedLM(**TINY).count_params() == backbone + hidden * hidden + hidden + 2 * hidden + vocab
    assert BertClassifier(num_classes=3, **TINY).count_params() == backbone + hidden * 3 + 3


def test_encoder_outputs_and_round_trip(tmp_path):
    encoder = keras_nn.create_model("bert_encoder", **TINY)
    outputs = encoder(INPUTS)
    assert tuple(outputs["sequence_output"].shape) == (2, 8, 16)
    assert tuple(outputs["pooled_output"].shape) == (2, 16)
    path = os.path.join(tmp_path, "bert.keras")
    encoder.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded) is BertEncoder and reloaded.get_config() == encoder.get_config()
    for key, value in reloaded(INPUTS).items():
        np.testing.assert_allclose(numpy(value), numpy(outputs[key]), atol=1e-6)


def test_padding_is_invisible_to_real_tokens():
    encoder = BertEncoder(**TINY)
    changed = dict(INPUTS, token_ids=np.where(TOKEN_IDS == 0, 17, TOKEN_IDS))
    a, b = encoder(INPUTS), encoder(changed)
    real = TOKEN_IDS != 0
    np.testing.assert_allclose(
        numpy(a["sequence_output"])[real], numpy(b["sequence_output"])[real], atol=1e-5
    )
    np.testing.assert_allclose(numpy(a["pooled_output"]), numpy(b["pooled_output"]), atol=1e-5)
    # Without the mask the same change does reach the real tokens, so the check above is not vacuous.
    unmasked = dict(changed, padding_mask=np.ones_like(TOKEN_IDS))
    assert not np.allclose(numpy(encoder(unmasked)["pooled_output"]), numpy(a["pooled_output"]), atol=1e-5)


def test_masked_lm_head_is_tied_to_the_token_embedding():
    model = BertMaskedLM(**TINY)
    logits = numpy(model({**INPUTS, "mask_positions": MASK_POSITIONS}))
    assert logits.shape == (2, 3, TINY["vocab_size"]) and logits.dtype == np.float32
    # The head by hand: gather, gelu dense, LayerNorm, embedding transposed, bias.
    sequence = numpy(model.backbone(INPUTS)["sequence_output"])
    x = np.take_along_axis(sequence, MASK_POSITIONS[..., None], axis=1)
    x = numpy(model.get_layer("mlm_layer_norm")(model.get_layer("mlm_transform")(x)))
    model.get_layer("mlm_logits").bias.assign(np.linspace(-1, 1, TINY["vocab_size"]))
    expected = x @ numpy(model.backbone.token_embedding.embeddings).T + np.linspace(-1, 1, TINY["vocab_size"])
    np.testing.assert_allclose(
        numpy(model({**INPUTS, "mask_positions": MASK_POSITIONS})), expected, atol=1e-5
    )
    # One matrix: the embedding is the output projection.
    assert sum(v.shape == (TINY["vocab_size"], TINY["hidden_dim"]) for v in model.trainable_weights) == 1


def test_masked_lm_model_checks():
    # Includes: a few training steps lower the masked-LM loss, in eager and jit_compile=True modes. One encoder
    # layer (the smallest configuration): the stacked encoder is round-tripped in test_encoder_outputs_and_round_trip.
    run_model_test(
        lambda: BertMaskedLM(**{**TINY, "num_layers": 1}),
        {**INPUTS, "mask_positions": MASK_POSITIONS},
        expected_output_shape=(2, 3, TINY["vocab_size"]),
        targets=MASK_IDS,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        learning_rate=3e-3,
    )


def test_classifier_model_checks_and_backbone_transfer():
    model = run_model_test(
        lambda: keras_nn.create_model("bert_classifier", num_classes=3, **TINY),
        INPUTS,
        expected_output_shape=(2, 3),
        targets=np.array([0, 2]),
        learning_rate=3e-3,
        # The masked-LM checks above run the same backbone in float16 and under jit_compile.
        run_mixed_precision_check=False,
        run_jit_compile_check=False,
    )
    # Fine-tuning starts from a pretrained encoder: the backbones share one weight layout.
    pretrained = BertMaskedLM(**TINY, dropout=0.0)
    model.backbone.set_weights(pretrained.backbone.get_weights())
    np.testing.assert_allclose(
        numpy(model.backbone(INPUTS)["pooled_output"]),
        numpy(pretrained.backbone(INPUTS)["pooled_output"]),
        atol=1e-6,
    )


def test_bad_arguments():
    with pytest.raises(ConfigError, match="hidden_dim=16 is not divisible by num_heads=3"):
        BertEncoder(**{**TINY, "num_heads": 3})
    with pytest.raises(ConfigError, match="sequence_length=20"):
        BertEncoder(**TINY, sequence_length=20)
    with pytest.raises(ConfigError, match="num_masks"):
        BertMaskedLM(**TINY, num_masks=0)


def test_every_kernel_and_embedding_has_bert_initialisation():
    """BERT draws every dense kernel and embedding table from TruncatedNormal(stddev=0.02) (Devlin et al.
    2019, `initializer_range`; keras-hub `BertBackbone`'s `bert_kernel_initializer`), biases zero."""
    from models.initialisation_testing import check_initialisation

    keras.utils.set_random_seed(0)
    encoder = BertEncoder(
        vocab_size=300, num_layers=2, hidden_dim=32, num_heads=2, intermediate_dim=64, max_sequence_length=64
    )
    # 3 embeddings, 6 kernels a layer, the pooler.
    assert check_initialisation(encoder, {"default": 0.02}, truncated=True) == 3 + 6 * 2 + 1
