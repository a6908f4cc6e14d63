"""Evaluation metrics: COCO detection mAP computed on numpy arrays outside the model (pycocotools), and the
reconstruction error of autoencoders as a Keras metric (`SquaredError`)."""

from keras_nn.metrics.coco_evaluation import coco_evaluation
from keras_nn.metrics.reconstruction import SquaredError, squared_error_per_example

__all__ = ["SquaredError", "coco_evaluation", "squared_error_per_example"]
