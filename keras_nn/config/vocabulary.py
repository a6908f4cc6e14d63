"""Every vocabulary that more than one part of keras-nn speaks, defined once.

Recipe validation, the `keras-nn` command and the code that acts on a value all import these tuples, so they
cannot disagree. The export file variants (`QUANTIZE_MODES`) belong to the edge kit's file contract, which a
device reads without keras-nn; they are re-exported here rather than repeated.
"""

from keras_nn.edge.contract import QUANTIZE_MODES

#: What `keras-nn export --format` and a recipe's `export.formats` take.
EXPORT_FORMATS = ("savedmodel", "tflite", "onnx")

#: TFLite forms of recurrent layers (`keras_nn.export.to_tflite(rnn_form=...)`, `export.rnn_form`, `--rnn-form`).
TFLITE_RNN_FORMS = ("auto", "fused", "loop", "layer")

#: ONNX forms of recurrent layers (`keras_nn.export.to_onnx(rnn_form=...)`).
ONNX_RNN_FORMS = ("auto", "native", "layer")

#: `tf.distribute` strategies a run trains under (`training.strategy`, `--strategy`).
STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")

#: Data source schemes (`data.source`, `--data`): `generated:` sources belong to the tasks that make them;
#: `coco:` (a COCO annotation file) to the detection task's loader (`keras_nn.data.detection`).
DATA_SCHEMES = ("embedded", "tfds", "dir", "generated", "coco")

#: What a data source's examples are read as (`data.form`).
DATA_FORMS = ("auto", "image", "sequence", "text", "tabular")

#: Optimizers and learning-rate schedules a recipe names.
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine", "step", "exponential", "transformer")

#: Experiments `keras-nn train` runs from a recipe's `ablation` key instead of a single run.
ABLATIONS = ("none", "augmentation")

__all__ = [
    "ABLATIONS",
    "DATA_FORMS",
    "DATA_SCHEMES",
    "EXPORT_FORMATS",
    "ONNX_RNN_FORMS",
    "OPTIMIZERS",
    "QUANTIZE_MODES",
    "SCHEDULES",
    "STRATEGIES",
    "TFLITE_RNN_FORMS",
]
