"""`bert_classification`: `bert_classifier` fine-tuned from masked-LM pretraining, beside the same classifier
trained from random initialization with the same budget.

Data: labelled sentences (`keras_nn.data.sentence_labels`): `generated:acceptability` (the embedded default, a
synthetic CoLA-like set), `dir:FILE.csv|.tsv` or `tfds:glue/sst2`, framed as `[CLS] pieces [SEP]` by the
pretraining run's `BertTokenizer` (`keras_nn.data.bert_text`).

Pretraining comes from one of two places:

- `task_options.pretrained_run: PATH`, a `masked_language_model` run (its `model.keras` and `tokenizer/`, read by
  `load_pretrained_encoder`). The classifier is built with that encoder's sizes; a recipe `model` key that
  asks for another size (width, layers, heads, vocabulary...) or a run whose tokenizer does not match its
  encoder is refused before anything is written (one line, exit 2 from the CLI).
- `task_options.pretrained_run: null`: the run pretrains first, on `task_options.pretraining` (a text source,
  `generated:sentences` by default, and a budget in epochs), with the `masked_language_model` task itself (its
  data, masking, model, loss and fit), then fine-tunes. The masked LM, its tokenizer and its config are kept in
  the run's `pretraining/` folder, which is itself a `masked_language_model` run another fine-tune can start
  from.

The encoder weights are copied into `classifier.backbone`; the pooler and the classification layer start at
random (the masked-LM loss trains no pooler). A second `bert_classifier` of the same configuration, from random
initialization, trains on the same batches for the same epochs with the same optimizer and schedule
(`task_options.compare_from_scratch`). `metrics.json` has `test_accuracy` (fine-tuned) and
`test_accuracy_from_scratch`, their difference `test_accuracy_gain`, the accuracy on each corruption kind of
`generated:acceptability`, and the time each phase took; `report.md` has the table and `comparison_curves.png`
the two models' validation accuracy and training loss per epoch.

References:
    Devlin, Chang, Lee & Toutanova, "BERT: Pre-training of Deep Bidirectional Transformers for Language
    Understanding", NAACL 2019, https://arxiv.org/abs/1810.04805 (section 4: fine-tuning).
    Warstadt, Singh & Bowman, "Neural Network Acceptability Judgments" (CoLA), TACL 2019,
    https://arxiv.org/abs/1805.12471.
"""

import json
import time

import keras
import numpy as np
import tensorflow as tf

from keras_nn.config.export_plan import ModelExport
from keras_nn.config.recipe import dump_recipe
from keras_nn.config.recipe import validate as validate_recipe
from keras_nn.config.schema import Field
from keras_nn.data.bert_text import BertTokenizer
from keras_nn.data.bundle import SPLITS, DatasetBundle
from keras_nn.data.pipeline import batch_eval, batch_train, check_options
from keras_nn.data.sentence_labels import load_sentence_labels
from keras_nn.errors import ConfigError
from keras_nn.files import atomic_write_text, save_model
from keras_nn.models import create_model
from keras_nn.training.tasks.base import Task, check_source, model_arguments, uses_logits
from keras_nn.training.tasks.masked_language_model import MaskedLanguageModelTask, load_pretrained_encoder
from keras_nn.viz import markdown_table
from keras_nn.viz.comparison import plot_comparison_curves

SOURCES = ("generated:acceptability", "dir:", "tfds:")
#: The recipe `model` keys that fix the encoder's weights: a pretrained run must have the same.
ENCODER_KEYS = (
    "vocab_size", "num_layers", "hidden_dim", "num_heads", "intermediate_dim", "max_sequence_length", "num_segments",
)
#: Classifier-only keys, left out of the masked LM built from the same `model` section.
CLASSIFIER_KEYS = ("name", "num_classes", "classifier_activation")

PRETRAINING_OPTIONS = {
    "source": Field((str,), "generated:sentences", help="unlabelled text: generated:sentences, dir:PATH or tfds:NAME"),
    # 4 epochs on generated:sentences (held-out masked-token accuracy 0.61-0.68) gave no gain over random
    # initialization on generated:acceptability; 20 (0.80-0.86) gave +0.29 (README).
    "epochs": Field((int,), 20, minimum=1, help="epochs of masked-LM pretraining"),
    "batch_size": Field((int,), 64, minimum=1),
    "learning_rate": Field((float,), 1e-3, minimum=0.0),
    "task_options": Field((dict,), {}, help="the masked_language_model task's options (vocab_size, corpus_size, ...)"),
}


class BertClassificationTask(Task):
    """Sentence classification by a BERT encoder pretrained with masked LM, against one from random init."""

    name = "bert_classification"
    options = {
        "pretrained_run": Field(
            (str,), None, help="a masked_language_model run directory (null: pretrain in this run first)"
        ),
        "pretraining": PRETRAINING_OPTIONS,
        "sequence_length": Field((int,), 32, minimum=3, help="tokens per sentence with [CLS] and [SEP] (cut or padded)"),
        "compare_from_scratch": Field(
            (bool,), True, help="train the same classifier from random initialization with the same budget"
        ),
        "train_examples": Field((int,), 600, minimum=2, help="generated:acceptability training examples"),
        "validation_examples": Field((int,), 300, minimum=2, help="generated:acceptability validation examples"),
        "test_examples": Field((int,), 1000, minimum=2, help="generated:acceptability test examples"),
        "data_seed": Field((int,), 1, help="seed of generated:acceptability and of a table's split"),
    }

    # ------------------------------------------------------------------------------------------------ data

    def pretraining_config(self, config):
        """The `masked_language_model` recipe the inline pretraining runs: this recipe's model (as
        `bert_masked_lm`), optimizer, schedule and seed, on `task_options.pretraining`."""
        pretraining = config["task_options"]["pretraining"]
        model = {key: value for key, value in config["model"].items() if key not in CLASSIFIER_KEYS}
        raw = {
            "name": f"{config['name'] or 'bert_classification'} pretraining",
            "task": MaskedLanguageModelTask.name,
            # The sentences are framed to the classifier's length unless the pretraining says otherwise.
            "task_options": {"sequence_length": config["task_options"]["sequence_length"], **pretraining["task_options"]},
            "model": {**model, "name": "bert_masked_lm"},
            "data": {**config["data"], "source": pretraining["source"], "batch_size": pretraining["batch_size"]},
            "optimizer": {**config["optimizer"], "learning_rate": pretraining["learning_rate"]},
            "schedule": config["schedule"],
            "training": {**config["training"], "epochs": pretraining["epochs"], "early_stopping_patience": None},
            "export": {"formats": []},
        }
        resolved = validate_recipe(raw)
        return {**resolved, "task_options": MaskedLanguageModelTask.resolve_options(resolved["task_options"])}

    def load_data(self, config):
        options = config["task_options"]
        source = check_source(config, SOURCES, self.name)
        labelled = load_sentence_labels(
            source,
            seed=options["data_seed"],
            num_train=options["train_examples"],
            num_validation=options["validation_examples"],
            num_test=options["test_examples"],
            validation_fraction=config["data"]["validation_fraction"],
            test_fraction=config["data"]["test_fraction"],
            data_dir=config["data"]["data_dir"],
        )
        self.pretrained, self.pretraining_task, self.pretraining_data = None, None, None
        if options["pretrained_run"]:
            # Read and checked here, before the run writes a file.
            masked_lm, tokenizer, _ = load_pretrained_encoder(options["pretrained_run"])
            check_tokenizer(tokenizer, masked_lm, options["pretrained_run"])
            self.pretrained = masked_lm
        else:
            self.pretraining_config_ = self.pretraining_config(config)
            self.pretraining_task = MaskedLanguageModelTask()
            self.pretraining_data = self.pretraining_task.load_data(self.pretraining_config_)
            tokenizer = self.pretraining_data.tokenizer
        self.tokenizer, self.labelled = tokenizer, labelled
        self.encoded = {
            split: (tokenizer.encode_batch(texts, options["sequence_length"]), labels)
            for split, (texts, labels) in labelled.splits.items()
        }
        return encoded_bundle(self.encoded, labelled, options["sequence_length"], config)

    # ------------------------------------------------------------------------------------------- the model

    def classifier_arguments(self, config, bundle):
        """`create_model("bert_classifier", ...)` arguments: the recipe's, with the pretrained encoder's sizes."""
        arguments = model_arguments(config)
        arguments.setdefault("num_classes", bundle.num_classes)
        if self.pretrained is not None:
            encoder = self.pretrained.get_config()
            for key in ENCODER_KEYS:
                if key in arguments and arguments[key] != encoder[key]:
                    raise ConfigError(
                        f"model.{key}={arguments[key]!r} but the pretraining run "
                        f"{config['task_options']['pretrained_run']!r} has {key}={encoder[key]!r}; leave model.{key} "
                        "out (it comes from the run) or pretrain again with this size"
                    )
                arguments[key] = encoder[key]
        else:
            arguments["vocab_size"] = self.tokenizer.size
        length = config["task_options"]["sequence_length"]
        limit = arguments.get("max_sequence_length", 512)
        if length > limit:
            raise ConfigError(
                f"task_options.sequence_length={length} is longer than the encoder's max_sequence_length={limit}; "
                "shorten the sentences or raise model.max_sequence_length"
            )
        return arguments

    def build_model(self, config, bundle):
        if config["model"]["name"] != "bert_classifier":
            raise ConfigError(
                f"task {self.name!r} fine-tunes bert_classifier; model.name={config['model']['name']!r} is not it"
            )
        arguments = self.classifier_arguments(config, bundle)
        model = create_model("bert_classifier", **arguments)
        self.masked_lm = None
        if self.pretrained is not None:
            model.backbone.set_weights(self.pretrained.backbone.get_weights())
        else:
            self.masked_lm = self.pretraining_task.build_model(self.pretraining_config_, self.pretraining_data)
            check_same_encoder(self.masked_lm.backbone, model.backbone)
        self.scratch = (
            create_model("bert_classifier", **arguments) if config["task_options"]["compare_from_scratch"] else None
        )
        return model

    def compile(self, model, config, steps_per_epoch):
        self.reject_label_smoothing(config)
        for classifier in (model, self.scratch):
            if classifier is not None:
                self.compile_model(
                    classifier,
                    config,
                    steps_per_epoch,
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=uses_logits(classifier)),
                    metrics=["accuracy"],
                )
        if self.masked_lm is not None:
            pretraining = self.pretraining_config_
            steps = max(-(-self.pretraining_data.num_examples["train"] // pretraining["data"]["batch_size"]), 1)
            self.pretraining_task.compile(self.masked_lm, pretraining, steps)

    def side_models(self):
        return {name: getattr(self, name) for name in ("scratch", "masked_lm") if getattr(self, name) is not None}

    # ------------------------------------------------------------------------------------------------- fit

    def fit(self, model, bundle, config, callbacks, verbose):
        self.seconds, self.pretraining_metrics, self.scratch_history = {}, {}, None
        if self.masked_lm is not None:
            started = time.perf_counter()
            self.pretraining_task.fit(self.masked_lm, self.pretraining_data, self.pretraining_config_, [], verbose)
            self.seconds["pretraining"] = round(time.perf_counter() - started, 2)
            self.pretraining_metrics = self.pretraining_task.evaluate(
                self.masked_lm, self.pretraining_data, self.pretraining_config_
            )
            model.backbone.set_weights(self.masked_lm.backbone.get_weights())
        started = time.perf_counter()
        history = super().fit(model, bundle, config, callbacks, verbose)
        self.seconds["fine_tuning"] = round(time.perf_counter() - started, 2)
        if self.scratch is not None:
            started = time.perf_counter()
            self.scratch_history = super().fit(self.scratch, bundle, config, [], verbose).history
            self.seconds["from_scratch"] = round(time.perf_counter() - started, 2)
        self.history = history.history
        return history

    # ------------------------------------------------------------------------------------------- results

    def evaluate(self, model, bundle, config):
        metrics = super().evaluate(model, bundle, config)
        metrics.update(kind_accuracies(model, self.encoded, self.labelled, ""))
        if self.scratch is not None:
            scratch = super().evaluate(self.scratch, bundle, config)
            metrics.update({f"{key}_from_scratch": value for key, value in scratch.items()})
            metrics.update(kind_accuracies(self.scratch, self.encoded, self.labelled, "_from_scratch"))
            if "test_accuracy" in metrics:
                metrics["test_accuracy_gain"] = round(metrics["test_accuracy"] - metrics["test_accuracy_from_scratch"], 6)
        metrics.update({f"pretraining_{key}": value for key, value in self.pretraining_metrics.items()})
        metrics.update({f"{phase}_seconds": value for phase, value in self.seconds.items()})
        return metrics

    def report(self, model, bundle, config, run, metrics):
        self.tokenizer.save(run.tokenizer)
        run.class_names.write_text(json.dumps(bundle.class_names))
        if self.masked_lm is not None:
            # A masked_language_model run of its own: another fine-tune can name it as pretrained_run.
            pretraining = run.variant("pretraining")
            pretraining.root.mkdir(parents=True, exist_ok=True)
            save_model(self.masked_lm, pretraining.model)
            self.tokenizer.save(pretraining.tokenizer)
            atomic_write_text(pretraining.config, dump_recipe(self.pretraining_config_))
            atomic_write_text(pretraining.metrics, json.dumps(self.pretraining_metrics, indent=2))
        if self.scratch_history is not None:
            plot_comparison_curves(
                {"fine-tuned": [self.history], "from scratch": [self.scratch_history]},
                run.comparison_curves_png,
                title=f"bert_classifier on {bundle.source}: pretrained vs random initialization",
            )
        write_report(run, config, bundle, self.labelled, metrics)
        return {}

    def export_plan(self, model, bundle, config):
        section = config["export"]
        # Dict inputs (token_ids, segment_ids, padding_mask): the first examples of each split.
        train, _ = self.encoded["train"]
        test, labels = self.encoded.get("test", (None, None))
        representative = {key: value[: section["representative_samples"]] for key, value in train.items()}
        if test is None:
            return ModelExport(model, representative_data=representative)
        count = section["verify_samples"]
        inputs = {key: value[:count] for key, value in test.items()}
        return ModelExport(model, representative_data=representative, verify_inputs=inputs, verify_labels=labels[:count])

    def predict_texts(self, model, run, config, texts, beam_width=None):
        """Class scores of raw sentences with the run's saved tokenizer: `[{"input", "class", "score"}]`."""
        tokenizer = BertTokenizer.load(run.tokenizer)
        inputs = tokenizer.encode_batch(list(texts), config["task_options"]["sequence_length"])
        probabilities = np.asarray(model.predict(inputs, verbose=0))
        if uses_logits(model):
            probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(probabilities, axis=-1))
        names = json.loads(run.class_names.read_text()) if run.class_names.is_file() else None
        return [
            {"input": text, "class": names[int(row.argmax())] if names else int(row.argmax()), "score": float(row.max())}
            for text, row in zip(texts, probabilities, strict=True)
        ]


def check_tokenizer(tokenizer, masked_lm, run_dir):
    """Raises `ConfigError` when a pretraining run's tokenizer does not fit its encoder's vocabulary."""
    vocab_size = masked_lm.get_config()["vocab_size"]
    if tokenizer.size != vocab_size:
        raise ConfigError(
            f"pretraining run {str(run_dir)!r} has a tokenizer of {tokenizer.size} ids but an encoder of vocab_size "
            f"{vocab_size}; its tokenizer/ is not the one it was trained with: pretrain again"
        )


def check_same_encoder(pretrained, encoder):
    """Raises `ConfigError` unless two encoders have the same configuration (so weights copy across)."""
    mine, theirs = encoder.get_config(), pretrained.get_config()
    for key in ENCODER_KEYS:
        if mine[key] != theirs[key]:
            raise ConfigError(
                f"the masked LM's {key}={theirs[key]!r} differs from the classifier's {mine[key]!r}; give both the "
                "same model section"
            )


def encoded_bundle(encoded, labelled, sequence_length, config):
    """A `DatasetBundle` of `encoded` (`{split: (encoder-input dict, labels)}`), batched as the recipe says."""
    data = config["data"]
    opts = check_options(
        batch_size=data["batch_size"],
        image_size=None,
        validation_fraction=0.0,
        test_fraction=0.0,
        seed=config["training"]["seed"],
        cache=data["cache"],
        shuffle_buffer=data["shuffle_buffer"],
        normalize=False,
    )
    examples, counts = {}, {}
    for split in SPLITS:
        if split not in encoded:
            continue
        examples[split] = tf.data.Dataset.from_tensor_slices(encoded[split])
        counts[split] = len(encoded[split][1])
    return DatasetBundle(
        train=batch_train(examples["train"], opts),
        validation=batch_eval(examples["validation"], opts) if "validation" in examples else None,
        test=batch_eval(examples["test"], opts) if "test" in examples else None,
        num_classes=labelled.num_classes,
        input_shape=(sequence_length,),
        class_names=list(labelled.class_names),
        form="sequence",
        source=labelled.source,
        num_examples=counts,
        _examples={split: examples.get(split) for split in SPLITS},
    )


def kind_accuracies(model, encoded, labelled, suffix):
    """Test accuracy on each corruption kind (and the acceptable sentences) of `generated:acceptability`."""
    kinds = labelled.kinds.get("test")
    if not kinds or "test" not in encoded:
        return {}
    inputs, labels = encoded["test"]
    predicted = np.asarray(model.predict(inputs, batch_size=256, verbose=0)).argmax(-1)
    kinds = np.asarray(kinds)
    return {
        f"test_accuracy_{kind}{suffix}": round(float(np.mean(predicted[kinds == kind] == labels[kinds == kind])), 6)
        for kind in sorted(set(kinds.tolist()))
    }


def write_report(run, config, bundle, labelled, metrics):
    """`report.md`: fine-tuned against from-scratch accuracy, per corruption kind, and the time of each phase."""
    options = config["task_options"]
    source = options["pretrained_run"] or f"{options['pretraining']['source']} (pretrained in this run, pretraining/)"
    rows = [["test accuracy", "test_accuracy"], ["validation accuracy", "val_accuracy"]]
    kinds = sorted({key[len("test_accuracy_"):] for key in metrics if key.startswith("test_accuracy_")
                    and not key.endswith("_from_scratch") and key != "test_accuracy_gain"})
    rows += [[f"test accuracy, {kind}", f"test_accuracy_{kind}"] for kind in kinds]
    table = markdown_table(
        ["", "fine-tuned from masked-LM pretraining", "from random initialization"],
        [[label, _value(metrics, key), _value(metrics, f"{key}_from_scratch")] for label, key in rows],
        align=["left", "right", "right"],
    )
    counts = ", ".join(f"{split} {count}" for split, count in bundle.num_examples.items())
    lines = [
        f"# {config['name'] or 'bert_classification'}: fine-tuning a pretrained BERT encoder",
        "",
        f"Data: `{bundle.source}` ({counts} sentences; classes {', '.join(bundle.class_names)})."
        + (f" Note: {labelled.note}." if labelled.note else ""),
        f"Pretraining: masked LM on {source}. Both classifiers: `bert_classifier`, "
        f"{config['training']['epochs']} epochs, the same optimizer, schedule and batches.",
        "",
        table,
        "",
    ]
    if "test_accuracy_gain" in metrics:
        lines += [f"Fine-tuning gains {metrics['test_accuracy_gain']:+.4f} test accuracy over random initialization.", ""]
    seconds = [f"{key[:-8].replace('_', ' ')} {value:.1f} s" for key, value in metrics.items() if key.endswith("_seconds")]
    if seconds:
        lines += [f"Time: {', '.join(seconds)}.", ""]
    if "pretraining_val_masked_accuracy" in metrics:
        lines += [f"Held-out masked-token accuracy after pretraining: {metrics['pretraining_val_masked_accuracy']:.4f}.", ""]
    atomic_write_text(run.report, "\n".join(lines))


def _value(metrics, key):
    value = metrics.get(key)
    return "" if value is None else f"{value:.4f}"
