"""`Bidirectional`: runs a recurrent layer forwards and a copy of it backwards, and merges the two outputs."""

import keras
from keras import ops

from keras_nn.errors import ConfigError, ShapeError

MERGE_MODES = ("concat", "sum", "ave", "mul", None)


def _renamed(layer, prefix, **changes):
    """A fresh copy of `layer` (same config, new weights) named `prefix + name`, with config `changes`."""
    # From the layer's own config, not a serialize/deserialize round trip: inside `load_model`'s object-sharing
    # scope, serializing one layer twice (forward, then backward) marks it as shared by `id(layer)`, and once that
    # layer is freed a later layer can reuse its id and be handed the earlier Bidirectional's backward copy
    # (seen as "got True for both" on a loaded stacked bidirectional model).
    config = dict(layer.get_config())
    name = layer.name
    for old in ("forward_", "backward_"):
        if name.startswith(old):
            name = name[len(old) :]
    config["name"] = f"{prefix}{name}"
    config.update(changes)
    return type(layer).from_config(config)


@keras.saving.register_keras_serializable(package="keras_nn")
class Bidirectional(keras.layers.Layer):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges the two outputs.

    Works with the keras_nn layers and with Keras recurrent layers alike, and matches
    `keras.layers.Bidirectional` (same weights, in the same order: forward then backward). The backward
    output sequence is flipped back into input order before merging; with a mask, the sequence outputs are
    zero at masked steps (both layers get `zero_output_for_mask = return_sequences`, as in Keras).

    Args:
        layer: a recurrent layer (`keras_nn.layers.LSTM`, `keras.layers.GRU`, ...). It is copied from its
            config (fresh weights) into `forward_layer`.
        merge_mode: `"concat"`, `"sum"`, `"ave"`, `"mul"`, or None for a list `[forward, backward]`.
        weights: optional initial weights, as `get_weights()` lists them (the forward layer's, then the backward
            layer's: the first half goes to the forward layer), set when the layer is built. Not kept in the
            config (the weights are saved with the model).
        backward_layer: an optional layer for the backward direction (`go_backwards=True`, same
            `return_sequences`, `return_state` and `stateful` as `layer`); default: a copy of `layer`.
        **kwargs: `name`, `dtype`, `trainable`, ...

    Call arguments:
        sequences: `(batch, timesteps, features)`.
        initial_state: optional list: the forward layer's initial states then the backward layer's.
        mask: optional `(batch, timesteps)` booleans, False at padded steps.
        training: whether dropout applies.

    Returns:
        The merged output; with `return_state`, followed by the forward then the backward final states.

    Differences from `keras.layers.Bidirectional` (deliberate; `tests/layers/test_argument_coverage_rnn.py`
    pins them): `weights` is applied when the layer is built (Keras 3 stores it on the sublayers as
    `initial_weights`, which nothing reads, so there it has no effect). Arguments, call arguments, masks, the
    config and the merged outputs are Keras's; `from_config` loads a Keras config.

    Example:
    >>> layer = keras_nn.layers.Bidirectional(keras_nn.layers.LSTM(8, return_sequences=True))
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    (2, 5, 16)

    References:
        Schuster & Paliwal, "Bidirectional Recurrent Neural Networks", IEEE Trans. Signal Processing 1997.
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if merge_mode not in MERGE_MODES:
            raise ConfigError(
                f"Bidirectional: merge_mode={merge_mode!r} is not allowed; choose one of: "
                f"{', '.join(map(str, MERGE_MODES))}"
            )
        for candidate in (layer, backward_layer):
            if candidate is not None and not (
                isinstance(candidate, keras.layers.Layer) and hasattr(candidate, "go_backwards")
            ):
                raise ConfigError(
                    f"Bidirectional wraps a recurrent layer (with go_backwards, return_sequences); got {candidate!r}"
                )
        super().__init__(**kwargs)
        self.forward_layer = _renamed(layer, "forward_")
        if backward_layer is None:
            self.backward_layer = _renamed(layer, "backward_", go_backwards=True)
        else:
            self.backward_layer = backward_layer
        # A Keras LSTM/GRU's use_cudnn is not in its config, so the copies above lose it; keras.layers.
        # Bidirectional carries it over the same way.
        if hasattr(layer, "use_cudnn"):
            self.forward_layer.use_cudnn = self.backward_layer.use_cudnn = layer.use_cudnn
        if self.forward_layer.go_backwards == self.backward_layer.go_backwards:
            raise ConfigError(
                "Bidirectional: the forward and backward layers need different go_backwards; got "
                f"{self.forward_layer.go_backwards} for both"
            )
        for attribute in ("stateful", "return_sequences", "return_state"):
            forward, backward = (
                getattr(self.forward_layer, attribute),
                getattr(self.backward_layer, attribute),
            )
            if forward != backward:
                raise ConfigError(
                    f"Bidirectional: the forward and backward layers need the same {attribute}; got {forward} "
                    f"and {backward}"
                )
        for sublayer in (self.forward_layer, self.backward_layer):
            # Zero outputs at masked steps, so both directions agree on what padding gives (as Keras).
            if getattr(sublayer, "zero_output_for_mask", None) is not None:
                sublayer.zero_output_for_mask = sublayer.return_sequences
        self.merge_mode = merge_mode
        # Kept out of the tracked attributes: a list of arrays set once, at build.
        object.__setattr__(
            self, "_initial_weights", list(weights) if weights is not None and len(weights) else None
        )
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True

    def build(self, sequences_shape, initial_state_shape=None):
        if not self.forward_layer.built:
            self.forward_layer.build(sequences_shape)
        if not self.backward_layer.built:
            self.backward_layer.build(sequences_shape)
        if self._initial_weights is not None:
            half = len(self._initial_weights) // 2
            expected = len(self.forward_layer.weights) + len(self.backward_layer.weights)
            if len(self._initial_weights) != expected:
                raise ShapeError(
                    f"{self.name}: weights has {len(self._initial_weights)} arrays; the forward and backward layers "
                    f"hold {expected} (pass get_weights() of a Bidirectional of the same layer)"
                )
            self.forward_layer.set_weights(self._initial_weights[:half])
            self.backward_layer.set_weights(self._initial_weights[half:])
            object.__setattr__(self, "_initial_weights", None)

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        output_shape = self.forward_layer.compute_output_shape(sequences_shape)
        state_shapes = ()
        if self.return_state:
            output_shape, state_shapes = output_shape[0], tuple(output_shape[1:])
        if self.merge_mode == "concat":
            output_shape = (*output_shape[:-1], output_shape[-1] * 2)
        outputs = (output_shape, output_shape) if self.merge_mode is None else (output_shape,)
        if self.return_state:
            return outputs + state_shapes + state_shapes
        return outputs if self.merge_mode is None else output_shape

    def compute_mask(self, _, mask):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        masks = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            return masks + [None] * (2 * len(_state_count(self.forward_layer)))
        return masks if self.merge_mode is None else output_mask

    def call(self, sequences, initial_state=None, mask=None, training=None):
        kwargs = {"training": training, "mask": mask}
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = list(initial_state[:half]), list(initial_state[half:])
        y = self.forward_layer(sequences, initial_state=forward_state, **kwargs)
        y_reverse = self.backward_layer(sequences, initial_state=backward_state, **kwargs)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_reverse[1:])
            y, y_reverse = y[0], y_reverse[0]
        y = ops.cast(y, self.compute_dtype)
        y_reverse = ops.cast(y_reverse, self.compute_dtype)
        if self.return_sequences:
            y_reverse = ops.flip(y_reverse, axis=1)
        if self.merge_mode == "concat":
            output = ops.concatenate([y, y_reverse], axis=-1)
        elif self.merge_mode == "sum":
            output = y + y_reverse
        elif self.merge_mode == "ave":
            output = (y + y_reverse) / 2
        elif self.merge_mode == "mul":
            output = y * y_reverse
        else:
            output = (y, y_reverse)
        if self.return_state:
            return (output if isinstance(output, tuple) else (output,)) + states
        return output

    @property
    def states(self):
        forward, backward = (
            getattr(self.forward_layer, "states", None),
            getattr(self.backward_layer, "states", None),
        )
        return tuple(forward) + tuple(backward) if forward and backward else None

    def reset_state(self):
        if not self.stateful:
            raise ConfigError(f"{self.name}: reset_state() needs a stateful layer (stateful=True)")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self):
        self.reset_state()

    def get_config(self):
        return {
            **super().get_config(),
            "merge_mode": self.merge_mode,
            "layer": keras.saving.serialize_keras_object(self.forward_layer),
            "backward_layer": keras.saving.serialize_keras_object(self.backward_layer),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(
            config["layer"], custom_objects=custom_objects
        )
        config["backward_layer"] = keras.saving.deserialize_keras_object(
            config["backward_layer"], custom_objects=custom_objects
        )
        return cls(**config)


def _state_count(layer):
    cell = getattr(layer, "cell", None)
    size = getattr(cell, "state_size", getattr(layer, "state_size", 1))
    return list(size) if isinstance(size, (list, tuple)) else [size]
