"""Object detection data: images with boxes as tf.data pipelines, for YOLO-style detectors.

`load_detection_dataset("embedded:shapes" | "dir:PATH" | "coco:PATH.json" | "tfds:voc", ...)` returns a
`DetectionBundle` whose pipelines yield `(images [b, H, W, 3] in [0, 1], boxes [b, max_boxes, 5])`, each box row
`(class_id, x1, y1, x2, y2)` normalized, padding rows `class_id = -1`. `encode_grid_targets` turns boxes into
the grid target of `keras_nn.losses.YoloLoss`; `kmeans_anchors` clusters the boxes' shapes into YOLO v2 anchors.

Example:
    >>> from keras_nn.data.detection import encode_grid_targets, load_detection_dataset
    >>> bundle = load_detection_dataset("embedded:shapes", image_size=(96, 96), augment=True)
    >>> train = bundle.train.map(lambda x, b: (x, encode_grid_targets(b, 6, bundle.num_classes)))
"""

from keras_nn.data.detection.anchors import kmeans_anchors
from keras_nn.data.detection.augment import (
    DETECTION_AUGMENT_DEFAULTS,
    augment_detection,
    check_detection_augment,
)
from keras_nn.data.detection.bundle import DetectionBundle
from keras_nn.data.detection.loader import DETECTION_SCHEMES, load_detection_dataset
from keras_nn.data.detection.records import BAD_LABEL_MODES
from keras_nn.data.detection.scenes import SCENE_COUNTS, SHAPE_CLASSES, generate_scenes
from keras_nn.data.detection.targets import encode_grid_targets

__all__ = [
    "BAD_LABEL_MODES",
    "DETECTION_AUGMENT_DEFAULTS",
    "DETECTION_SCHEMES",
    "DetectionBundle",
    "SCENE_COUNTS",
    "SHAPE_CLASSES",
    "augment_detection",
    "check_detection_augment",
    "encode_grid_targets",
    "generate_scenes",
    "kmeans_anchors",
    "load_detection_dataset",
]
