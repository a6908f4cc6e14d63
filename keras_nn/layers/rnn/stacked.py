"""`stacked_rnn`: a stack of recurrent layers (optionally bidirectional), each feeding the next its sequence."""

import keras

from keras_nn.errors import ConfigError
from keras_nn.layers.rnn.bidirectional import Bidirectional
from keras_nn.layers.rnn.gru import GRU
from keras_nn.layers.rnn.lstm import LSTM
from keras_nn.layers.rnn.simple_rnn import SimpleRNN

CELL_TYPES = ("simple_rnn", "lstm", "gru")

_SEQUENCE_CLASSES = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}


def stacked_rnn(
    cell_type,
    units,
    num_layers=1,
    bidirectional=False,
    return_sequences=False,
    merge_mode="concat",
    name=None,
    **layer_kwargs,
):
    """A stack of recurrent layers, each feeding the next its full output sequence.

    Args:
        cell_type: `"simple_rnn"`, `"lstm"`, `"gru"`, or a layer class taking `units` (`keras_nn.layers.LSTM`,
            `keras.layers.GRU`, ...).
        units: units of every layer, or a list with one entry per layer.
        num_layers: number of layers.
        bidirectional: wrap each layer in `Bidirectional`.
        return_sequences: whether the last layer returns every step (the others always do).
        merge_mode: `Bidirectional` merge mode.
        name: prefix of the layer names: `{name}_1`, `{name}_2`, ... (wrappers `bidirectional_{name}_1`, ...);
            default: Keras's automatic names.
        **layer_kwargs: passed to every layer (`dropout`, `recurrent_dropout`, `learnable_initial_state`,
            `reset_after`, ...).

    Returns:
        A list of layers; call them in order, or pass the list to `keras.Sequential`.

    Example:
    >>> layers = keras_nn.layers.stacked_rnn("lstm", 32, num_layers=2, bidirectional=True)
    >>> keras.Sequential(layers)(np.zeros((2, 5, 3), "float32")).shape
    (2, 64)
    """
    if isinstance(cell_type, str):
        if cell_type not in _SEQUENCE_CLASSES:
            raise ConfigError(
                f"cell_type={cell_type!r} is not allowed; choose one of: {', '.join(CELL_TYPES)}"
            )
        layer_class = _SEQUENCE_CLASSES[cell_type]
    elif isinstance(cell_type, type) and issubclass(cell_type, keras.layers.Layer):
        layer_class = cell_type
    else:
        raise ConfigError(f"cell_type={cell_type!r} must be one of {', '.join(CELL_TYPES)} or a layer class")
    if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 1:
        raise ConfigError(f"num_layers={num_layers!r} must be a positive integer")
    units_list = list(units) if isinstance(units, (list, tuple)) else [units] * num_layers
    if len(units_list) != num_layers:
        raise ConfigError(
            f"units={units!r} has {len(units_list)} entries for num_layers={num_layers}; give one per layer"
        )

    layers = []
    for index, layer_units in enumerate(units_list):
        last = index == num_layers - 1
        layer_name = None if name is None else f"{name}_{index + 1}"
        layer = layer_class(
            layer_units, return_sequences=return_sequences if last else True, name=layer_name, **layer_kwargs
        )
        if bidirectional:
            wrapper_name = None if name is None else f"bidirectional_{name}_{index + 1}"
            layer = Bidirectional(layer, merge_mode=merge_mode, name=wrapper_name)
        layers.append(layer)
    return layers
