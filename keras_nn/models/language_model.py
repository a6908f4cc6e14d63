"""Recurrent language models: an LSTM or GRU stack predicting the next token at every step."""

import keras
from keras import ops

from keras_nn import layers
from keras_nn.models.base import FunctionalModel, check_choice, check_positive_int, check_rate
from keras_nn.models.registry import register_model

CELLS = {"lstm": layers.LSTM, "gru": layers.GRU}


@keras.saving.register_keras_serializable(package="keras_nn")
class RecurrentLanguageModel(FunctionalModel):
    """A word- or character-level recurrent language model: embedding, stacked LSTM/GRU, softmax layer (logits).

    Token ids `(batch, time)` in, next-token logits `(batch, time, vocab_size)` out (float32, no softmax: train
    with `SparseCategoricalCrossentropy(from_logits=True)` against the inputs shifted by one). The recurrent
    layers run forward only, so the logits at step t depend on tokens 0..t alone, and the model streams: the
    export side's `keras_nn.export.streaming_model(model)` gives a one-token step model with the states in and
    out, and `step(tokens, states)` here runs the same step in Python for generation. Dropout follows Zaremba et
    al.: on the non-recurrent connections only (the embedding's output, between layers, before the softmax).

    With `tie_embeddings=True` the softmax layer is the embedding matrix transposed plus a bias (Press & Wolf
    2017; Inan et al. 2017): one `(vocab_size, embedding_dim)` variable instead of two, which both papers find
    lowers perplexity and which removes `vocab_size * embedding_dim` parameters. The last recurrent layer's
    output must then have the embedding's width: when `units != embedding_dim` a linear projection (no bias)
    from `units` to `embedding_dim` comes first, as in Press & Wolf's projection regularization (section 3),
    rather than refusing the configuration, so any recipe sizes can tie; when they are equal (Zaremba's and
    Inan's configurations) nothing is added.

    Args:
        vocab_size: vocabulary size (ids in `[0, vocab_size)`; id 0 is an ordinary token, no mask).
        sequence_length: length of the input windows; None for any length.
        embedding_dim: embedding width.
        units: hidden units of each recurrent layer.
        num_layers: stacked recurrent layers.
        cell: `"lstm"` or `"gru"` (keras-nn layers, the weight layout of Keras' own).
        dropout: dropout rate on the non-recurrent connections.
        tie_embeddings: use the embedding matrix (transposed) as the output layer.
        name: model name.

    Call arguments:
        inputs: `(batch, time)` int token ids.

    Returns:
        `(batch, time, vocab_size)` float32 logits; those at step t predict token t + 1.

    Example:
    >>> model = keras_nn.create_model("lstm_language_model", vocab_size=50, embedding_dim=16, units=32)
    >>> model(np.array([[3, 7, 1, 9]])).shape
    TensorShape([1, 4, 50])
    >>> logits, states = model.step(np.array([3]), model.initial_states(1))

    References:
        Mikolov et al., "Recurrent neural network based language model", Interspeech 2010.
        Zaremba, Sutskever & Vinyals, "Recurrent Neural Network Regularization", 2014,
        https://arxiv.org/abs/1409.2329.
        Press & Wolf, "Using the Output Embedding to Improve Language Models", EACL 2017,
        https://arxiv.org/abs/1608.05859.
        Inan, Khosravi & Socher, "Tying Word Vectors and Word Classifiers", ICLR 2017,
        https://arxiv.org/abs/1611.01462.
    """

    def __init__(
        self,
        vocab_size=10000,
        sequence_length=None,
        embedding_dim=256,
        units=512,
        num_layers=2,
        cell="lstm",
        dropout=0.0,
        tie_embeddings=False,
        name="recurrent_language_model",
        **kwargs,
    ):
        arguments = dict(locals())
        check_positive_int("vocab_size", vocab_size)
        if sequence_length is not None:
            check_positive_int("sequence_length", sequence_length)
        check_positive_int("embedding_dim", embedding_dim)
        check_positive_int("units", units)
        check_positive_int("num_layers", num_layers)
        check_choice("cell", cell, list(CELLS))
        check_rate("dropout", dropout)
        check_choice("tie_embeddings", tie_embeddings, [False, True])
        inputs = keras.Input(shape=(sequence_length,), dtype="int32", name="tokens")
        embedding = layers.TiedEmbedding(
            vocab_size, embedding_dim, tie_weights=True, use_bias=tie_embeddings, name="embedding"
        )
        x = embedding(inputs)
        recurrent = [
            CELLS[cell](units, return_sequences=True, dropout=dropout, name=f"{cell}_{index + 1}")
            for index in range(num_layers)
        ]
        for layer in recurrent:
            x = layer(x)
        x = keras.layers.Dropout(dropout, name="output_dropout")(x)
        projection = None
        if tie_embeddings:
            if units != embedding_dim:
                projection = keras.layers.Dense(embedding_dim, use_bias=False, name="projection")
                x = projection(x)
            output_layer = None
            outputs = embedding(x, reverse=True)
        else:
            # float32 logits: mixed-precision training keeps a stable softmax and loss.
            output_layer = keras.layers.Dense(vocab_size, dtype="float32", name="logits")
            outputs = output_layer(x)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self._init_arguments(arguments)
        self.vocab_size = vocab_size
        self.token_embedding = embedding
        self.recurrent_layers = recurrent
        self.projection = projection
        self.output_layer = output_layer

    def initial_states(self, batch_size=1):
        """Zero states for `step`: a list per recurrent layer (`[h, c]` for an LSTM, `[h]` for a GRU)."""
        return [layer.cell.get_initial_state(batch_size) for layer in self.recurrent_layers]

    def step(self, tokens, states=None):
        """One token per sequence in, next-token logits and the new states out (generation without re-reading
        the prefix).

        Args:
            tokens: `(batch,)` int ids.
            states: what `initial_states` or the previous `step` returned (None: zeros).

        Returns:
            `(logits, states)`: float32 logits `(batch, vocab_size)` and the new states. Feeding a sequence one
            token at a time gives the model's whole-sequence logits at every step.
        """
        tokens = ops.convert_to_tensor(tokens, dtype="int32")
        if states is None:
            states = self.initial_states(ops.shape(tokens)[0])
        x = self.token_embedding(tokens)
        new_states = []
        for layer, layer_states in zip(self.recurrent_layers, states, strict=True):
            x, layer_new = layer.cell(x, list(layer_states))
            new_states.append(list(layer_new))
        if self.projection is not None:
            x = self.projection(x)
        logits = self.token_embedding(x, reverse=True) if self.output_layer is None else self.output_layer(x)
        return logits, new_states


for _cell, _paper in [("lstm", "Zaremba et al. 2014"), ("gru", "Cho et al. 2014; Mikolov et al. 2010")]:
    register_model(
        f"{_cell}_language_model",
        RecurrentLanguageModel,
        family="language_model",
        description=f"{_cell.upper()} language model: next-token logits at every step (optional tied embeddings)",
        paper=_paper,
        cell=_cell,
    )
