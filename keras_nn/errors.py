"""Error types raised by keras-nn.

Every error names the bad value and says how to fix it, in one line. The `keras-nn` command turns a
`UsageError` (bad usage, config, input or path) into exit code 2 and a one-line message; anything else
exits with 1.
"""


class KerasNNError(Exception):
    """Base class of every error keras-nn raises on purpose."""


class UsageError(KerasNNError):
    """The caller asked for something that cannot work as given (exit code 2 from the CLI)."""


class ConfigError(UsageError, ValueError):
    """A recipe or config value is unknown or out of range."""


class UnknownModelError(ConfigError, KeyError):
    """No model is registered under the requested name."""

    def __str__(self):
        # KeyError quotes its argument; keep the message readable.
        return str(self.args[0]) if self.args else ""


class UnknownDatasetError(ConfigError):
    """No data set matches the requested source."""


class DataError(UsageError, ValueError):
    """Data that exists but cannot be used as it is (mixed image sizes, no classes, bad columns)."""


class MissingPathError(UsageError, FileNotFoundError):
    """A file or directory the caller named does not exist."""


class ShapeError(UsageError, ValueError):
    """An input has the wrong shape for the model."""


class ModelFileError(UsageError, ValueError):
    """A saved model file cannot be read (corrupted, truncated, or not a Keras file)."""


class OutputDirError(UsageError, FileExistsError):
    """The output directory is not usable (already holds a run and --resume was not given)."""


class ExportError(KerasNNError, RuntimeError):
    """A converter or runtime failed on a model that was valid on the Keras side."""


class WorkerLostError(KerasNNError, RuntimeError):
    """Another worker of a multi-worker run stopped, so this one cannot go on (resume every worker)."""
