"""`ExportSettings`: what to write (formats, quantized variants, recurrent forms, streaming) and how long to
time it, checked once against the shared vocabularies."""

import dataclasses

from keras_nn.config.vocabulary import EXPORT_FORMATS, QUANTIZE_MODES, TFLITE_RNN_FORMS
from keras_nn.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class ExportSettings:
    """How an export runs; the recipe's `export` section and `keras-nn export`'s options fill it.

    Args:
        formats: any of `savedmodel`, `tflite`, `onnx`.
        quantize: TFLite variants besides float32: `float16`, `dynamic`, `int8`.
        rnn_form: the TFLite form of recurrent layers (`auto` is measured once, on the float32 file).
        streaming: also write single-step models (`model.stream.tflite`, `model.stream.onnx`).
        representative_samples: at most this many representative examples calibrate int8 ranges.
        benchmark_runs: timed batch-1 invokes per file.
    """

    formats: tuple = EXPORT_FORMATS
    quantize: tuple = ()
    rnn_form: str = "auto"
    streaming: bool = False
    representative_samples: int = 200
    benchmark_runs: int = 100

    def __post_init__(self):
        formats, quantize = tuple(self.formats), tuple(self.quantize)
        unknown = sorted(set(formats) - set(EXPORT_FORMATS))
        if unknown or not formats:
            raise ConfigError(
                f"export formats {unknown or list(formats)} not allowed; choose from: {', '.join(EXPORT_FORMATS)}"
            )
        bad = sorted(set(quantize) - set(QUANTIZE_MODES))
        if bad:
            raise ConfigError(f"quantize {bad} not allowed; choose from: {', '.join(QUANTIZE_MODES)}")
        if self.rnn_form not in TFLITE_RNN_FORMS:
            raise ConfigError(f"rnn_form={self.rnn_form!r} is not allowed; choose one of: {', '.join(TFLITE_RNN_FORMS)}")
        object.__setattr__(self, "formats", formats)
        object.__setattr__(self, "quantize", quantize)

    @classmethod
    def from_recipe(cls, section, formats=None, quantize=None, rnn_form=None, streaming=False):
        """The settings of a recipe's resolved `export` section, with `keras-nn export`'s overrides (None keeps
        the recipe's; formats fall back to every format when the recipe names none)."""
        return cls(
            formats=tuple(formats or section["formats"] or EXPORT_FORMATS),
            quantize=tuple(section["quantize"] if quantize is None else quantize),
            rnn_form=rnn_form or section["rnn_form"],
            streaming=streaming,
            representative_samples=section["representative_samples"],
            benchmark_runs=section["benchmark_runs"],
        )
