"""Deploying a translator: a SavedModel that takes raw strings and returns translations, and the encoder as
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

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_nn.export.benchmark import benchmark
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


def export_translator(run_dir, model, bundle, config):
    """The export step of a translation run: the recipe's formats into `run_dir/export`, with parity.

    `savedmodel` writes the strings-in, strings-out SavedModel and checks that it translates the test sources
    exactly as the Python path (`greedy_decode` and the SentencePiece models) does, and that its `encode`
    matches Keras; `tflite` and `onnx` write the encoder (`encoder.tflite`, `encoder.onnx`) and check it in
    ai-edge-litert and onnxruntime. Parity goes to `parity.json`, batch-1 latency of the encoder files to
    `latency.json`.

    Returns:
        `{"export_dir", "files", "parity", "latency"}`.
    """
    from keras_nn.training.translation import decode_sources

    export_dir = Path(run_dir) / "export"
    export_dir.mkdir(parents=True, exist_ok=True)
    section, options = config["export"], config["task_options"]
    max_length = options["max_decode_length"] or bundle.target_length
    count = section["verify_samples"]
    source_ids, _, pairs = (
        bundle.arrays("test", count) if bundle.pairs.get("test") else bundle.arrays("train", count)
    )
    texts = [source for source, _ in pairs]
    reference = np.asarray(model.encode(source_ids))
    files, parity = [], []
    if "savedmodel" in section["formats"]:
        path = write_translator_saved_model(
            model,
            bundle.source_vocab.proto,
            bundle.target_vocab.proto,
            bundle.source_length,
            max_length,
            export_dir / "saved_model",
        )
        files.append(path)
        loaded = load_translator(path)
        exported = translate_strings(loaded, texts)
        python = decode_sources(
            model, source_ids, bundle.target_vocab, options, bundle.target_length, methods=("greedy",)
        )
        encoded = loaded.encode(tf.constant(source_ids)).numpy()
        parity.append(
            {
                "path": str(path),
                "format": "savedmodel",
                "runtime": "tensorflow",
                "samples": len(texts),
                "max_abs_error": float(np.abs(encoded - reference).max()),
                "translation_agreement": float(
                    np.mean([a == b for a, b in zip(exported, python["greedy"]["texts"], strict=True)])
                ),
            }
        )
    encoder = model.encoder_model(bundle.source_length)
    edge_files = []
    if "tflite" in section["formats"]:
        edge_files.append(to_tflite(encoder, export_dir / "encoder.tflite"))
    if "onnx" in section["formats"]:
        edge_files.append(to_onnx(encoder, export_dir / "encoder.onnx"))
    for path in edge_files:
        parity.append(verify(encoder, path, source_ids, reference=reference))
    files += edge_files
    latency = benchmark(edge_files, source_ids, runs=section["benchmark_runs"]) if edge_files else []
    notes = [
        "# translator export",
        "",
        "`saved_model/`: `serve(texts) -> {translations, tokens}` (strings in, strings out: SentencePiece and greedy "
        "decoding inside the graph; load it after `import tensorflow_text`) and `encode(source ids) -> encoder "
        "outputs`. `encoder.tflite` / `encoder.onnx`: the encoder alone, `[B, "
        f"{bundle.source_length}]` int32 ids -> `[B, {bundle.source_length}, d_model]` float32 (parity in "
        "`parity.json`, batch-1 latency in `latency.json`). The decoder is not exported to TFLite/ONNX.",
    ]
    if section["quantize"]:
        notes.append(
            f"\nNot written: quantized variants ({', '.join(section['quantize'])}); the encoder is exported in float32."
        )
    (export_dir / "NOTES.md").write_text("\n".join(notes) + "\n")
    (export_dir / "parity.json").write_text(json.dumps(parity, indent=2))
    (export_dir / "latency.json").write_text(json.dumps(latency, indent=2))
    return {
        "export_dir": str(export_dir),
        "files": [str(f) for f in files],
        "parity": parity,
        "latency": latency,
    }
