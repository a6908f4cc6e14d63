"""What an export form needs from a recurrent layer: its directions, cells and weights (NumPy snapshots)."""

import dataclasses

import keras
import numpy as np

from keras_nn.export.rnn_forms.activations import activation_name


class UnsupportedRecurrentLayer(Exception):
    """A recurrent layer that has no export form; it is exported as it is (the reason says why)."""


@dataclasses.dataclass
class Direction:
    """One direction of a recurrent layer: its cell, weights (NumPy snapshots) and what it returns."""

    cell: str  # "lstm", "gru" or "simple_rnn"
    units: int
    kernel: np.ndarray  # (features, gates * units), Keras gate order
    recurrent_kernel: np.ndarray  # (units, gates * units)
    bias: np.ndarray  # (gates * units,), or (2, 3 units) for a GRU with reset_after
    activation: str | object  # a name, or the callable when it has none
    recurrent_activation: str | object | None
    reset_after: bool
    go_backwards: bool
    return_sequences: bool
    zero_output_for_mask: bool

    @property
    def num_states(self):
        return 2 if self.cell == "lstm" else 1

    def default_activations(self):
        """True for sigmoid gates and a tanh cell, the only activations of the fused and native operators."""
        return self.activation == "tanh" and self.recurrent_activation in ("sigmoid", None)


@dataclasses.dataclass
class RecurrentSpec:
    """What an export form needs from a recurrent layer: one or two directions and the merge of the two."""

    name: str
    directions: list
    merge_mode: str | None

    @property
    def return_sequences(self):
        return self.directions[0].return_sequences

    @property
    def output_width(self):
        units = self.directions[0].units
        return 2 * units if self.merge_mode == "concat" else units


def _keras_nn_recurrent():
    # Imported late: keras_nn.layers imports keras_nn.export-free code only, but keep export importable alone.
    from keras_nn import layers

    sequences = tuple(getattr(layers, name) for name in ("SimpleRNN", "LSTM", "GRU") if hasattr(layers, name))
    cells = {
        "lstm": getattr(layers, "LSTMCell", None),
        "gru": getattr(layers, "GRUCell", None),
        "simple_rnn": getattr(layers, "SimpleRNNCell", None),
    }
    return sequences, getattr(layers, "Bidirectional", None), cells


def is_recurrent_layer(layer):
    """True for Keras and keras-nn recurrent layers and their `Bidirectional` wrappers."""
    sequences, bidirectional, _ = _keras_nn_recurrent()
    classes = (keras.layers.RNN, keras.layers.Bidirectional, *sequences) + (
        (bidirectional,) if bidirectional else ()
    )
    return isinstance(layer, classes)


def recurrent_layers(model):
    """Every recurrent layer in `model` (nested models and layers included), outermost wrappers only."""
    found = []

    def visit(layer):
        for child in layer._flatten_layers(include_self=False, recursive=False):
            if is_recurrent_layer(child):
                found.append(child)
            else:
                visit(child)

    visit(model)
    return found


def _cell_type(cell):
    _, _, ours = _keras_nn_recurrent()
    for name, keras_class in (
        ("lstm", keras.layers.LSTMCell),
        ("gru", keras.layers.GRUCell),
        ("simple_rnn", keras.layers.SimpleRNNCell),
    ):
        if isinstance(cell, keras_class) or (ours[name] is not None and isinstance(cell, ours[name])):
            return name
    raise UnsupportedRecurrentLayer(f"cell {type(cell).__name__} is not an LSTM, GRU or SimpleRNN cell")


def _describe_direction(layer):
    for attribute in ("stateful", "return_state", "learnable_initial_state"):
        if getattr(layer, attribute, False):
            raise UnsupportedRecurrentLayer(f"{attribute}=True")
    cell = getattr(layer, "cell", None)
    if cell is None:
        raise UnsupportedRecurrentLayer(f"{type(layer).__name__} has no cell")
    kind = _cell_type(cell)
    if not cell.built:
        raise UnsupportedRecurrentLayer("the layer is not built")
    units = int(cell.units)
    gates = {"lstm": 4, "gru": 3, "simple_rnn": 1}[kind]
    reset_after = bool(getattr(cell, "reset_after", False)) if kind == "gru" else False
    bias = getattr(cell, "bias", None)
    if bias is None:
        bias = np.zeros((2, gates * units) if reset_after else (gates * units,), np.float32)
    return Direction(
        cell=kind,
        units=units,
        kernel=np.asarray(keras.ops.convert_to_numpy(cell.kernel), np.float32),
        recurrent_kernel=np.asarray(keras.ops.convert_to_numpy(cell.recurrent_kernel), np.float32),
        bias=np.asarray(keras.ops.convert_to_numpy(bias), np.float32),
        activation=activation_name(cell.activation),
        recurrent_activation=activation_name(getattr(cell, "recurrent_activation", None)),
        reset_after=reset_after,
        go_backwards=bool(layer.go_backwards),
        return_sequences=bool(layer.return_sequences),
        zero_output_for_mask=bool(getattr(layer, "zero_output_for_mask", False)),
    )


def describe_recurrent_layer(layer):
    """The `RecurrentSpec` of a recurrent layer, or `UnsupportedRecurrentLayer` naming why it has none."""
    if hasattr(layer, "forward_layer") and hasattr(layer, "backward_layer"):
        if layer.merge_mode not in ("concat", "sum", "ave", "mul"):
            raise UnsupportedRecurrentLayer(f"merge_mode={layer.merge_mode!r}")
        directions = [_describe_direction(layer.forward_layer), _describe_direction(layer.backward_layer)]
        merge_mode = layer.merge_mode
    else:
        directions, merge_mode = [_describe_direction(layer)], None
    return RecurrentSpec(layer.name, directions, merge_mode)
