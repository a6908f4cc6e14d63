"""Export-time forms of recurrent layers: what a TFLite or ONNX runtime runs fastest, with the same weights.

The Keras models keep their backend-neutral layers (`keras.layers.LSTM`, `keras_nn.layers.GRU`, ...). At export
time `export_form_model` clones a functional or Sequential model and swaps every recurrent layer for an
`ExportRecurrent` layer that holds a snapshot of its weights and builds the TensorFlow graph the converter turns
into the fast operator:

- `"fused"` (TFLite, LSTM): a `tf.function` that carries `api_implements="lstm_<id>"`, the contract of
  tf_keras's `standard_lstm` (six inputs, five outputs of which only the first two may be used). The TFLite
  converter replaces it with one `UNIDIRECTIONAL_SEQUENCE_LSTM` op. It needs a fixed batch (static state shapes)
  and no mask; the converter hard-codes `cell_clip=10` (see `FUSED_CELL_CLIP`); the op keeps its state between
  invocations, so a runtime resets its variables before each call. TFLite has no fused GRU.
- `"loop"` (TFLite, every cell): a lean `while` loop that accepts any batch with builtin ops only. The input
  projection of all steps is one product before the loop, the LSTM gates are reordered to (i, f, o, g) so one
  sigmoid covers three of them, and per-step outputs are written in place with `DYNAMIC_UPDATE_SLICE` only when
  they are used (the stock lowering writes a tensor list with SLICE + CONCATENATION each step, and its
  single-batch option makes a batch larger than 1 fail at run time).
- `"native"` (ONNX, LSTM and GRU): a tensor-list loop whose body has the shape tf2onnx's rewriters match
  (`MatMul(x_t, W) + MatMul(h, R)`, BiasAdd, Split, sigmoid/tanh, `c = f*c + i*g`, `h = o*tanh(c)`; the GRU with
  its two biases outside the loop), so tf2onnx emits the native ONNX `LSTM`/`GRU` operator at any batch, and
  merges a bidirectional pair into one node. Masked inputs, SimpleRNN, GRU with `reset_after=False` and other
  activations take a generic loop (an ONNX `Loop`).

The lean step (`LeanWeights.step_function`) also backs the single-step models of the streaming export
(`keras_nn.export.streaming`).

The package holds a module per form: `spec` (what a form reads from a layer), `lean_loop` (the loop form and the
time loop every form runs), `fused_lstm`, `native_onnx`, `clone` (the export layer and the model clone),
`activations` and `vocabulary` (the form names).
"""

from keras_nn.config.vocabulary import ONNX_RNN_FORMS, TFLITE_RNN_FORMS
from keras_nn.export.rnn_forms.clone import (
    ExportForms,
    ExportRecurrent,
    FormRecord,
    export_form_model,
    fused_cell_peak,
)
from keras_nn.export.rnn_forms.fused_lstm import (
    FUSED_CELL_CLIP,
    fused_lstm_eligible,
    lstm_cell_peak,
    run_fused_lstm,
)
from keras_nn.export.rnn_forms.lean_loop import LeanWeights, run_lean_loop
from keras_nn.export.rnn_forms.native_onnx import native_onnx_eligible, run_native_onnx
from keras_nn.export.rnn_forms.spec import (
    Direction,
    RecurrentSpec,
    UnsupportedRecurrentLayer,
    describe_recurrent_layer,
    is_recurrent_layer,
    recurrent_layers,
)

__all__ = [
    "FUSED_CELL_CLIP",
    "ONNX_RNN_FORMS",
    "TFLITE_RNN_FORMS",
    "Direction",
    "ExportForms",
    "ExportRecurrent",
    "FormRecord",
    "LeanWeights",
    "RecurrentSpec",
    "UnsupportedRecurrentLayer",
    "describe_recurrent_layer",
    "export_form_model",
    "fused_cell_peak",
    "fused_lstm_eligible",
    "is_recurrent_layer",
    "lstm_cell_peak",
    "native_onnx_eligible",
    "recurrent_layers",
    "run_fused_lstm",
    "run_lean_loop",
    "run_native_onnx",
]
