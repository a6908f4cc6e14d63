"""The names of the recurrent export forms: what an exporter's `rnn_form` accepts and what each target builds."""

# What `to_tflite(rnn_form=...)` and `to_onnx(rnn_form=...)` accept: "auto" picks a form per layer, "layer"
# exports the Keras layer as it is.
TFLITE_RNN_FORMS = ("auto", "fused", "loop", "layer")
ONNX_RNN_FORMS = ("auto", "native", "layer")
# The forms `export_form_model` builds for each target ("auto" and "layer" are resolved before it).
CONVERTER_FORMS = {"tflite": ("fused", "loop"), "onnx": ("native",)}
