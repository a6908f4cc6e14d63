"""`RunDirectory`: the one object that names every file a run writes.

Training, the task reports, the export and the front ends all reach a run's files through it (`run.model`,
`run.history`, `run.export`, `run.subwords`, ...), so a file name is spelled in one place. It is created here, in
the run layer, and handed down: `keras_nn.training` and the tasks take it as an argument and never import this
module.
"""

from pathlib import Path

from keras_nn.training.tasks.energy import PRETRAINED_FOLDER


class RunDirectory:
    """The files of one run, under `root`.

    Every run: `config` (config.yaml, the resolved recipe), `checkpoints` (`backup` for `--resume`,
    `best_weights`), `model` (model.keras), `history` (history.csv), `metrics` (metrics.json), `curves`
    (curves.png), `logs` (TensorBoard), `export` (the export directory), `report` (report.md).

    Task reports: `confusion_png`, `confusion_csv`, `misclassified_png`, `grad_cam_png` (image classification);
    `text_vocabulary` (vocabulary.txt) and `class_names` (classes.json) of a text classifier; `tagging_report`;
    `forecast_png`; `char_vocabularies` (vocabulary.json) of a seq2seq run; `subwords` and `translation_lengths`
    (translation.json) of a translator; `samples` (samples.tsv), `attention_png` and `attention_dir` of the
    decoding tasks; `precision_recall_png` and `detections_png` (detection); `filters_png`, `gibbs_png` (rbm),
    `reconstructions_png`, `code_map_png` (autoencoder), `pretrained` (the RBMs a dbn or autoencoder run
    pretrained, and `pretraining.json`); `samples_png`, `samples_by_epoch_png`, `samples_gif`,
    `discriminator_png` (gan); `feature_map_png` (simclr).

    Experiments: `ablation_json`, `ablation_md` (an ablation's comparison, its runs in `variant(name)`),
    `comparison_json`, `comparison_md`, `comparison_curves_png`, `explanations_png` (a comparison of runs over
    seeds, its runs in `variant(run).variant(f"seed_{seed}")`),
    `summary_json`, `summary_md` (the quickstart's table, its runs in `variant(recipe)`).

    Args:
        root: the run directory.
    """

    def __init__(self, root):
        self.root = Path(root)
        root = self.root
        self.config = root / "config.yaml"
        self.checkpoints = root / "checkpoints"
        self.backup = self.checkpoints / "backup"
        self.best_weights = self.checkpoints / "best.weights.h5"
        self.model = root / "model.keras"
        self.history = root / "history.csv"
        self.metrics = root / "metrics.json"
        self.curves = root / "curves.png"
        self.logs = root / "logs"
        self.export = root / "export"
        self.report = root / "report.md"

        self.confusion_png = root / "confusion_matrix.png"
        self.confusion_csv = root / "confusion_matrix.csv"
        self.misclassified_png = root / "misclassified.png"
        self.grad_cam_png = root / "grad_cam.png"
        self.text_vocabulary = root / "vocabulary.txt"
        self.class_names = root / "classes.json"
        self.tagging_report = root / "tagging_report.json"
        self.forecast_png = root / "forecast.png"
        self.char_vocabularies = root / "vocabulary.json"
        self.subwords = root / "subwords"
        self.tokenizer = root / "tokenizer"
        self.translation_lengths = root / "translation.json"
        self.samples = root / "samples.tsv"
        self.attention_png = root / "attention.png"
        self.attention_dir = root / "attention"
        self.precision_recall_png = root / "precision_recall.png"
        self.detections_png = root / "detections.png"
        self.filters_png = root / "filters.png"
        self.gibbs_png = root / "gibbs_samples.png"
        self.reconstructions_png = root / "reconstructions.png"
        self.code_map_png = root / "code_map.png"
        self.samples_png = root / "samples.png"
        self.samples_by_epoch_png = root / "samples_by_epoch.png"
        self.samples_gif = root / "samples.gif"
        self.discriminator_png = root / "discriminator_accuracy.png"
        self.feature_map_png = root / "feature_map.png"
        self.pretrained = root / PRETRAINED_FOLDER

        self.ablation_json = root / "ablation.json"
        self.ablation_md = root / "ablation.md"
        self.comparison_json = root / "comparison.json"
        self.comparison_md = root / "comparison.md"
        self.comparison_curves_png = root / "comparison_curves.png"
        self.explanations_png = root / "explanations.png"
        self.summary_json = root / "summary.json"
        self.summary_md = root / "summary.md"

    def __repr__(self):
        return f"RunDirectory({str(self.root)!r})"

    def __fspath__(self):
        return str(self.root)

    def is_empty(self):
        """True when the directory does not exist or holds nothing."""
        return not self.root.exists() or not any(self.root.iterdir())

    def variant(self, name):
        """The run directory of one run of an experiment (an ablation variant, a quickstart recipe)."""
        return RunDirectory(self.root / name)

    def worker(self, task_id):
        """Where a non-chief worker of a multi-worker run writes its discarded copies."""
        return RunDirectory(self.root / f".worker-{task_id}")
