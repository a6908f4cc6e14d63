"""Evaluation metrics: COCO detection mAP computed on numpy arrays outside the model (pycocotools), and the
reconstruction error of autoencoders as a Keras metric (`SquaredError`), and the classifier-based sample-quality
scores of generative models (`classifier_score`, `frechet_distance`)."""

from keras_nn.metrics.coco_evaluation import coco_evaluation
from keras_nn.metrics.generative import classifier_score, frechet_distance, gaussian_statistics
from keras_nn.metrics.reconstruction import SquaredError, squared_error_per_example

__all__ = [
    "SquaredError",
    "classifier_score",
    "coco_evaluation",
    "frechet_distance",
    "gaussian_statistics",
    "squared_error_per_example",
]
