"""`TranslatorExporter`: a SavedModel that takes raw strings and returns translations, and the encoder as
TFLite and ONNX.

The SavedModel's `serving_default` (`serve`) runs everything in the graph: SentencePiece tokenization of the
input strings (`tensorflow_text.SentencepieceTokenizer` holding the run's source model), the encoder, greedy
decoding as a `tf.while_loop` over the model's cached `decode_step`, and detokenization with the target model.
Loading it needs `import tensorflow_text` (which registers the SentencePiece ops) and nothing of keras-nn:

    import tensorflow as tf, tensorflow_text  # noqa: F401
    translator = tf.saved_model.load("export/saved_model")
    translator.serve(tf.constant(["나는 사과를 3개 먹었다."]))["translations"]  # [b"I ate 3 apples."]

A second endpoint, `encode(source ids) -> encoder outputs`, is the part TFLite and ONNX hold too
(`encoder.tflite`, `encoder.onnx`: `[B, S]` int32 ids -> `[B, S, d_model]` float32); decoding on a device
runs the decoder around it.
"""


import keras
import numpy as np
import tensorflow as tf

from keras_nn.config.export_plan import TranslatorExport
from keras_nn.edge.contract import ENCODER_FILES, LATENCY_FILE, PARITY_FILE, SAVED_MODEL_DIR
from keras_nn.export.exporters.base import ExportedFile, Exporter
from keras_nn.export.onnx import to_onnx
from keras_nn.export.savedmodel import write_archive
from keras_nn.export.tflite import to_tflite
from keras_nn.export.verify import verify


def greedy_graph(translator, source, max_length):
    """Greedy decoding as a `tf.while_loop` over `decode_step`: `[B, S]` ids -> `[B, steps]` output ids.

    The loop stops when every row has produced the end token or after `max_length` steps; a row that ended
    is padded, as in `greedy_decode`.
    """
    states, (cross_caches, source_mask) = translator.initial_decoding_state(source, max_length)
    batch = tf.shape(source)[0]
    end, pad = tf.constant(translator.end_token, tf.int32), tf.constant(translator.pad_token, tf.int32)

    def keep_going(step, tokens, states, finished, outputs):
        return tf.logical_and(step < max_length, tf.logical_not(tf.reduce_all(finished)))

    def step_once(step, tokens, states, finished, outputs):
        log_probs, states, _ = translator.decode_step(tokens, states, cross_caches, source_mask)
        chosen = tf.where(finished, pad, tf.cast(tf.argmax(log_probs, axis=-1), tf.int32))
        return (
            step + 1,
            chosen,
            states,
            tf.logical_or(finished, tf.equal(chosen, end)),
            outputs.write(step, chosen),
        )

    outputs = tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=tf.TensorShape([None]))
    tokens = tf.fill([batch], tf.constant(translator.start_token, tf.int32))
    finished = tf.zeros([batch], tf.bool)
    _, _, _, _, outputs = tf.while_loop(
        keep_going, step_once, (tf.constant(0), tokens, states, finished, outputs)
    )
    # [steps, B] -> [B, steps]; an empty batch (or no step) gives [B, 0].
    return tf.reshape(tf.transpose(outputs.stack()), [batch, -1])


def translate_function(translator, source_tokenizer, target_tokenizer, source_length, max_length):
    """`translate(texts [B] string) -> {"translations": [B] string, "tokens": [B, steps] int32}` in TF ops.

    Tokenization matches `SubwordTokenizer.encode(text, source_length)` (ids, cut to keep the end token,
    end, padding) and detokenization `SubwordTokenizer.decode` (up to the first end token).
    """
    pad, start, end = translator.pad_token, translator.start_token, translator.end_token

    def translate(texts):
        pieces = source_tokenizer.tokenize(texts)[:, : source_length - 1]
        ends = tf.RaggedTensor.from_tensor(tf.fill([pieces.nrows(), 1], tf.constant(end, pieces.dtype)))
        source = tf.concat([pieces, ends], axis=1).to_tensor(default_value=pad, shape=[None, source_length])
        tokens = greedy_graph(translator, tf.cast(source, tf.int32), max_length)
        ended = tf.cumsum(tf.cast(tf.equal(tokens, end), tf.int32), axis=1) > 0
        kept = tf.logical_not(ended) & tf.not_equal(tokens, pad) & tf.not_equal(tokens, start)
        translations = target_tokenizer.detokenize(tf.ragged.boolean_mask(tokens, kept))
        return {"translations": translations, "tokens": tokens}

    return translate


def write_translator_saved_model(translator, source_proto, target_proto, source_length, max_length, path):
    """Writes the strings-in, strings-out SavedModel (endpoints `serve` and `encode`); returns the path."""
    import tensorflow_text

    # Distinct names: the SentencePiece op's kernel-owned resource is shared by node name, so two unnamed
    # tokenizers in one SavedModel would both restore as whichever model loads first.
    source_tokenizer = tensorflow_text.SentencepieceTokenizer(
        model=source_proto, out_type=tf.int32, name="source_sentencepiece"
    )
    target_tokenizer = tensorflow_text.SentencepieceTokenizer(
        model=target_proto, out_type=tf.int32, name="target_sentencepiece"
    )
    archive = keras.export.ExportArchive()
    archive.track(translator)
    archive.track(source_tokenizer)
    archive.track(target_tokenizer)
    archive.add_endpoint(
        "serve",
        translate_function(translator, source_tokenizer, target_tokenizer, source_length, max_length),
        input_signature=[tf.TensorSpec([None], tf.string, name="texts")],
    )
    archive.add_endpoint(
        "encode",
        lambda source: translator.encode(source),
        input_signature=[tf.TensorSpec([None, source_length], tf.int32, name="source")],
    )
    return write_archive(archive, path)


def load_translator(path):
    """Loads a translator SavedModel (registering the SentencePiece ops first)."""
    import tensorflow_text  # noqa: F401  (registers the ops the graph uses)

    return tf.saved_model.load(str(path))


def translate_strings(loaded, texts):
    """Runs a loaded translator SavedModel on Python strings; returns Python strings."""
    outputs = loaded.serve(tf.constant(list(texts), dtype=tf.string))
    return [text.decode("utf-8") for text in outputs["translations"].numpy()]


class TranslatorExporter(Exporter):
    """Exports a `TranslatorExport` plan.

    `savedmodel` writes the strings-in, strings-out SavedModel and checks that it translates the parity sentences
    exactly as the Python path does (`translation_agreement`) and that its `encode` matches Keras
    (`max_abs_error`); `tflite` and `onnx` write the encoder (`encoder.tflite`, `encoder.onnx`), checked in
    ai-edge-litert and onnxruntime (`keras_nn.export.verify`'s rows) and timed at batch 1. Quantized variants are
    not written: the encoder is exported in float32 (`NOTES.md` says so when they were asked for).
    """

    plan_type = TranslatorExport

    def write(self, plan, folder, settings):
        files = []
        if "savedmodel" in settings.formats:
            path = write_translator_saved_model(
                plan.model, plan.source_proto, plan.target_proto, plan.source_length, plan.max_length,
                folder / SAVED_MODEL_DIR,
            )
            files.append(ExportedFile(path))
        encoder = plan.model.encoder_model(plan.source_length)
        if "tflite" in settings.formats:
            files.append(ExportedFile(to_tflite(encoder, folder / ENCODER_FILES["tflite"])))
        if "onnx" in settings.formats:
            files.append(ExportedFile(to_onnx(encoder, folder / ENCODER_FILES["onnx"])))
        return files

    def parity(self, plan, files):
        reference = np.asarray(plan.model.encode(plan.source_ids))
        encoder = plan.model.encoder_model(plan.source_length)
        rows = []
        for file in files:
            if file.path.name != SAVED_MODEL_DIR:
                rows.append(verify(encoder, file.path, plan.source_ids, reference=reference))
                continue
            loaded = load_translator(file.path)
            exported = translate_strings(loaded, plan.source_texts)
            encoded = loaded.encode(tf.constant(plan.source_ids)).numpy()
            agreement = [a == b for a, b in zip(exported, plan.reference_translations, strict=True)]
            rows.append(
                {
                    "path": str(file.path),
                    "format": "savedmodel",
                    "runtime": "tensorflow",
                    "samples": len(plan.source_texts),
                    "max_abs_error": float(np.abs(encoded - reference).max()),
                    "translation_agreement": float(np.mean(agreement)),
                }
            )
        return rows

    def timing(self, plan, files):
        return [file.path for file in files if file.path.name != SAVED_MODEL_DIR], plan.source_ids

    def notes(self, plan, settings):
        lines = [
            "# translator export",
            "",
            f"`{SAVED_MODEL_DIR}/`: `serve(texts) -> {{translations, tokens}}` (strings in, strings out: SentencePiece "
            "and greedy decoding inside the graph; load it after `import tensorflow_text`) and `encode(source ids) -> "
            f"encoder outputs`. `{ENCODER_FILES['tflite']}` / `{ENCODER_FILES['onnx']}`: the encoder alone, `[B, "
            f"{plan.source_length}]` int32 ids -> `[B, {plan.source_length}, d_model]` float32 (parity in "
            f"`{PARITY_FILE}`, batch-1 latency in `{LATENCY_FILE}`). The decoder is not exported to TFLite/ONNX.",
        ]
        if settings.quantize:
            lines.append(
                f"\nNot written: quantized variants ({', '.join(settings.quantize)}); the encoder is exported in float32."
            )
        return "\n".join(lines)
