"""What a task hands the export side: the contract between `keras_nn.training` and `keras_nn.export`.

A task never imports the exporters. After training it describes what its run exports with one of these
plans (`Task.export_plan`): the model, the inputs to calibrate int8 ranges with, the inputs and reference
outputs parity is checked on, and what the exporter needs to know about the data. `keras_nn.export.run_export`
picks the exporter for the plan's type and runs it through the one staged pipeline.
"""

import dataclasses
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass
class ModelExport:
    """Export the model as it is: SavedModel, TFLite (float32 and quantized variants), ONNX, streaming models.

    Args:
        model: the trained single-input Keras model.
        representative_data: training inputs that calibrate int8 ranges (None: no int8 variant possible).
        verify_inputs: held-out inputs each file is run on and compared with Keras (None: no parity, no
            latency).
        verify_labels: their labels, for each file's own accuracy.
    """

    model: Any
    representative_data: Any = None
    verify_inputs: Any = None
    verify_labels: Any = None


@dataclasses.dataclass
class Seq2SeqDecoderExport:
    """Export a recurrent encoder-decoder with its greedy decoder: a SavedModel with `serve(source, target_in)`
    and `greedy_decode(source)`, and the greedy decoder alone as TFLite and ONNX (`source -> tokens, attention`).

    Args:
        model: the trained `Seq2SeqAttention`.
        source: `[N, source_length]` int32 source ids, for parity.
        target: `[N, target_length]` int32 target ids of the same examples (the teacher-forced logits check).
        source_length, target_length: the padded lengths the decoder is unrolled for.
        decode_tokens: turns output ids into text (the target vocabulary's decode); parity compares texts.
    """

    model: Any
    source: Any
    target: Any
    source_length: int
    target_length: int
    decode_tokens: Callable


@dataclasses.dataclass
class TranslatorExport:
    """Export a Transformer translator: a strings-in, strings-out SavedModel (SentencePiece and greedy decoding in
    the graph) and the encoder as TFLite and ONNX.

    Args:
        model: the trained `TransformerTranslator`.
        source_ids: `[N, source_length]` int32 ids of the parity sentences.
        source_texts: the same sentences as text.
        reference_translations: what the Python path (`greedy_decode` and the SentencePiece models) makes of
            them; the SavedModel must translate them identically.
        source_proto, target_proto: the serialized SentencePiece models.
        source_length: the padded source length.
        max_length: the most output tokens of greedy decoding.
    """

    model: Any
    source_ids: Any
    source_texts: list
    reference_translations: list
    source_proto: bytes
    target_proto: bytes
    source_length: int
    max_length: int


@dataclasses.dataclass
class DetectorExport:
    """Export a YOLO-style detector as one file per target that takes an image and returns its detections:
    `image [1, H, W, 3]` float32 RGB in [0, 1] -> `boxes`, `scores`, `classes`, `count`, with the grid decoding
    (`YoloDecoder`) and non-max suppression (`NonMaxSuppression`) inside.

    Args:
        model: the trained `keras_nn.models.YOLO` (anything with `detect`, `image_size`, `boxes_per_cell`,
            `num_classes`).
        representative_data: training images `[N, H, W, 3]` that calibrate int8 ranges (None: no int8 variant).
        verify_images: held-out images each file is run on and compared with `model.detect` (None: no parity,
            no latency).
        score_threshold, iou_threshold, max_detections, class_agnostic: the NMS settings built into the files.
        class_names: the class names in id order, written to `labels.txt` (None: `class_0`, `class_1`, ...).
        verify_boxes: the true boxes of `verify_images` (`[N, max_boxes, 5]` rows `(class, x1, y1, x2, y2)`,
            class -1 for padding), or None: with them each file's own mAP is measured (`map_50`, `map_50_95`),
            beside the Keras model's at the same thresholds.
    """

    model: Any
    representative_data: Any = None
    verify_images: Any = None
    score_threshold: float = 0.25
    iou_threshold: float = 0.5
    max_detections: int = 100
    class_agnostic: bool = False
    class_names: Any = None
    verify_boxes: Any = None


EXPORT_PLANS = (ModelExport, Seq2SeqDecoderExport, TranslatorExport, DetectorExport)
