"""Evaluation metrics computed outside the model, on numpy arrays: COCO detection mAP (pycocotools)."""

from keras_nn.metrics.coco_evaluation import coco_evaluation

__all__ = ["coco_evaluation"]
