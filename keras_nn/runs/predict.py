"""Front ends: a run's (or a `.keras` file's) model on a `.npy` batch, or on raw texts for the tasks that read
text (seq2seq, translation, text classification)."""

from pathlib import Path

import numpy as np

from keras_nn.errors import DataError, MissingPathError, ShapeError
from keras_nn.export.signature import check_inputs
from keras_nn.runs.load import load_model_file, open_run
from keras_nn.runs.run_directory import RunDirectory
from keras_nn.training import create_task
from keras_nn.viz import plot_attention


def load_array(path, what="input"):
    """A `.npy` array, with a one-line error for a missing or unreadable file."""
    if not Path(path).is_file():
        raise MissingPathError(f"{what} file {str(path)!r} does not exist")
    with open(path, "rb") as handle:
        if handle.read(6) != b"\x93NUMPY":
            raise DataError(f"{what} file {str(path)!r} is not a .npy file; write one with numpy.save(path, array)")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        raise DataError(f"{what} file {str(path)!r} is not a .npy array ({error})") from None


def predict_array(source, inputs):
    """The model of a run directory or `.keras` file on a batch (or one example without the batch dim).

    Returns:
        The model's outputs, one row per example.
    """
    source = Path(source)
    model = load_model_file(RunDirectory(source).model if source.is_dir() else source)
    given = np.asarray(inputs)
    single = given.ndim == len(model.inputs[0].shape) - 1
    try:
        inputs = check_inputs(model, given[None] if single else given)
    except ShapeError:
        example = tuple("?" if d is None else d for d in model.inputs[0].shape[1:])
        raise ShapeError(
            f"input has shape {given.shape}, but model {model.name!r} takes one example of shape {example} or a "
            f"batch of shape (N, {', '.join(map(str, example))}); reshape the data to match"
        ) from None
    return np.asarray(model.predict(inputs, verbose=0))


def predict_texts(run_dir, texts, beam_width=None, attention_png=None):
    """Runs a finished run's model on raw texts (`keras-nn predict RUN_DIR TEXT`, `keras-nn translate`).

    Args:
        run_dir: a run of a task that reads text (`seq2seq`, `translation`, `sequence_classification` on text).
        texts: the input strings.
        beam_width: seq2seq and translation: beam width (1 is greedy; default the recipe's).
        attention_png: seq2seq and translation: also draw the attention of each input into this PNG.

    Returns:
        One dict per text: `input`, `output` (or `class`) and `score`.
    """
    run, config = open_run(run_dir)
    task = create_task(config["task"])
    model = load_model_file(run.model)
    rows = task.predict_texts(model, run, config, list(texts), beam_width=beam_width)
    if attention_png and rows and "attention" in rows[0]:
        plot_attention(
            [r.get("source_tokens", r["input"]) for r in rows],
            [r.get("output_tokens", r["output"]) for r in rows],
            [r["attention"] for r in rows],
            attention_png,
        )
    return rows
