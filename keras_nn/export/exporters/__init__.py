"""The exporters, one per kind of export plan (`keras_nn.config.export_plan`): what differs between exporting a
model as it is, a seq2seq model with its greedy decoder, and a translator with its strings-in SavedModel."""

from keras_nn.export.exporters.base import ExportedFile, Exporter
from keras_nn.export.exporters.detector import DetectorExporter
from keras_nn.export.exporters.model import ModelExporter
from keras_nn.export.exporters.seq2seq_decoder import Seq2SeqDecoderExporter
from keras_nn.export.exporters.translator import TranslatorExporter, load_translator, translate_strings

EXPORTERS = (ModelExporter, Seq2SeqDecoderExporter, TranslatorExporter, DetectorExporter)


def exporter_for(plan):
    """A fresh exporter for `plan` (chosen by the plan's type)."""
    for exporter in EXPORTERS:
        if isinstance(plan, exporter.plan_type):
            return exporter()
    names = ", ".join(exporter.plan_type.__name__ for exporter in EXPORTERS)
    raise TypeError(f"no exporter takes a {type(plan).__name__}; export plans are: {names}")


__all__ = [
    "EXPORTERS",
    "DetectorExporter",
    "ExportedFile",
    "Exporter",
    "ModelExporter",
    "Seq2SeqDecoderExporter",
    "TranslatorExporter",
    "exporter_for",
    "load_translator",
    "translate_strings",
]
