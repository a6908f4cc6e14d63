"""Recurrent sequence taggers: one label per step (named entities, parts of speech, fields of a date)."""

import keras

from keras_nn.models.base import FunctionalModel, check_choice, check_positive_int, check_rate
from keras_nn.models.recurrent_stack import KERAS_NN_RECURRENT_LAYERS, recurrent_stack, sequence_input
from keras_nn.models.registry import register_model


@keras.saving.register_keras_serializable(package="keras_nn")
class SequenceTagger(FunctionalModel):
    """A stack of (bidirectional) recurrent layers with a dense classifier at every step.

    The input is token ids (give `vocab_size`; an embedding with `mask_zero` comes first) or float features
    per step (give `input_shape`; steps whose features all equal `mask_value` are masked). Every recurrent
    layer returns its full sequence, so each step gets its own label. Padding is masked: the forward
    direction carries its state over padded steps and the backward direction starts at the last real step,
    so padding never changes the outputs at real steps.

    Args:
        num_classes: number of tags (id 0 may be reserved for padding by the data; it is an ordinary class
            to the model).
        input_shape: `(timesteps, features)` for float input (timesteps may be None). Leave None with
            `vocab_size`.
        vocab_size: vocabulary size for token input (0 is padding).
        sequence_length: length of token sequences (None for any length).
        embedding_dim: embedding width for token input.
        cell: `"lstm"`, `"gru"` or `"simple_rnn"`.
        units: hidden units of each recurrent layer (each direction).
        num_layers: stacked recurrent layers.
        bidirectional: read the sequence both ways (outputs concatenated); a tagger usually wants the words
            on both sides of each step.
        dropout: dropout on the inputs of each recurrent layer and before the classifier.
        mask_zero: mask token id 0 (token input).
        mask_value: mask float steps whose features all equal this value; None for no mask.
        classifier_activation: `"softmax"` or None for logits.
        name: model name.

    Call arguments:
        inputs: `(batch, timesteps)` int token ids or `(batch, timesteps, features)` floats.
        Returns `(batch, timesteps, num_classes)` tag probabilities (float32).

    Example:
    >>> model = keras_nn.create_model("lstm_tagger", vocab_size=100, num_classes=6, units=32)
    >>> model(np.array([[5, 8, 13, 0, 0]])).shape
    (1, 5, 6)

    References:
        Huang, Xu & Yu, "Bidirectional LSTM-CRF Models for Sequence Tagging", 2015,
        https://arxiv.org/abs/1508.01991.
        Graves & Schmidhuber, "Framewise phoneme classification with bidirectional LSTM", Neural Networks 2005.
    """

    def __init__(
        self,
        num_classes=2,
        input_shape=None,
        vocab_size=None,
        sequence_length=None,
        embedding_dim=64,
        cell="lstm",
        units=64,
        num_layers=1,
        bidirectional=True,
        dropout=0.0,
        mask_zero=True,
        mask_value=None,
        classifier_activation="softmax",
        name="sequence_tagger",
        **kwargs,
    ):
        arguments = dict(locals())
        check_positive_int("num_classes", num_classes)
        check_positive_int("units", units)
        check_positive_int("num_layers", num_layers)
        check_rate("dropout", dropout)
        check_choice("classifier_activation", classifier_activation, ["softmax", None])
        check_choice("cell", cell, list(KERAS_NN_RECURRENT_LAYERS[0]))
        inputs, x = sequence_input(
            name, input_shape, vocab_size, sequence_length, embedding_dim, mask_zero, mask_value
        )
        x = recurrent_stack(
            x,
            KERAS_NN_RECURRENT_LAYERS,
            cell,
            units,
            num_layers,
            bidirectional,
            return_sequences=True,
            dropout=dropout,
        )
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
        # Dense acts on the last axis, so it is applied at every step; float32 keeps mixed precision stable.
        outputs = keras.layers.Dense(
            num_classes, activation=classifier_activation, dtype="float32", name="tags"
        )(x)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self._init_arguments(arguments)
        self.num_classes = num_classes
        self.classifier_activation = classifier_activation


for _cell, _name in [("simple_rnn", "rnn_tagger"), ("lstm", "lstm_tagger"), ("gru", "gru_tagger")]:
    register_model(
        _name,
        SequenceTagger,
        family="recurrent",
        description=f"{_cell.upper().replace('SIMPLE_', '')} sequence tagger, one label per step (bidirectional, masking)",
        paper="Huang et al. 2015",
        cell=_cell,
    )
