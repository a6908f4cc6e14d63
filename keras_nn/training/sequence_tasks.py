"""Sequence tasks: text/sequence classification, tagging, forecasting and seq2seq, each a registered `Task`.

- `sequence_classification`: `classification` that also reads raw text. A text source (`tfds:imdb_reviews`, a
  folder of `.txt` files) is turned into token ids by a `TextVectorization` vocabulary adapted on the
  training split; the vocabulary is saved with the run (`vocabulary.txt`). Numeric sequences (digits read
  row by row) pass through as in `classification`.
- `tagging`: one label per step (`generated:date_fields`: the field of every character of a written date);
  padding is weighted out of the loss and the metrics.
- `forecasting`: window -> horizon regression on a generated series or a CSV column; reports the MAE in the
  series' units against the naive last-value forecast, and draws the forecasts (`forecast.png`).
- `seq2seq`: teacher-forced encoder-decoder training on the generated date task; evaluation decodes the
  held-out dates greedily and by beam search (exact match of each) and draws attention heat maps
  (`attention.png`).

Each task's own recipe keys live in `task_options` (see each class's `options`).
"""

import json
import logging
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from keras_nn.data import load_dataset
from keras_nn.errors import ConfigError, DataError, UnknownDatasetError
from keras_nn.models import create_model
from keras_nn.training.tasks import ClassificationTask, Task, build_optimizer, register_task
from keras_nn.viz.attention import plot_attention

logger = logging.getLogger(__name__)


def _model_arguments(config):
    return {key: value for key, value in config["model"].items() if key != "name"}


def _compile(model, config, steps_per_epoch, loss, metrics=None, weighted_metrics=None):
    training = config["training"]
    model.compile(
        optimizer=build_optimizer(config, steps_per_epoch),
        loss=loss,
        metrics=metrics,
        weighted_metrics=weighted_metrics,
        jit_compile=True if training["xla"] else "auto",
        steps_per_execution=training["steps_per_execution"],
    )


def _no_label_smoothing(config, task):
    if config["training"]["label_smoothing"]:
        raise ConfigError(f"training.label_smoothing is not supported by task {task!r}; set it to 0")


def _source_scheme(config, allowed, task):
    source = config["data"]["source"]
    if source not in allowed and not any(source.startswith(prefix) for prefix in allowed if prefix.endswith(":")):
        raise UnknownDatasetError(
            f"data.source={source!r} does not fit task {task!r}; use one of: {', '.join(allowed)}"
        )
    return source


def _load_generated_dates(loader, config):
    """Runs one of the generated date-task loaders of `keras_nn.data.dates` with the recipe's settings."""
    options, data = config["task_options"], config["data"]
    return loader(
        train_size=options["train_size"], validation_size=options["validation_size"],
        test_size=options["test_size"], years=options["years"], formats=options["formats"],
        batch_size=data["batch_size"], seed=config["training"]["seed"], shuffle_buffer=data["shuffle_buffer"],
        cache=data["cache"],
    )


# ------------------------------------------------------------------------------------ classification


class SequenceClassificationTask(ClassificationTask):
    """`classification` of sequences: numeric sequences as they are, raw text through a learned vocabulary.

    With `data.form: sequence` a text source (whose only form is `text`) is read as text and vectorized, so
    `--data tfds:imdb_reviews` needs no other change. The model gets `vocab_size` and `sequence_length` for
    text, `input_shape` otherwise.
    """

    name = "sequence_classification"
    options = {"max_tokens": 20000, "sequence_length": 200, "standardize": "lower_and_strip_punctuation"}

    def load_data(self, config):
        data = config["data"]
        try:
            bundle = super().load_data(config)
        except UnknownDatasetError:
            raise
        except ConfigError as error:
            # A text-only source asked for as "sequence": read it as text and vectorize it.
            if data["form"] != "sequence":
                raise
            try:
                bundle = load_dataset(**{**self._load_arguments(config), "form": "text"})
            except ConfigError:
                raise error from None
        if bundle.form != "text":
            return bundle
        from keras_nn.data.text import vectorize_bundle

        options = config["task_options"]
        return vectorize_bundle(
            bundle, options["max_tokens"], options["sequence_length"], options["standardize"],
            batch_size=data["batch_size"], seed=config["training"]["seed"], cache=data["cache"],
            shuffle_buffer=data["shuffle_buffer"],
        )

    @staticmethod
    def _load_arguments(config):
        data = config["data"]
        return {
            "source": data["source"], "form": data["form"], "batch_size": data["batch_size"],
            "image_size": data["image_size"], "data_dir": data["data_dir"],
            "validation_fraction": data["validation_fraction"], "test_fraction": data["test_fraction"],
            "seed": config["training"]["seed"], "cache": data["cache"], "shuffle_buffer": data["shuffle_buffer"],
            "label_column": data["label_column"], "timesteps": data["timesteps"],
        }

    def build_model(self, config, bundle):
        from keras_nn.data.text import TextBundle

        if not isinstance(bundle, TextBundle):
            return super().build_model(config, bundle)
        arguments = _model_arguments(config)
        arguments.setdefault("num_classes", bundle.num_classes)
        arguments.setdefault("vocab_size", bundle.vocab_size)
        arguments.setdefault("sequence_length", bundle.sequence_length)
        return create_model(config["model"]["name"], **arguments)

    def report(self, model, bundle, config, run_dir, metrics):
        from keras_nn.data.text import TextBundle, save_vocabulary

        if isinstance(bundle, TextBundle):
            save_vocabulary(bundle.vocabulary, run_dir)
            (Path(run_dir) / "classes.json").write_text(json.dumps(bundle.class_names))
        return {}

    def predict_texts(self, run_dir, model, config, texts, **_):
        """Class scores of raw texts with the run's saved vocabulary."""
        from keras_nn.data.text import load_vectorizer

        options = config["task_options"]
        vectorizer = load_vectorizer(run_dir, options["sequence_length"], options["standardize"])
        probabilities = np.asarray(model.predict(np.asarray(vectorizer(np.asarray(texts, dtype=object))), verbose=0))
        if getattr(model, "classifier_activation", "softmax") is None:
            probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(probabilities, axis=-1))
        names = json.loads((Path(run_dir) / "classes.json").read_text()) if (Path(run_dir) / "classes.json").is_file() else None
        rows = []
        for text, row in zip(texts, probabilities, strict=True):
            index = int(row.argmax())
            rows.append({"input": text, "class": names[index] if names else index, "score": float(row.max())})
        return rows


# ------------------------------------------------------------------------------------------- tagging


class TaggingTask(Task):
    """One label per step. Data: `generated:date_fields` (synthetic: tag each character of a written date as
    O, YEAR, MONTH, DAY or WEEKDAY). Tag id 0 is padding: it gets zero weight in the loss and metrics.

    Reports token accuracy, sequence accuracy (every real step right) and per-tag F1 (`tagging_report.json`).
    """

    name = "tagging"
    options = {"train_size": 10000, "validation_size": 500, "test_size": 1000, "years": [1950, 2049], "formats": None}

    def load_data(self, config):
        _source_scheme(config, ("generated:date_fields",), self.name)
        from keras_nn.data import dates

        return _load_generated_dates(dates.load_date_fields, config)

    def build_model(self, config, bundle):
        arguments = _model_arguments(config)
        arguments.setdefault("num_classes", bundle.num_classes)
        arguments.setdefault("vocab_size", len(_date_source_vocab()))
        arguments.setdefault("sequence_length", bundle.input_shape[0])
        return create_model(config["model"]["name"], **arguments)

    def compile(self, model, config, steps_per_epoch):
        _no_label_smoothing(config, self.name)
        from_logits = getattr(model, "classifier_activation", "softmax") is None
        _compile(
            model, config, steps_per_epoch,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
            weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )

    def fit_data(self, dataset, config, bundle):
        if dataset is None:
            return None
        import tensorflow as tf

        return dataset.map(lambda x, y: (x, y, tf.cast(tf.not_equal(y, 0), tf.float32)))

    def evaluate(self, model, bundle, config):
        metrics = super().evaluate(model, bundle, config)
        if bundle.test is not None:
            x, y = bundle.as_numpy("test")
            predicted = np.asarray(model.predict(x, verbose=0, batch_size=256)).argmax(-1)
            real = y != 0
            metrics["test_sequence_accuracy"] = round(float(np.mean(np.all((predicted == y) | ~real, axis=1))), 6)
        return metrics

    def report(self, model, bundle, config, run_dir, metrics):
        if bundle.test is None:
            return {}
        from sklearn.metrics import classification_report

        x, y = bundle.as_numpy("test")
        predicted = np.asarray(model.predict(x, verbose=0, batch_size=256)).argmax(-1)
        real = y != 0
        labels = list(range(1, bundle.num_classes))
        report = classification_report(
            y[real], predicted[real], labels=labels, target_names=bundle.class_names[1:], output_dict=True, zero_division=0
        )
        (Path(run_dir) / "tagging_report.json").write_text(json.dumps(report, indent=2))
        return {"test_macro_f1": round(float(report["macro avg"]["f1-score"]), 6)}


def _date_source_vocab():
    from keras_nn.data.dates import SOURCE_VOCAB

    return SOURCE_VOCAB


# ---------------------------------------------------------------------------------------- forecasting


class ForecastingTask(Task):
    """Multi-step forecasting of a series: windows of `window` steps -> the next `horizon` steps.

    Data: `generated:sine` (synthetic) or `dir:PATH.csv` with `task_options.columns` (the features) and
    `target_columns` (what is forecast; default the first column). The series is split chronologically and
    normalized with training statistics. Metrics in the series' own units: `test_mae`, `test_naive_mae` (the
    last observed value repeated over the horizon), `test_mae_ratio` (`mae / naive_mae`, below 1 beats the
    baseline) and `test_skill` (`1 - ratio`, higher is better), and the same for validation.
    """

    name = "forecasting"
    options = {
        "window": 72, "horizon": 24, "stride": 1, "columns": None, "target_columns": None,
        "series_length": 5000, "noise": 0.2, "loss": "mse", "plot_origins": 4,
    }

    def check_options(self, options):
        options = super().check_options(options)
        if options["loss"] not in ("mse", "mae", "huber"):
            raise ConfigError(f"task_options.loss={options['loss']!r} is not allowed; choose one of: mse, mae, huber")
        for key in ("columns", "target_columns"):
            if options[key] is not None and not (isinstance(options[key], list) and all(isinstance(c, str) for c in options[key])):
                raise ConfigError(f"task_options.{key}={options[key]!r} must be a list of column names, e.g. [temp]")
        return options

    def load_data(self, config):
        from keras_nn.data.timeseries import load_timeseries

        options, data = config["task_options"], config["data"]
        return load_timeseries(
            data["source"], window=options["window"], horizon=options["horizon"], columns=options["columns"],
            target_columns=options["target_columns"], stride=options["stride"], batch_size=data["batch_size"],
            validation_fraction=data["validation_fraction"], test_fraction=data["test_fraction"],
            seed=config["training"]["seed"], shuffle_buffer=data["shuffle_buffer"],
            series_length=options["series_length"], noise=options["noise"], cache=data["cache"],
        )

    def build_model(self, config, bundle):
        arguments = _model_arguments(config)
        arguments.setdefault("input_shape", tuple(bundle.input_shape))
        arguments.setdefault("horizon", bundle.horizon)
        arguments.setdefault("targets", list(bundle.targets))
        return create_model(config["model"]["name"], **arguments)

    def compile(self, model, config, steps_per_epoch):
        _no_label_smoothing(config, self.name)
        loss = {"mse": "mse", "mae": "mae", "huber": keras.losses.Huber()}[config["task_options"]["loss"]]
        _compile(model, config, steps_per_epoch, loss=loss, metrics=[keras.metrics.MeanAbsoluteError(name="normalized_mae")])

    def evaluate(self, model, bundle, config):
        metrics = super().evaluate(model, bundle, config)
        for split, prefix in (("validation", "val"), ("test", "test")):
            if bundle.bounds[split][1] - bundle.bounds[split][0] == 0:
                continue
            metrics.update({f"{prefix}_{k}": v for k, v in forecast_errors(model, bundle, split).items()})
        return metrics

    def report(self, model, bundle, config, run_dir, metrics):
        plot_forecasts(model, bundle, Path(run_dir) / "forecast.png", origins=config["task_options"]["plot_origins"])
        return {}

    def export(self, run_dir, model, bundle, config):
        from keras_nn.export import export_model

        section = config["export"]
        train_x, _ = bundle.windows("train")
        test_x, _ = bundle.windows("test")
        return export_model(
            model, Path(run_dir) / "export", formats=section["formats"], quantize=section["quantize"],
            representative_data=train_x[: section["representative_samples"]],
            verify_inputs=test_x[: section["verify_samples"]], rnn_form=section["rnn_form"],
            representative_samples=section["representative_samples"], benchmark_runs=section["benchmark_runs"],
        )


def forecast_errors(model, bundle, split="test"):
    """MAE of the model and of the naive last-value forecast on a split's windows, in the series' units."""
    x, y = bundle.windows(split)
    predicted = bundle.denormalize(model.predict(x, verbose=0, batch_size=512))
    actual = bundle.denormalize(y)
    naive = bundle.denormalize(np.repeat(x[:, -1:, bundle.targets], bundle.horizon, axis=1))
    mae = float(np.abs(predicted - actual).mean())
    naive_mae = float(np.abs(naive - actual).mean())
    ratio = mae / naive_mae if naive_mae > 0 else float("inf")
    return {
        "mae": round(mae, 6), "naive_mae": round(naive_mae, 6), "mae_ratio": round(ratio, 6),
        "skill": round(1.0 - ratio, 6),
    }


def plot_forecasts(model, bundle, path, origins=4):
    """Draws forecasts from `origins` evenly spaced test windows, one panel each: the window read, what
    followed, the model's forecast and the naive last-value forecast, in the series' units."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = bundle.windows("test")
    first, _ = bundle.bounds["test"]
    picks = sorted({int(i) for i in np.linspace(0, len(x) - 1, max(int(origins), 1))})
    predicted = bundle.denormalize(model.predict(x[picks], verbose=0))[..., 0]
    actual = bundle.denormalize(y[picks])[..., 0]
    target = bundle.targets[0]
    columns = min(len(picks), 2)
    rows = (len(picks) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(6.4 * columns, 3.2 * rows), squeeze=False)
    for n, axis in enumerate(axes.flat):
        if n >= len(picks):
            axis.axis("off")
            continue
        start = first + picks[n] * bundle.stride + bundle.window  # the first forecast step
        past = np.arange(start - bundle.window, start)
        future = np.arange(start, start + bundle.horizon)
        axis.plot(past, bundle.series[past, target], color="0.55", linewidth=1.0, label="window")
        axis.plot(future, actual[n], color="black", linewidth=1.2, label="actual")
        axis.plot(future, predicted[n], color="tab:blue", linewidth=1.8, label="forecast")
        axis.plot(future, np.full(bundle.horizon, bundle.series[start - 1, target]), color="tab:red", linestyle="--", linewidth=1.2, label="naive (last value)")
        axis.axvline(start - 0.5, color="0.8")
        axis.set_title(f"forecast from step {start}", fontsize=10)
        axis.set_ylabel(bundle.columns[target])
        axis.grid(alpha=0.3)
        if n == 0:
            axis.legend(loc="best", fontsize=8)
    errors = forecast_errors(model, bundle, "test")
    figure.suptitle(
        f"{bundle.source}: window {bundle.window} -> horizon {bundle.horizon}; test MAE {errors['mae']:.3f} vs naive "
        f"{errors['naive_mae']:.3f} (ratio {errors['mae_ratio']:.2f})"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)


# -------------------------------------------------------------------------------------------- seq2seq


def check_decoding_options(options):
    """Checks the beam search keys of a decoding task's `task_options`; returns them."""
    if not isinstance(options["beam_width"], int) or isinstance(options["beam_width"], bool) or options["beam_width"] < 1:
        raise ConfigError(f"task_options.beam_width={options['beam_width']!r} must be an integer >= 1")
    if not isinstance(options["length_penalty"], (int, float)) or options["length_penalty"] < 0:
        raise ConfigError(f"task_options.length_penalty={options['length_penalty']!r} must be a number >= 0")
    return options


class Seq2SeqTask(Task):
    """Encoder-decoder training with teacher forcing, evaluated by decoding.

    Data: `generated:dates` (synthetic: dates written in Korean and mixed English/numeric formats -> ISO
    dates; splits disjoint by date). Training minimizes the cross-entropy of the next target token given the
    true previous ones. Evaluation decodes the held-out sources greedily and by beam search and reports the
    exact-match accuracy of each (`test_exact_match_greedy`, `test_exact_match_beam`) beside the token
    accuracy; the report draws attention heat maps (`attention.png`) and writes sample translations
    (`samples.tsv`). Export writes the SavedModel of the training model and a `greedy_decode` endpoint;
    TFLite/ONNX are not produced for this two-input, step-decoded model (a note in `export/NOTES.md` says so).
    """

    name = "seq2seq"
    options = {
        "train_size": 30000, "validation_size": 1000, "test_size": 2000, "years": [1950, 2049], "formats": None,
        "beam_width": 4, "length_penalty": 0.6, "max_decode_length": None, "attention_plots": 4,
        "evaluate_validation": False,
    }

    def check_options(self, options):
        options = check_decoding_options(super().check_options(options))
        years = options["years"]
        if not (isinstance(years, list) and len(years) == 2 and all(isinstance(v, int) for v in years)):
            raise ConfigError(f"task_options.years={years!r} must be [first, last], e.g. [1950, 2049]")
        return options

    def load_data(self, config):
        _source_scheme(config, ("generated:dates",), self.name)
        from keras_nn.data import dates

        return _load_generated_dates(dates.load_dates, config)

    def build_model(self, config, bundle):
        arguments = _model_arguments(config)
        arguments.setdefault("source_vocab_size", bundle.source_vocab.size)
        arguments.setdefault("target_vocab_size", bundle.target_vocab.size)
        arguments.setdefault("source_length", bundle.source_length)
        arguments.setdefault("target_length", bundle.target_length)
        return create_model(config["model"]["name"], **arguments)

    def compile(self, model, config, steps_per_epoch):
        _no_label_smoothing(config, self.name)
        _compile(
            model, config, steps_per_epoch,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")],
        )

    def decode(self, model, bundle, config, split="test", limit=None):
        """Greedy and beam decoding of a split: `{"greedy": result, "beam": result, "pairs": texts}`."""
        options = config["task_options"]
        source, _, pairs = bundle.arrays(split, limit)
        max_length = options["max_decode_length"] or bundle.target_length
        started = time.perf_counter()
        greedy = model.greedy_decode(source, max_length=max_length)
        greedy_seconds = time.perf_counter() - started
        started = time.perf_counter()
        beam = model.beam_decode(source, beam_width=options["beam_width"], length_penalty=options["length_penalty"], max_length=max_length)
        beam_seconds = time.perf_counter() - started
        for result, seconds in ((greedy, greedy_seconds), (beam, beam_seconds)):
            result["texts"] = [bundle.target_vocab.decode(tokens) for tokens in result["tokens"]]
            result["seconds"] = seconds
        return {"greedy": greedy, "beam": beam, "pairs": pairs, "source": source}

    def evaluate(self, model, bundle, config):
        metrics = super().evaluate(model, bundle, config)
        splits = [("test", "test")]
        if config["task_options"]["evaluate_validation"]:
            splits.insert(0, ("validation", "val"))
        for split, prefix in splits:
            if not bundle.pairs.get(split):
                continue
            decoded = self.decode(model, bundle, config, split)
            targets = [target for _, target in decoded["pairs"]]
            for method in ("greedy", "beam"):
                scores = self.score(decoded[method]["texts"], targets)
                metrics.update({f"{prefix}_{name}_{method}": value for name, value in scores.items()})
                metrics[f"{prefix}_{method}_decode_seconds"] = round(decoded[method]["seconds"], 3)
        return metrics

    @staticmethod
    def score(texts, targets):
        """Metrics of decoded texts against their targets (`{name: value}`): the share of exact matches."""
        return {"exact_match": round(float(np.mean([a == b for a, b in zip(texts, targets, strict=True)])), 6)}

    def report(self, model, bundle, config, run_dir, metrics):
        run_dir = Path(run_dir)
        save_seq2seq_vocabularies(bundle, run_dir)
        if not bundle.pairs.get("test"):
            return {}
        count = max(int(config["task_options"]["attention_plots"]), 0)
        decoded = self.decode(model, bundle, config, "test", limit=200)
        lines = ["source\ttarget\tgreedy\tbeam"]
        for index, (source, target) in enumerate(decoded["pairs"]):
            lines.append(f"{source}\t{target}\t{decoded['greedy']['texts'][index]}\t{decoded['beam']['texts'][index]}")
        (run_dir / "samples.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        if count:
            picks = _varied_samples(decoded["pairs"], count)
            plot_attention(
                [decoded["pairs"][i][0] for i in picks],
                [decoded["beam"]["texts"][i] for i in picks],
                decoded["beam"]["attention"][picks],
                run_dir / "attention.png",
                title=f"{config['model']['name']} ({config['model'].get('attention', 'bahdanau')} attention), beam search",
            )
        return {}

    def export(self, run_dir, model, bundle, config):
        return export_seq2seq(run_dir, model, bundle, config)

    def predict_texts(self, run_dir, model, config, texts, beam_width=None, **_):
        """Decodes raw source texts: `[{"input", "output", "score"}]` (beam search unless `beam_width` is 1)."""
        source_vocab, _ = read_seq2seq_vocabularies(run_dir)
        length = model.get_config().get("source_length")
        encoded = []
        for text in texts:
            ids = source_vocab.encode(text)
            if length and len(ids) > length:
                raise DataError(f"input {text!r} has {len(ids) - 1} characters; this model reads at most {length - 1}")
            encoded.append(source_vocab.encode(text, length or max(len(source_vocab.encode(t)) for t in texts)))
        _, target_vocab = read_seq2seq_vocabularies(run_dir)
        options = config["task_options"]
        width = options["beam_width"] if beam_width is None else beam_width
        result = model.beam_decode(np.stack(encoded), beam_width=width, length_penalty=options["length_penalty"])
        return [
            {"input": text, "output": target_vocab.decode(tokens), "score": float(score), "attention": attention}
            for text, tokens, score, attention in zip(texts, result["tokens"], result["scores"], result["attention"], strict=True)
        ]


def _varied_samples(pairs, count):
    """Indices of up to `count` samples in different formats: Korean, named-month English, numeric..."""
    groups = [
        lambda s: "년" in s and "요일" in s,
        lambda s: any(c.isalpha() and c.isascii() for c in s),
        lambda s: "년" in s,
        lambda s: not any(c.isalpha() for c in s),
    ]
    picks = []
    for test in groups:
        index = next((i for i, (source, _) in enumerate(pairs) if test(source) and i not in picks), None)
        if index is not None:
            picks.append(index)
    picks += [i for i in range(len(pairs)) if i not in picks]
    return picks[:count]


def save_seq2seq_vocabularies(bundle, run_dir):
    """Writes both character vocabularies to `run_dir/vocabulary.json` (what `translate` reads back)."""
    path = Path(run_dir) / "vocabulary.json"
    path.write_text(
        json.dumps({"source": bundle.source_vocab.tokens, "target": bundle.target_vocab.tokens}, ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    return path


def read_seq2seq_vocabularies(run_dir):
    """The `(source, target)` `CharVocabulary` pair a seq2seq run saved (the built-in date ones if none)."""
    from keras_nn.data.dates import SOURCE_VOCAB, SPECIAL_TOKENS, TARGET_VOCAB, CharVocabulary

    path = Path(run_dir) / "vocabulary.json"
    if not path.is_file():
        return SOURCE_VOCAB, TARGET_VOCAB
    saved = json.loads(path.read_text(encoding="utf-8"))
    special = len(SPECIAL_TOKENS)
    return CharVocabulary(saved["source"][special:]), CharVocabulary(saved["target"][special:])


def greedy_decoder_function(model, source_length, target_length):
    """A `tf.function` of greedy decoding, `source [B, source_length] int32 -> {"tokens", "attention"}`.

    The decoder loop is unrolled over `target_length` steps, so the graph has one input and no tensor lists:
    TFLite converts it with builtin ops only and ONNX without a `Loop`, at any batch size.
    """
    import tensorflow as tf

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


def _write_seq2seq_tflite(saved_model_dir, path):
    import tensorflow as tf

    from keras_nn.export.tflite import _quiet_converter

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=["greedy_decode"])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    # The encoder's recurrent loop keeps a dynamic batch with builtin ops only (no Flex).
    converter._experimental_default_to_single_batch_in_tensor_list_ops = True
    with _quiet_converter():
        Path(path).write_bytes(converter.convert())
    return path


def _write_seq2seq_onnx(function, path):
    import logging

    import tf2onnx

    from keras_nn.export.onnx import DEFAULT_OPSET

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    tf2onnx.convert.from_function(
        function, input_signature=function.input_signature, opset=DEFAULT_OPSET, output_path=str(path)
    )
    return path


def _run_seq2seq_file(path, source):
    """`(tokens, attention)` of an exported greedy decoder run in its own runtime (TFLite or ONNX Runtime)."""
    if str(path).endswith(".tflite"):
        from ai_edge_litert.interpreter import Interpreter

        outputs = Interpreter(model_path=str(path)).get_signature_runner("greedy_decode")(source=source)
    else:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [output.name for output in session.get_outputs()]
        outputs = dict(zip(names, session.run(None, {session.get_inputs()[0].name: source}), strict=True))
    return np.asarray(outputs["tokens"]), np.asarray(outputs["attention"])


def export_seq2seq(run_dir, model, bundle, config):
    """Exports a seq2seq run: SavedModel (`serve(source, target_in) -> logits`, `greedy_decode(source)`) and the
    greedy decoder (`source -> tokens, attention`) as TFLite and ONNX, each checked against Keras.

    Parity (`parity.json`): every file's greedy tokens against Keras greedy decoding (`greedy_token_agreement`,
    share of identical sequences) and its attention weights (`max_abs_error`); the SavedModel's teacher-forced
    logits too. Each file runs twice (`repeat_max_abs_diff`).
    """
    import tensorflow as tf

    from keras_nn.training.trainer import _atomic_write_text

    export_dir = Path(run_dir) / "export"
    export_dir.mkdir(parents=True, exist_ok=True)
    formats = config["export"]["formats"]
    length = bundle.target_length
    greedy = greedy_decoder_function(model, bundle.source_length, length)
    source, target, _ = bundle.arrays("test", config["export"]["verify_samples"])
    source = source.astype(np.int32)
    reference = greedy(tf.constant(source))
    reference_tokens, reference_attention = reference["tokens"].numpy(), reference["attention"].numpy()
    keras_tokens = model.greedy_decode(source, max_length=length)["tokens"][:, :length]

    def agreement(tokens):
        decode = bundle.target_vocab.decode
        return float(np.mean([decode(a) == decode(b) for a, b in zip(tokens, keras_tokens, strict=True)]))

    files, parity = [], []
    # The TFLite converter reads the SavedModel, so it is written (to a scratch folder if not asked for).
    saved_model_dir = export_dir / "saved_model"
    with tempfile.TemporaryDirectory(dir=export_dir) as scratch:
        archive_dir = saved_model_dir if "savedmodel" in formats else Path(scratch) / "saved_model"
        source_spec = tf.TensorSpec((None, bundle.source_length), tf.int32, name="source")
        target_spec = tf.TensorSpec((None, length), tf.int32, name="target_in")
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(
            "serve", lambda source, target_in: model({"source": source, "target_in": target_in}, training=False),
            input_signature=[source_spec, target_spec],
        )
        archive.add_endpoint("greedy_decode", greedy.python_function, input_signature=[source_spec])
        archive.write_out(str(archive_dir), verbose=False)
        if "savedmodel" in formats:
            target_in = np.concatenate([np.full((len(target), 1), model.start_token, np.int32), target[:, :-1]], 1)
            target_in[target_in == model.end_token] = 0
            loaded = tf.saved_model.load(str(archive_dir))
            logits = loaded.serve(tf.constant(source), tf.constant(target_in)).numpy()
            keras_logits = np.asarray(model.predict({"source": source, "target_in": target_in}, verbose=0))
            runs = [loaded.greedy_decode(tf.constant(source)) for _ in range(2)]
            files.append(str(archive_dir))
            parity.append(
                {
                    "path": str(archive_dir), "format": "savedmodel", "runtime": "tensorflow",
                    "samples": int(len(source)), "logits_max_abs_error": float(np.abs(logits - keras_logits).max()),
                    "greedy_token_agreement": agreement(runs[0]["tokens"].numpy()),
                    "max_abs_error": float(np.abs(runs[0]["attention"].numpy() - reference_attention).max()),
                    "repeat_max_abs_diff": float(np.abs(runs[1]["attention"].numpy() - runs[0]["attention"].numpy()).max()),
                }
            )
        writers = {
            "tflite": lambda path: _write_seq2seq_tflite(archive_dir, path),
            "onnx": lambda path: _write_seq2seq_onnx(greedy, path),
        }
        for name in ("tflite", "onnx"):
            if name not in formats:
                continue
            path = writers[name](export_dir / f"greedy_decoder.{name}")
            (tokens, attention), (_, again) = _run_seq2seq_file(path, source), _run_seq2seq_file(path, source)
            files.append(str(path))
            parity.append(
                {
                    "path": str(path), "format": name, "runtime": "ai-edge-litert" if name == "tflite" else "onnxruntime",
                    "samples": int(len(source)), "greedy_token_agreement": agreement(tokens),
                    "token_match_exported_graph": float(np.mean(np.all(tokens == reference_tokens, axis=1))),
                    "max_abs_error": float(np.abs(attention - reference_attention).max()),
                    "repeat_max_abs_diff": float(np.abs(again - attention).max()),
                }
            )
    notes = [
        "# seq2seq export",
        "",
        "- `saved_model/`: `serve(source, target_in)` returns the teacher-forced logits of the training model; "
        "`greedy_decode(source)` returns `tokens` and `attention` of greedy decoding.",
        f"- `greedy_decoder.tflite`, `greedy_decoder.onnx`: the same greedy decoder, one int32 input `source` "
        f"[batch, {bundle.source_length}] of character ids, outputs `tokens` [batch, {length}] and `attention` "
        f"[batch, {length}, {bundle.source_length}]; the decoder loop is unrolled over {length} steps, builtin "
        "ops only. Character ids: `vocabulary.json` in the run directory.",
    ]
    _atomic_write_text(export_dir / "NOTES.md", "\n".join(notes) + "\n")
    _atomic_write_text(export_dir / "parity.json", json.dumps(parity, indent=2))
    return {"export_dir": str(export_dir), "files": files, "parity": parity}


def predict_run_texts(run_dir, texts, beam_width=None, attention_png=None):
    """Runs a finished run's model on raw texts (the `keras-nn predict RUN_DIR TEXT` / `translate` front end).

    Args:
        run_dir: a run of a task that reads text (`seq2seq`, `translation`, `sequence_classification` on text).
        texts: the input strings.
        beam_width: seq2seq and translation: beam width (1 is greedy; default the recipe's).
        attention_png: seq2seq and translation: also draw the attention of each input into this PNG.

    Returns:
        One dict per text: `input`, `output` (or `class`) and `score`.
    """
    from keras_nn.training.tasks import get_task
    from keras_nn.training.trainer import load_run

    model, config = load_run(run_dir)
    task = get_task(config["task"])
    if not hasattr(task, "predict_texts"):
        raise ConfigError(
            f"run {str(run_dir)!r} is a {config['task']!r} run, which takes .npy inputs, not text; give a .npy file"
        )
    if config["task"] == "sequence_classification" and not (Path(run_dir) / "vocabulary.txt").is_file():
        raise ConfigError(f"run {str(run_dir)!r} was not trained on text (no vocabulary.txt); give a .npy file")
    rows = task.predict_texts(run_dir, model, config, list(texts), beam_width=beam_width)
    if attention_png and rows and "attention" in rows[0]:
        plot_attention(
            [r.get("source_tokens", r["input"]) for r in rows], [r.get("output_tokens", r["output"]) for r in rows],
            [r["attention"] for r in rows], attention_png,
        )
    return rows


for _task in (SequenceClassificationTask(), TaggingTask(), ForecastingTask(), Seq2SeqTask()):
    register_task(_task)
