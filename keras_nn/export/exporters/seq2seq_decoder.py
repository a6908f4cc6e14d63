"""`Seq2SeqDecoderExporter`: a recurrent encoder-decoder and its greedy decoder.

Files:
- `saved_model/`: `serve(source, target_in)` returns the teacher-forced logits of the training model;
  `greedy_decode(source)` returns `tokens` and `attention` of greedy decoding.
- `greedy_decoder.tflite`, `greedy_decoder.onnx`: the same greedy decoder, one int32 input `source` `[batch,
  source_length]`, outputs `tokens` `[batch, target_length]` and `attention` `[batch, target_length,
  source_length]`. The decoder loop is unrolled over `target_length` steps, so the graph has one input and no
  tensor lists: TFLite converts it with builtin ops only and ONNX without a `Loop`, at any batch size.

Parity (`parity.json`): every file's greedy output, as text, against Keras greedy decoding
(`greedy_token_agreement`, the share of identical sequences) and its attention weights (`max_abs_error`); the
SavedModel's teacher-forced logits too (`logits_max_abs_error`). Each file runs twice (`repeat_max_abs_diff`);
the TFLite and ONNX rows list the file's `operators` and those that need Flex (`flex_operators`).
"""

import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_nn.config.export_plan import Seq2SeqDecoderExport
from keras_nn.edge.contract import DECODER_FILES, SAVED_MODEL_DIR
from keras_nn.edge.operators import flex_operators
from keras_nn.export.exporters.base import ExportedFile, Exporter
from keras_nn.export.onnx import function_to_onnx
from keras_nn.export.tflite import run_converter
from keras_nn.export.verify import file_operators

DECODER_SIGNATURE = "greedy_decode"


def greedy_decoder_function(model, source_length, target_length):
    """A `tf.function` of greedy decoding, `source [B, source_length] int32 -> {"tokens", "attention"}`, with the
    decoder loop unrolled over `target_length` steps."""
    spec = tf.TensorSpec((None, source_length), tf.int32, name="source")

    @tf.function(input_signature=[spec])
    def greedy_decode(source):
        outputs, states, mask = model.encode(source)
        tokens = tf.fill(tf.shape(source)[:1], tf.constant(model.start_token, tf.int32))
        steps, weights = [], []
        for _ in range(target_length):
            log_probs, states, attention = model.decode_step(tokens, states, outputs, mask)
            tokens = tf.cast(tf.argmax(log_probs, axis=-1), tf.int32)
            steps.append(tokens)
            weights.append(attention)
        return {"tokens": tf.stack(steps, axis=1), "attention": tf.stack(weights, axis=1)}

    return greedy_decode


def write_decoder_saved_model(model, greedy, source_length, target_length, path):
    """The SavedModel with `serve(source, target_in) -> logits` and `greedy_decode(source)`; returns the path."""
    source_spec = tf.TensorSpec((None, source_length), tf.int32, name="source")
    target_spec = tf.TensorSpec((None, target_length), tf.int32, name="target_in")
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "serve",
        lambda source, target_in: model({"source": source, "target_in": target_in}, training=False),
        input_signature=[source_spec, target_spec],
    )
    archive.add_endpoint(DECODER_SIGNATURE, greedy.python_function, input_signature=[source_spec])
    archive.write_out(str(path), verbose=False)
    return Path(path)


def write_decoder_tflite(saved_model_dir, path):
    """The greedy decoder of a decoder SavedModel as TFLite, builtin ops only; returns the path."""
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=[DECODER_SIGNATURE])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    # The encoder's recurrent loop keeps a dynamic batch with builtin ops only (no Flex).
    converter._experimental_default_to_single_batch_in_tensor_list_ops = True
    Path(path).write_bytes(run_converter(converter, "the greedy decoder"))
    return Path(path)


def write_decoder_onnx(greedy, path):
    """The greedy decoder function as ONNX; returns the path."""
    return function_to_onnx(greedy, path, "the greedy decoder")


def run_decoder_file(path, source):
    """`(tokens, attention)` of an exported greedy decoder run in its own runtime (TFLite or ONNX Runtime)."""
    if str(path).endswith(".tflite"):
        from ai_edge_litert.interpreter import Interpreter

        outputs = Interpreter(model_path=str(path)).get_signature_runner(DECODER_SIGNATURE)(source=source)
    else:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [output.name for output in session.get_outputs()]
        outputs = dict(zip(names, session.run(None, {session.get_inputs()[0].name: source}), strict=True))
    return np.asarray(outputs["tokens"]), np.asarray(outputs["attention"])


class Seq2SeqDecoderExporter(Exporter):
    """Exports a `Seq2SeqDecoderExport` plan (see the module docstring for the files and parity keys)."""

    plan_type = Seq2SeqDecoderExport

    def __init__(self):
        self._greedy = None

    def _decoder(self, plan):
        if self._greedy is None:
            self._greedy = greedy_decoder_function(plan.model, plan.source_length, plan.target_length)
        return self._greedy

    def write(self, plan, folder, settings):
        greedy = self._decoder(plan)
        formats = settings.formats
        files = []
        # The TFLite converter reads the decoder from a SavedModel, written to a scratch folder when not asked for.
        with tempfile.TemporaryDirectory(dir=folder, prefix=".scratch-") as scratch:
            saved_model = folder / SAVED_MODEL_DIR if "savedmodel" in formats else Path(scratch) / SAVED_MODEL_DIR
            if "savedmodel" in formats or "tflite" in formats:
                write_decoder_saved_model(plan.model, greedy, plan.source_length, plan.target_length, saved_model)
            if "savedmodel" in formats:
                files.append(ExportedFile(saved_model))
            if "tflite" in formats:
                files.append(ExportedFile(write_decoder_tflite(saved_model, folder / DECODER_FILES["tflite"])))
        if "onnx" in formats:
            files.append(ExportedFile(write_decoder_onnx(greedy, folder / DECODER_FILES["onnx"])))
        return files

    def parity(self, plan, files):
        source = np.asarray(plan.source, np.int32)
        length = plan.target_length
        reference = self._decoder(plan)(tf.constant(source))
        reference_tokens, reference_attention = reference["tokens"].numpy(), reference["attention"].numpy()
        keras_tokens = plan.model.greedy_decode(source, max_length=length)["tokens"][:, :length]

        def agreement(tokens):
            return float(
                np.mean([plan.decode_tokens(a) == plan.decode_tokens(b) for a, b in zip(tokens, keras_tokens, strict=True)])
            )

        rows = []
        for file in files:
            if file.path.name == SAVED_MODEL_DIR:
                rows.append(self._saved_model_row(plan, file.path, source, reference_attention, agreement))
                continue
            (tokens, attention), (_, again) = run_decoder_file(file.path, source), run_decoder_file(file.path, source)
            target = "tflite" if file.path.suffix == ".tflite" else "onnx"
            counts = file_operators(file.path)
            rows.append(
                {
                    "path": str(file.path), "format": target,
                    "runtime": "ai-edge-litert" if target == "tflite" else "onnxruntime",
                    "samples": int(len(source)), "greedy_token_agreement": agreement(tokens),
                    "token_match_exported_graph": float(np.mean(np.all(tokens == reference_tokens, axis=1))),
                    "max_abs_error": float(np.abs(attention - reference_attention).max()),
                    "repeat_max_abs_diff": float(np.abs(again - attention).max()),
                    "operators": counts,
                    "flex_operators": flex_operators(counts),
                }
            )
        return rows

    @staticmethod
    def _saved_model_row(plan, path, source, reference_attention, agreement):
        model = plan.model
        target = np.asarray(plan.target, np.int32)
        target_in = np.concatenate([np.full((len(target), 1), model.start_token, np.int32), target[:, :-1]], 1)
        target_in[target_in == model.end_token] = 0
        loaded = tf.saved_model.load(str(path))
        logits = loaded.serve(tf.constant(source), tf.constant(target_in)).numpy()
        keras_logits = np.asarray(model.predict({"source": source, "target_in": target_in}, verbose=0))
        runs = [getattr(loaded, DECODER_SIGNATURE)(tf.constant(source)) for _ in range(2)]
        return {
            "path": str(path), "format": "savedmodel", "runtime": "tensorflow",
            "samples": int(len(source)), "logits_max_abs_error": float(np.abs(logits - keras_logits).max()),
            "greedy_token_agreement": agreement(runs[0]["tokens"].numpy()),
            "max_abs_error": float(np.abs(runs[0]["attention"].numpy() - reference_attention).max()),
            "repeat_max_abs_diff": float(np.abs(runs[1]["attention"].numpy() - runs[0]["attention"].numpy()).max()),
        }

    def notes(self, plan, settings):
        return "\n".join(
            [
                "# seq2seq export",
                "",
                f"- `{SAVED_MODEL_DIR}/`: `serve(source, target_in)` returns the teacher-forced logits of the training "
                f"model; `{DECODER_SIGNATURE}(source)` returns `tokens` and `attention` of greedy decoding.",
                f"- `{DECODER_FILES['tflite']}`, `{DECODER_FILES['onnx']}`: the same greedy decoder, one int32 input "
                f"`source` [batch, {plan.source_length}] of character ids, outputs `tokens` [batch, {plan.target_length}] "
                f"and `attention` [batch, {plan.target_length}, {plan.source_length}]; the decoder loop is unrolled over "
                f"{plan.target_length} steps, builtin ops only. Character ids: the run's character vocabularies (its "
                "`keras-nn translate` front end reads the same).",
            ]
        )
