"""Evaluation metrics: COCO detection mAP computed on numpy arrays outside the model (pycocotools), and the
reconstruction error of autoencoders as a Keras metric (`SquaredError`), and the classifier-based sample-quality
scores of generative models (`classifier_score`, `frechet_distance`), and language-model perplexity, bits per
character and the unigram/bigram baselines (`perplexity.py`)."""

from keras_nn.metrics.coco_evaluation import coco_evaluation
from keras_nn.metrics.generative import classifier_score, frechet_distance, gaussian_statistics
from keras_nn.metrics.perplexity import bits_per_character, ngram_log_probs, ngram_perplexity, perplexity
from keras_nn.metrics.reconstruction import SquaredError, squared_error_per_example

__all__ = [
    "SquaredError",
    "bits_per_character",
    "classifier_score",
    "coco_evaluation",
    "frechet_distance",
    "gaussian_statistics",
    "ngram_log_probs",
    "ngram_perplexity",
    "perplexity",
    "squared_error_per_example",
]
