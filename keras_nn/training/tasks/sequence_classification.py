"""`sequence_classification`: `classification` that also reads raw text.

A text source (`tfds:imdb_reviews`, a folder of `.txt` files) is turned into token ids by a `TextVectorization`
vocabulary adapted on the training split; the vocabulary and the class names are saved with the run, and the
text front end (`keras-nn predict RUN_DIR "text"`) reads them back. Numeric sequences (digits read row by row)
pass through as in `classification`.
"""

import json

import keras
import numpy as np

from keras_nn.config.schema import Field
from keras_nn.data import load_dataset
from keras_nn.data.text import STANDARDIZE, TextBundle, load_vectorizer, save_vocabulary, vectorize_bundle
from keras_nn.errors import ConfigError, UnknownDatasetError
from keras_nn.models import create_model
from keras_nn.training.tasks.base import dataset_arguments, model_arguments, pipeline_arguments, uses_logits
from keras_nn.training.tasks.classification import ClassificationTask


class SequenceClassificationTask(ClassificationTask):
    """`classification` of sequences: numeric sequences as they are, raw text through a learned vocabulary.

    With `data.form: sequence` a text source (whose only form is `text`) is read as text and vectorized, so
    `--data tfds:imdb_reviews` needs no other change. The model gets `vocab_size` and `sequence_length` for
    text, `input_shape` otherwise.
    """

    name = "sequence_classification"
    options = {
        "max_tokens": Field((int,), 20000, minimum=2, help="vocabulary size, padding and unknown included"),
        "sequence_length": Field((int,), 200, minimum=1, help="tokens per text (padded or cut)"),
        "standardize": Field((str,), "lower_and_strip_punctuation", choices=STANDARDIZE, nullable=True),
    }

    def load_data(self, config):
        try:
            bundle = super().load_data(config)
        except UnknownDatasetError:
            raise
        except ConfigError as error:
            # A text-only source asked for as "sequence": read it as text and vectorize it.
            if config["data"]["form"] != "sequence":
                raise
            try:
                bundle = load_dataset(**{**dataset_arguments(config), "form": "text"})
            except ConfigError:
                raise error from None
        if bundle.form != "text":
            return bundle
        options = config["task_options"]
        return vectorize_bundle(
            bundle, options["max_tokens"], options["sequence_length"], options["standardize"],
            **pipeline_arguments(config),
        )

    def build_model(self, config, bundle):
        if not isinstance(bundle, TextBundle):
            return super().build_model(config, bundle)
        arguments = model_arguments(config)
        arguments.setdefault("num_classes", bundle.num_classes)
        arguments.setdefault("vocab_size", bundle.vocab_size)
        arguments.setdefault("sequence_length", bundle.sequence_length)
        return create_model(config["model"]["name"], **arguments)

    def report(self, model, bundle, config, run, metrics):
        if isinstance(bundle, TextBundle):
            save_vocabulary(bundle.vocabulary, run.text_vocabulary)
            run.class_names.write_text(json.dumps(bundle.class_names))
        return {}

    def predict_texts(self, model, run, config, texts, beam_width=None):
        """Class scores of raw texts with the run's saved vocabulary: `[{"input", "class", "score"}]`."""
        if not run.text_vocabulary.is_file():
            raise ConfigError(
                f"run {str(run.root)!r} was not trained on text (no {run.text_vocabulary.name}); give a .npy file"
            )
        options = config["task_options"]
        vectorizer = load_vectorizer(run.text_vocabulary, options["sequence_length"], options["standardize"])
        probabilities = np.asarray(model.predict(np.asarray(vectorizer(np.asarray(texts, dtype=object))), verbose=0))
        if uses_logits(model):
            probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(probabilities, axis=-1))
        names = json.loads(run.class_names.read_text()) if run.class_names.is_file() else None
        rows = []
        for text, row in zip(texts, probabilities, strict=True):
            index = int(row.argmax())
            rows.append({"input": text, "class": names[index] if names else index, "score": float(row.max())})
        return rows
