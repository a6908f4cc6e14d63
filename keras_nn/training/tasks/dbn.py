"""`dbn`: a deep belief net pretrained greedily on every training input, then fine-tuned as a classifier on a
share of the labels (`task_options.label_fraction`), the few-labels setting where pretraining pays
(Hinton, Osindero & Teh 2006). `pretrain.enabled: false` trains the same net from a random start with the same
fine-tuning budget: the baseline the `dbn_pretraining` recipe compares against."""

from keras_nn.config.schema import Field
from keras_nn.data.binary import labelled_bundle
from keras_nn.training.tasks.classification import ClassificationTask
from keras_nn.training.tasks.energy import PretrainedStackTask


class DBNTask(PretrainedStackTask, ClassificationTask):
    """Greedy RBM pretraining on all training inputs, then cross-entropy fine-tuning on the labelled share."""

    name = "dbn"
    model_names = "dbn"
    options = {
        **PretrainedStackTask.options,
        "label_fraction": Field(
            (float,), 1.0, minimum=0.0, maximum=1.0,
            help="share of the training labels fine-tuning sees (stratified; pretraining sees every input)",
        ),
    }

    def load_data(self, config):
        bundle = super().load_data(config)
        # Pretraining uses no labels, so it learns from every training input, labelled or not.
        self.unlabelled_images, _ = bundle.as_numpy("train")
        bundle, self.labelled_examples = labelled_bundle(
            bundle, config["task_options"]["label_fraction"], config["training"]["seed"], config["data"]["batch_size"]
        )
        return bundle

    def build_network(self, config, bundle):
        return ClassificationTask.build_model(self, config, bundle)

    def pretraining_images(self, bundle):
        return self.unlabelled_images

    def report(self, model, bundle, config, run, metrics):
        return {
            "label_fraction": config["task_options"]["label_fraction"],
            "labelled_examples": int(self.labelled_examples),
            **self.report_pretraining(run, config),
        }
