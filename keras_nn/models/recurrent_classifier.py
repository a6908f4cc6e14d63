"""Recurrent sequence classifiers: SimpleRNN, LSTM and GRU stacks over token or feature sequences."""

import keras

from keras_nn.models.base import (
    FunctionalModel,
    check_choice,
    check_positive_int,
    check_rate,
    classifier_head,
)
from keras_nn.models.recurrent_stack import KERAS_RECURRENT_LAYERS, recurrent_stack, sequence_input
from keras_nn.models.registry import register_model


@keras.saving.register_keras_serializable(package="keras_nn")
class RecurrentClassifier(FunctionalModel):
    """A stack of recurrent layers read out at the last step, with a dropout + dense head.

    The input is either a float sequence `(timesteps, features)` (give `input_shape`) or token ids
    (give `vocab_size`; an embedding comes first). Padded steps are masked: token id 0 with `mask_zero`, or
    steps whose features all equal `mask_value` for float input, so padding never changes the prediction.
    All but the last recurrent layer return full sequences; `bidirectional` wraps each layer.

    Args:
        num_classes: number of classes.
        input_shape: `(timesteps, features)` for float input (timesteps may be None). Leave None with
            `vocab_size`.
        vocab_size: vocabulary size for token input (ids in `[0, vocab_size)`, 0 is padding).
        sequence_length: length of token sequences (None for any length).
        embedding_dim: embedding width for token input.
        cell: `"lstm"`, `"gru"` or `"simple_rnn"`.
        units: hidden units of each recurrent layer.
        num_layers: stacked recurrent layers.
        bidirectional: run each layer both ways and concatenate.
        dropout: dropout on the inputs of each recurrent layer and before the classifier.
        recurrent_dropout: dropout on the recurrent state (disables the cuDNN kernel on GPU).
        mask_zero: mask token id 0 (token input).
        mask_value: mask float steps whose features all equal this value (float input); None for no mask.
        classifier_activation: `"softmax"` or None for logits.
        name: model name.

    Call arguments:
        inputs: `(batch, timesteps, features)` floats or `(batch, timesteps)` int token ids.

    Example:
    >>> model = keras_nn.create_model("lstm_classifier", input_shape=(8, 8), num_classes=10,
    ...                               units=64, bidirectional=True)
    >>> model(np.zeros((2, 8, 8))).shape
    (2, 10)

    References:
        Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural Computation 1997.
        Cho et al., "Learning Phrase Representations using RNN Encoder-Decoder", 2014 (GRU),
        https://arxiv.org/abs/1406.1078.
        Schuster & Paliwal, "Bidirectional Recurrent Neural Networks", IEEE TSP 1997.
    """

    def __init__(
        self,
        num_classes=2,
        input_shape=None,
        vocab_size=None,
        sequence_length=None,
        embedding_dim=128,
        cell="lstm",
        units=128,
        num_layers=1,
        bidirectional=False,
        dropout=0.0,
        recurrent_dropout=0.0,
        mask_zero=True,
        mask_value=None,
        classifier_activation="softmax",
        name="recurrent_classifier",
        **kwargs,
    ):
        arguments = dict(locals())
        check_positive_int("num_classes", num_classes)
        check_positive_int("units", units)
        check_positive_int("num_layers", num_layers)
        check_choice("cell", cell, list(KERAS_RECURRENT_LAYERS[0]))
        check_rate("dropout", dropout)
        check_rate("recurrent_dropout", recurrent_dropout)
        check_choice("classifier_activation", classifier_activation, ["softmax", None])
        inputs, x = sequence_input(
            name, input_shape, vocab_size, sequence_length, embedding_dim, mask_zero, mask_value
        )
        x = recurrent_stack(
            x,
            KERAS_RECURRENT_LAYERS,
            cell,
            units,
            num_layers,
            bidirectional,
            return_sequences=False,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
        )
        outputs = classifier_head(x, num_classes, classifier_activation, dropout)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self._init_arguments(arguments)
        self.num_classes = num_classes
        self.classifier_activation = classifier_activation


for _cell, _model_name, _description in [
    ("simple_rnn", "rnn_classifier", "SimpleRNN sequence classifier (stacked, bidirectional, masking)"),
    ("lstm", "lstm_classifier", "LSTM sequence classifier (stacked, bidirectional, masking)"),
    ("gru", "gru_classifier", "GRU sequence classifier (stacked, bidirectional, masking)"),
]:
    register_model(
        _model_name,
        RecurrentClassifier,
        family="recurrent",
        description=_description,
        paper="Hochreiter & Schmidhuber 1997; Cho et al. 2014",
        cell=_cell,
    )
