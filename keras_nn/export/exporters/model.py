"""`ModelExporter`: the model as it is, to SavedModel, TFLite (float32 and quantized variants), ONNX and the
single-step streaming models (a GPT decoder's cached step), each checked against Keras in its runtime and timed at batch 1."""

import numpy as np

from keras_nn.config.export_plan import ModelExport
from keras_nn.edge.contract import (
    CACHED_STEP_FILES,
    ONNX_FILE,
    SAVED_MODEL_DIR,
    STREAMING_FILES,
    is_cached_step_model,
    tflite_file,
)
from keras_nn.errors import ConfigError
from keras_nn.export.cached_decoder import (
    CACHED_STEP_FORM,
    check_cached_step,
    is_cached_decoder,
    to_cached_step_onnx,
    to_cached_step_tflite,
)
from keras_nn.export.exporters.base import ExportedFile, Exporter
from keras_nn.export.onnx import to_onnx
from keras_nn.export.savedmodel import to_saved_model
from keras_nn.export.signature import check_inputs, has_recurrent_layers
from keras_nn.export.streaming import to_streaming_onnx, to_streaming_tflite
from keras_nn.export.tflite import choose_rnn_form, convert_tflite
from keras_nn.export.verify import verify


class ModelExporter(Exporter):
    """Exports a `ModelExport` plan. Parity rows are `keras_nn.export.verify`'s, with each file's recurrent
    forms (`rnn_form`, `rnn_layers`) added."""

    plan_type = ModelExport

    def check(self, plan, settings):
        if plan.verify_inputs is not None:
            plan.verify_inputs = check_inputs(plan.model, plan.verify_inputs, what="verification inputs")
        if "int8" in settings.quantize and "tflite" in settings.formats and plan.representative_data is None:
            raise ConfigError("int8 export needs representative_data (a batch of training inputs)")

    def write(self, plan, folder, settings):
        model, formats = plan.model, settings.formats
        files = []
        if "savedmodel" in formats:
            files.append(ExportedFile(to_saved_model(model, folder / SAVED_MODEL_DIR)))
        if "tflite" in formats:
            rnn_form = settings.rnn_form
            if rnn_form == "auto":
                # Measured once, on the float32 file; the quantized variants take the same form.
                rnn_form = choose_rnn_form(model, representative_data=plan.representative_data)[0] or "auto"
            for mode in (None, *settings.quantize):
                result = convert_tflite(
                    model,
                    folder / tflite_file(mode),
                    quantize=mode,
                    representative_data=plan.representative_data,
                    rnn_form=rnn_form,
                    representative_samples=settings.representative_samples,
                )
                files.append(ExportedFile(result.path, {"rnn_form": result.rnn_form, "rnn_layers": result.layers}))
        if "onnx" in formats:
            # Which layers became native LSTM/GRU nodes shows in the file's operators (parity rows list them).
            forms = {"rnn_form": "native" if has_recurrent_layers(model) else None, "rnn_layers": []}
            files.append(ExportedFile(to_onnx(model, folder / ONNX_FILE), forms))
        if settings.streaming:
            # A GPT decoder streams through its key/value cache; a recurrent model through its states.
            cached = is_cached_decoder(model)
            writers = (
                {"tflite": to_cached_step_tflite, "onnx": to_cached_step_onnx}
                if cached
                else {"tflite": to_streaming_tflite, "onnx": to_streaming_onnx}
            )
            names, form = (CACHED_STEP_FILES, CACHED_STEP_FORM) if cached else (STREAMING_FILES, "streaming")
            for target in ("tflite", "onnx"):
                if target in formats:
                    path = writers[target](model, folder / names[target])
                    files.append(ExportedFile(path, {"rnn_form": form, "rnn_layers": []}))
        return files

    def parity(self, plan, files):
        if plan.verify_inputs is None:
            return []
        reference = np.asarray(plan.model.predict(plan.verify_inputs, verbose=0, batch_size=256))
        rows = []
        for file in files:
            if is_cached_step_model(file.path):
                row = check_cached_step(plan.model, file.path, plan.verify_inputs[:1])
            else:
                row = verify(plan.model, file.path, plan.verify_inputs, plan.verify_labels, reference=reference)
            rows.append({**row, **(file.forms or {})})
        return rows

    def timing(self, plan, files):
        if plan.verify_inputs is None:
            return [], None
        # The edge kit's runners feed one input; a cached step takes three (its parity row checks it).
        return [file.path for file in files if not is_cached_step_model(file.path)], plan.verify_inputs
