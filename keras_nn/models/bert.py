"""BERT: a bidirectional Transformer encoder (`bert_encoder`) with a masked-language-model pretraining head
(`bert_masked_lm`) and a sentence classification head (`bert_classifier`), keras-hub `BertBackbone` style.
"""

import keras
from keras import ops

from keras_nn import layers
from keras_nn.errors import ConfigError
from keras_nn.models.base import FunctionalModel, check_positive_int, check_rate, classifier_head
from keras_nn.models.registry import register_model

# The arguments that define a BERT encoder; the task models take them too and pass them on.
_BACKBONE_ARGUMENTS = (
    "vocab_size",
    "num_layers",
    "hidden_dim",
    "num_heads",
    "intermediate_dim",
    "max_sequence_length",
    "num_segments",
    "dropout",
    "layer_norm_epsilon",
    "sequence_length",
)


def bert_initializer():
    """BERT's initializer: a normal of standard deviation 0.02 truncated at two deviations."""
    return keras.initializers.TruncatedNormal(stddev=0.02)


def check_transformer_arguments(
    hidden_dim, num_heads, max_sequence_length, sequence_length, dropout, **sizes
):
    """Validates the arguments a Transformer stack is built from: positive integer sizes, `hidden_dim` a
    multiple of `num_heads` (each head gets `hidden_dim // num_heads` features), a static `sequence_length`
    (or None) within `max_sequence_length`, and a dropout rate in [0, 1)."""
    for key, value in {
        "hidden_dim": hidden_dim,
        "num_heads": num_heads,
        "max_sequence_length": max_sequence_length,
        **sizes,
    }.items():
        check_positive_int(key, value)
    if hidden_dim % num_heads:
        raise ConfigError(
            f"hidden_dim={hidden_dim} is not divisible by num_heads={num_heads}; pick num_heads among the "
            f"divisors of hidden_dim (e.g. {', '.join(str(d) for d in range(1, 17) if hidden_dim % d == 0)})"
        )
    if sequence_length is not None and not 0 < sequence_length <= max_sequence_length:
        raise ConfigError(
            f"sequence_length={sequence_length!r} must be in [1, max_sequence_length={max_sequence_length}]; "
            "raise max_sequence_length or shorten the inputs"
        )
    check_rate("dropout", dropout)


@keras.saving.register_keras_serializable(package="keras_nn")
class BertEncoder(FunctionalModel):
    """The BERT encoder (backbone): token, learned position and segment embeddings summed, layer-normalized,
    then `num_layers` post-LN Transformer encoder blocks with GELU (its tanh approximation,
    `keras_nn.layers.gelu_approximate`, as in Google's BERT code and keras-hub's `BertBackbone`), and a pooler
    (`tanh` dense layer on the first, `[CLS]`, token).

    The defaults are BERT-base (uncased vocabulary): 12 layers, width 768, 12 heads, feed-forward 3072, 512
    positions, 2 segments: 109,482,240 parameters, the count of Hugging Face's `bert-base-uncased` `BertModel`
    (backbone with pooler). The count is embeddings (30522 + 512 + 2) x 768 plus their LayerNorm (1,536):
    23,837,184; per layer, Q/K/V/output projections with biases 4 x (768 x 768 + 768) = 2,362,368, the
    feed-forward 768 x 3072 + 3072 + 3072 x 768 + 768 = 4,722,432 and two LayerNorms 3,072: 7,087,872, times
    12 = 85,054,464; the pooler 768 x 768 + 768 = 590,592. The paper's "110M" rounds this figure. The
    masked-LM head (`BertMaskedLM`) adds its transform (590,592), LayerNorm (1,536) and output bias (30,522);
    its output projection is the token embedding, transposed (tied).

    Inputs are keras-hub's `BertBackbone` inputs; outputs a dict of `"sequence_output"` `[B, T, hidden_dim]`
    and `"pooled_output"` `[B, hidden_dim]`. The token embedding is a `keras.layers.ReversibleEmbedding`
    (`model.token_embedding`), so heads can project back onto the vocabulary with the same matrix. Every
    dense kernel and embedding table starts from TruncatedNormal(stddev=0.02), as in BERT and keras-hub.

    Args:
        vocab_size: token vocabulary size.
        num_layers: Transformer encoder blocks.
        hidden_dim: model width (embeddings and every block's output).
        num_heads: attention heads per block (`hidden_dim` must be divisible by it).
        intermediate_dim: width of the feed-forward layer of each block.
        max_sequence_length: positions the learned position embedding covers (the longest input).
        num_segments: segment (sentence A/B) types.
        dropout: dropout after the embeddings and inside every block (attention weights and residual
            branches).
        layer_norm_epsilon: epsilon of every LayerNorm (BERT's 1e-12).
        sequence_length: static input length (None: any length up to `max_sequence_length`); a fixed length
            gives export a static graph.
        name: model name.

    Call arguments:
        inputs: `{"token_ids": [B, T] int, "segment_ids": [B, T] int, "padding_mask": [B, T] int or bool (1 or
            True for real tokens)}`. Padded keys get zero attention weight.

    Example:
    >>> encoder = keras_nn.create_model("bert_encoder", vocab_size=100, num_layers=2, hidden_dim=32,
    ...                                 num_heads=2, intermediate_dim=64, max_sequence_length=16)
    >>> outputs = encoder({"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0})
    >>> outputs["sequence_output"].shape, outputs["pooled_output"].shape   # (B, T, 32), (B, 32)

    References:
        Devlin, Chang, Lee & Toutanova, "BERT: Pre-training of Deep Bidirectional Transformers for Language
        Understanding", NAACL 2019, https://arxiv.org/abs/1810.04805.
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017, https://arxiv.org/abs/1706.03762.
    """

    def __init__(
        self,
        vocab_size=30522,
        num_layers=12,
        hidden_dim=768,
        num_heads=12,
        intermediate_dim=3072,
        max_sequence_length=512,
        num_segments=2,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        sequence_length=None,
        name="bert_encoder",
        **kwargs,
    ):
        arguments = dict(locals())
        check_transformer_arguments(
            hidden_dim,
            num_heads,
            max_sequence_length,
            sequence_length,
            dropout,
            vocab_size=vocab_size,
            num_layers=num_layers,
            intermediate_dim=intermediate_dim,
            num_segments=num_segments,
        )
        token_ids = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
        segment_ids = keras.Input(shape=(sequence_length,), dtype="int32", name="segment_ids")
        padding_mask = keras.Input(shape=(sequence_length,), dtype="int32", name="padding_mask")

        token_embedding = keras.layers.ReversibleEmbedding(
            vocab_size, hidden_dim, embeddings_initializer=bert_initializer(), name="token_embedding"
        )
        tokens = token_embedding(token_ids)
        positions = layers.PositionEmbedding(
            max_sequence_length, initializer=bert_initializer(), name="position_embedding"
        )(tokens)
        segments = keras.layers.Embedding(
            num_segments, hidden_dim, embeddings_initializer=bert_initializer(), name="segment_embedding"
        )(segment_ids)
        x = keras.layers.Add(name="embeddings_add")([tokens, positions, segments])
        x = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="embeddings_layer_norm")(x)
        x = keras.layers.Dropout(dropout, name="embeddings_dropout")(x)
        keep = ops.cast(padding_mask, "bool")
        for index in range(num_layers):
            x = layers.TransformerEncoderBlock(
                num_heads,
                intermediate_dim,
                dropout=dropout,
                activation=layers.gelu_approximate,
                norm_first=False,
                layer_norm_epsilon=layer_norm_epsilon,
                kernel_initializer=bert_initializer(),
                name=f"transformer_layer_{index}",
            )(x, padding_mask=keep)
        pooled = keras.layers.Dense(
            hidden_dim, activation="tanh", kernel_initializer=bert_initializer(), name="pooled_dense"
        )(x[:, 0, :])
        super().__init__(
            inputs={"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask},
            outputs={"sequence_output": x, "pooled_output": pooled},
            name=name,
            **kwargs,
        )
        self._init_arguments(arguments)
        self.token_embedding = token_embedding


def _backbone(arguments):
    """The `BertEncoder` a task model is built around, from the task's own arguments."""
    return BertEncoder(**{key: arguments[key] for key in _BACKBONE_ARGUMENTS}, name="bert_encoder")


def _backbone_inputs(sequence_length):
    return {
        key: keras.Input(shape=(sequence_length,), dtype="int32", name=key)
        for key in ("token_ids", "segment_ids", "padding_mask")
    }


@keras.saving.register_keras_serializable(package="keras_nn")
class OutputBias(keras.layers.Layer):
    """Adds a learned bias, zero-initialized, to the last axis (the vocabulary bias of a tied output
    projection, which `keras.layers.ReversibleEmbedding` does not have).

    Args:
        **kwargs: `name`, `dtype`, ...

    Call arguments:
        inputs: `[..., units]`; returns `inputs + bias`.
    """

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="bias")

    def call(self, inputs):
        return inputs + ops.cast(self.bias, inputs.dtype)


@keras.saving.register_keras_serializable(package="keras_nn")
class BertMaskedLM(FunctionalModel):
    """BERT with its masked-language-model pretraining head: the encoder's sequence output gathered at
    `mask_positions`, a `gelu` dense transform, LayerNorm, and the token embedding transposed (tied weights) plus
    a vocabulary bias, giving float32 logits over the vocabulary at every masked position.

    Train with `SparseCategoricalCrossentropy(from_logits=True)` against the original token ids at the masked
    positions (keras-hub's `mask_ids`), weighting unused mask slots 0 (`sample_weight`). The encoder is
    `model.backbone`, a `BertEncoder`, whose weights a `BertClassifier` can start from
    (`classifier.backbone.set_weights(masked_lm.backbone.get_weights())`). Its pooler gets no gradient from
    this loss alone (the paper trains it with next-sentence prediction), which Keras warns about.

    Args:
        vocab_size, num_layers, hidden_dim, num_heads, intermediate_dim, max_sequence_length, num_segments,
        dropout, layer_norm_epsilon, sequence_length: the `BertEncoder`'s arguments (BERT-base by default).
        num_masks: static number of masked positions per example (None: any).
        name: model name.

    Call arguments:
        inputs: the `BertEncoder` inputs plus `"mask_positions"`: `[B, num_masks]` int positions to predict.
            Returns float32 logits `[B, num_masks, vocab_size]`.

    Example:
    >>> model = keras_nn.create_model("bert_masked_lm", vocab_size=100, num_layers=2, hidden_dim=32,
    ...                               num_heads=2, intermediate_dim=64, max_sequence_length=16)
    >>> logits = model({**encoder_inputs, "mask_positions": np.array([[1, 4]])})   # (1, 2, 100)

    References:
        Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
        NAACL 2019, https://arxiv.org/abs/1810.04805 (section 3.1, Task #1: Masked LM).
        Press & Wolf, "Using the Output Embedding to Improve Language Models", EACL 2017 (tied weights).
    """

    def __init__(
        self,
        vocab_size=30522,
        num_layers=12,
        hidden_dim=768,
        num_heads=12,
        intermediate_dim=3072,
        max_sequence_length=512,
        num_segments=2,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        sequence_length=None,
        num_masks=None,
        name="bert_masked_lm",
        **kwargs,
    ):
        arguments = dict(locals())
        if num_masks is not None:
            check_positive_int("num_masks", num_masks)
        backbone = _backbone(arguments)
        inputs = _backbone_inputs(sequence_length)
        mask_positions = keras.Input(shape=(num_masks,), dtype="int32", name="mask_positions")
        sequence = backbone(inputs)["sequence_output"]
        # [B, T, D] gathered at [B, M] -> [B, M, D]
        x = ops.take_along_axis(sequence, ops.expand_dims(mask_positions, -1), axis=1)
        x = keras.layers.Dense(
            hidden_dim, activation="gelu", kernel_initializer=bert_initializer(), name="mlm_transform"
        )(x)
        x = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="mlm_layer_norm")(x)
        x = backbone.token_embedding(x, reverse=True)
        # float32 bias and logits: a stable softmax and loss under mixed precision.
        logits = OutputBias(dtype="float32", name="mlm_logits")(x)
        super().__init__(
            inputs={**inputs, "mask_positions": mask_positions}, outputs=logits, name=name, **kwargs
        )
        self._init_arguments(arguments)
        self.backbone = backbone


@keras.saving.register_keras_serializable(package="keras_nn")
class BertClassifier(FunctionalModel):
    """BERT for sentence (or sentence-pair) classification: the encoder's pooled `[CLS]` output, dropout, and a
    dense layer to `num_classes` (the fine-tuning setup of the paper, section 4.1).

    Args:
        num_classes: number of classes.
        vocab_size, num_layers, hidden_dim, num_heads, intermediate_dim, max_sequence_length, num_segments,
        dropout, layer_norm_epsilon, sequence_length: the `BertEncoder`'s arguments (BERT-base by default);
            `dropout` also precedes the classifier.
        classifier_activation: `"softmax"` or None for logits.
        name: model name.

    Call arguments:
        inputs: the `BertEncoder` inputs. Returns `[B, num_classes]` (float32).

    Example:
    >>> model = keras_nn.create_model("bert_classifier", num_classes=3, vocab_size=100, num_layers=2,
    ...                               hidden_dim=32, num_heads=2, intermediate_dim=64, max_sequence_length=16)
    >>> model(encoder_inputs).shape   # (B, 3)

    References:
        Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
        NAACL 2019, https://arxiv.org/abs/1810.04805.
    """

    def __init__(
        self,
        num_classes=2,
        vocab_size=30522,
        num_layers=12,
        hidden_dim=768,
        num_heads=12,
        intermediate_dim=3072,
        max_sequence_length=512,
        num_segments=2,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        sequence_length=None,
        classifier_activation="softmax",
        name="bert_classifier",
        **kwargs,
    ):
        arguments = dict(locals())
        check_positive_int("num_classes", num_classes)
        backbone = _backbone(arguments)
        inputs = _backbone_inputs(sequence_length)
        pooled = backbone(inputs)["pooled_output"]
        outputs = classifier_head(pooled, num_classes, classifier_activation, dropout)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self._init_arguments(arguments)
        self.backbone = backbone


_PAPER = "Devlin et al., BERT, NAACL 2019"
register_model(
    "bert_encoder",
    BertEncoder,
    family="transformer",
    paper=_PAPER,
    description="BERT encoder (BERT-base defaults: 109,482,240 parameters); sequence and pooled outputs",
)
register_model(
    "bert_masked_lm",
    BertMaskedLM,
    family="transformer",
    paper=_PAPER,
    description="BERT with the masked-language-model pretraining head (tied output projection)",
)
register_model(
    "bert_classifier",
    BertClassifier,
    family="transformer",
    paper=_PAPER,
    description="BERT with a classification head on the pooled [CLS] output",
)
