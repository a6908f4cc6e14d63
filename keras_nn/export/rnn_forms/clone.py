"""The export layer that runs a recurrent layer in its export form, and the model clone that swaps it in."""

import dataclasses

import keras
import tensorflow as tf

from keras_nn.errors import ConfigError
from keras_nn.export.rnn_forms.fused_lstm import fused_lstm_eligible, lstm_cell_peak, run_fused_lstm
from keras_nn.export.rnn_forms.lean_loop import run_lean_loop
from keras_nn.export.rnn_forms.native_onnx import native_onnx_eligible, run_native_onnx
from keras_nn.export.rnn_forms.spec import (
    UnsupportedRecurrentLayer,
    describe_recurrent_layer,
    is_recurrent_layer,
    recurrent_layers,
)

# The forms `export_form_model` builds for each target ("auto" and "layer" are resolved before it).
CONVERTER_FORMS = {"tflite": ("fused", "loop"), "onnx": ("native",)}


def _merge(outputs, spec):
    if len(outputs) == 1:
        return outputs[0]
    forward, backward = outputs
    if spec.return_sequences:
        backward = tf.reverse(backward, [1])
    if spec.merge_mode == "concat":
        return tf.concat([forward, backward], axis=-1)
    if spec.merge_mode == "sum":
        return forward + backward
    if spec.merge_mode == "ave":
        return (forward + backward) / 2.0
    return forward * backward


class ExportRecurrent(keras.layers.Layer):
    """A recurrent layer's export form: the original layer's weights in the graph a converter runs fastest.

    Built by `export_form_model`; never trained or saved. Inputs with a mask, or an `initial_state`, make a
    form that cannot take them fall back (the fused and native forms to the loop; an initial state to the
    original layer); `used_form` records what the last trace used, for reports.

    Args:
        original: the recurrent layer (`keras.layers.LSTM`, `keras_nn.layers.Bidirectional`, ...).
        target: `"tflite"` or `"onnx"`.
        form: `"fused"` or `"loop"` for TFLite, `"native"` for ONNX.
    """

    def __init__(self, original, target, form, **kwargs):
        self.spec = describe_recurrent_layer(original)
        super().__init__(name=original.name, **kwargs)
        self.original = original
        self.target = target
        self.form = form
        self.used_form = None
        self.supports_masking = True

    def compute_output_shape(self, input_shape, *args, **kwargs):
        batch, steps = input_shape[0], input_shape[1]
        width = self.spec.output_width
        return (batch, steps, width) if self.spec.return_sequences else (batch, width)

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        return mask if self.spec.return_sequences else None

    def _direction_form(self, direction, mask):
        if self.target == "onnx":
            return "native" if mask is None and native_onnx_eligible(direction) else "loop"
        if self.form == "fused" and mask is None and fused_lstm_eligible(direction):
            return "fused"
        return "loop"

    def call(self, inputs, mask=None, training=None, initial_state=None):
        if initial_state is not None:
            self.used_form = "layer"
            return self.original(inputs, mask=mask, initial_state=initial_state, training=False)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        x = tf.cast(inputs, tf.float32)
        mask = None if mask is None else tf.cast(mask, tf.bool)
        outputs, forms = [], []
        for direction in self.spec.directions:
            form = self._direction_form(direction, mask)
            forms.append(form)
            if form == "fused":
                outputs.append(run_fused_lstm(direction, x))
            elif form == "native":
                outputs.append(run_native_onnx(direction, x))
            else:
                outputs.append(run_lean_loop(direction, x, mask, tensor_lists=self.target == "onnx"))
        self.used_form = forms[0] if len(set(forms)) == 1 else "+".join(forms)
        return tf.cast(_merge(outputs, self.spec), self.compute_dtype)


@dataclasses.dataclass
class FormRecord:
    """How one recurrent layer was exported: `form` (`fused`, `loop`, `native`, `layer`) and why, if not asked."""

    layer: str
    form: str
    note: str = ""

    def as_dict(self):
        return dataclasses.asdict(self)


class ExportForms:
    """The recurrent layers swapped in an export clone; `records()` says which form each one took."""

    def __init__(self):
        self.layers = []
        self.kept = []

    def records(self):
        rows = [FormRecord(layer.name, layer.used_form or layer.form) for layer in self.layers]
        rows += [FormRecord(name, "layer", note) for name, note in self.kept]
        return rows


def _clone(model, target, form, forms, batch_size=None):
    def clone_function(layer):
        if is_recurrent_layer(layer):
            try:
                replacement = ExportRecurrent(layer, target, form)
            except UnsupportedRecurrentLayer as reason:
                forms.kept.append((layer.name, f"exported as it is: {reason}"))
                return layer
            forms.layers.append(replacement)
            return replacement
        if isinstance(layer, keras.Model) and recurrent_layers(layer):
            return _clone(layer, target, form, forms)
        return layer

    if not isinstance(model, keras.Sequential) and not _is_functional(model):
        names = ", ".join(layer.name for layer in recurrent_layers(model))
        forms.kept.append((names, "exported as it is: a subclassed model cannot be cloned"))
        return model
    # The clone takes the export's batch size, so every trace of it (Keras traces a default serving signature
    # too) sees the same static shapes.
    inputs = [
        keras.Input(batch_shape=(batch_size, *tensor.shape[1:]), dtype=tensor.dtype, name=tensor.name)
        for tensor in model.inputs
    ]
    return keras.models.clone_model(
        model, input_tensors=inputs[0] if len(inputs) == 1 else inputs, clone_function=clone_function
    )


def _is_functional(model):
    # Keras exports no Functional class or predicate; this is the class keras.models.clone_model itself checks
    # before it accepts a clone_function, so the test matches what the clone below needs.
    from keras.src.models.functional import Functional

    return isinstance(model, Functional)


def export_form_model(model, target, form, batch_size=None):
    """A clone of `model` whose recurrent layers take their `target` export form; with the swap record.

    Args:
        model: a Keras model (functional or Sequential; a subclassed model is returned as it is).
        target: `"tflite"` or `"onnx"`.
        form: TFLite: `"fused"` or `"loop"`; ONNX: `"native"`.
        batch_size: the batch size of the export signature (None: dynamic); the fused form needs one.

    Returns:
        `(model, forms)`: the model to trace for export (it shares every other layer with `model`) and an
        `ExportForms` whose `records()` (after the model was traced) say which form each layer took.
    """
    if target not in CONVERTER_FORMS:
        raise ConfigError(f"target={target!r} is not allowed; choose {' or '.join(CONVERTER_FORMS)}")
    allowed = CONVERTER_FORMS[target]
    if form not in allowed:
        raise ConfigError(
            f"{target} export form {form!r} is not allowed; choose one of: {', '.join(allowed)}"
        )
    forms = ExportForms()
    if not recurrent_layers(model):
        return model, forms
    return _clone(model, target, form, forms, batch_size), forms


def fused_cell_peak(model, inputs):
    """Largest |c| of any LSTM direction of `model` on `inputs` (functional or Sequential models), or None.

    The fused TFLite op clips |c| at `FUSED_CELL_CLIP`; above it, fused outputs differ from Keras.
    """
    peaks = []
    for layer in recurrent_layers(model):
        try:
            spec = describe_recurrent_layer(layer)
            layer_input = keras.Model(model.inputs[0], layer.input)(inputs, training=False)
        except (UnsupportedRecurrentLayer, ValueError, AttributeError):
            continue
        peaks += [
            lstm_cell_peak(direction, keras.ops.convert_to_numpy(layer_input))
            for direction in spec.directions
        ]
    return max(peaks) if peaks else None
