"""`NonMaxSuppression`: the best of overlapping detections, per class or across classes, padded to a fixed count."""

import keras
from keras import ops

from keras_nn.errors import ConfigError, ShapeError
from keras_nn.layers.detection.boxes import box_iou

# Boxes are normalized to [0, 1]; shifting each class's boxes by this much times its class id puts different
# classes' boxes apart (IoU 0), so one class-agnostic NMS call suppresses only within a class.
CLASS_OFFSET = 2.0


def best_class(boxes, scores, class_agnostic):
    """Each candidate's best class and score, and the boxes NMS compares (shifted by class unless agnostic)."""
    best = ops.max(scores, axis=-1)
    # The first class reaching the maximum, as argmax; keras.ops.argmax lowers to a BitwiseAnd on TensorFlow,
    # which TFLite has no builtin for.
    class_ids = ops.arange(scores.shape[-1], dtype="int32")
    classes = ops.min(ops.where(scores >= best[..., None], class_ids, scores.shape[-1]), axis=-1)
    if class_agnostic:
        return classes, best, boxes
    shift = ops.cast(classes, boxes.dtype)[..., None] * CLASS_OFFSET
    return classes, best, boxes + shift


def padded_detections(boxes, scores, classes, indices, count, max_detections):
    """Gathers the selected candidates of one image and zeroes the slots after `count`."""
    valid = ops.arange(max_detections) < count
    boxes = ops.where(valid[:, None], ops.take(boxes, indices, axis=0), 0.0)
    scores = ops.where(valid, ops.take(scores, indices, axis=0), 0.0)
    classes = ops.where(valid, ops.take(classes, indices, axis=0), 0)
    return boxes, scores, ops.cast(classes, "int32"), ops.cast(count, "int32")


def tensorflow_nms(boxes, scores, max_detections, iou_threshold, score_threshold, class_agnostic):
    """One image's NMS with `tf.image.non_max_suppression_with_scores` (TFLite's builtin
    NON_MAX_SUPPRESSION_V5, ONNX NonMaxSuppression through tf2onnx): `boxes [N, 4]`, `scores [N, C]` -> padded
    boxes, scores, classes, count.

    A box is kept when its score is above `score_threshold`; a box whose IoU with a kept, higher-scoring box is
    above `iou_threshold` is suppressed (TensorFlow's kernel). `tf.image.non_max_suppression_padded` is not used:
    in TensorFlow 2 it is a tiled pure-TensorFlow loop, not the NMS kernel that converters map to one operator.
    """
    import tensorflow as tf  # only on the TensorFlow backend: layers otherwise stay keras.ops

    classes, best, nms_boxes = best_class(boxes, scores, class_agnostic)
    # The kernel of `tf.image.non_max_suppression_with_scores`, asked for its padded form and its count: TFLite's
    # NON_MAX_SUPPRESSION_V5 always returns `max_output_size` indices (zeros after the valid ones), so a count
    # taken from the indices' shape is `max_detections` in a .tflite file; `valid_outputs` is right everywhere.
    indices, _, count = tf.raw_ops.NonMaxSuppressionV5(
        boxes=nms_boxes,
        scores=best,
        max_output_size=max_detections,
        iou_threshold=iou_threshold,
        score_threshold=score_threshold,
        soft_nms_sigma=0.0,
        pad_to_max_output_size=True,
    )
    return padded_detections(boxes, best, classes, indices, count, max_detections)


def greedy_nms(boxes, scores, max_detections, iou_threshold, score_threshold, class_agnostic):
    """`tensorflow_nms` in keras.ops for the other backends: sort by score, then walk the sorted list once,
    each kept box suppressing the later boxes that overlap it (the pairwise IoU matrix is computed once)."""
    classes, best, nms_boxes = best_class(boxes, scores, class_agnostic)
    candidates = best.shape[0]
    order = ops.argsort(-best)
    best, nms_boxes = ops.take(best, order, axis=0), ops.take(nms_boxes, order, axis=0)
    overlaps = box_iou(nms_boxes, nms_boxes) > iou_threshold
    positions = ops.arange(candidates)

    def visit(i, keep):
        suppressed = ops.take(overlaps, i, axis=0) & (positions > i) & ops.take(keep, i, axis=0)
        return keep & ops.logical_not(suppressed)

    keep = ops.fori_loop(0, candidates, visit, best > score_threshold)
    # The kept candidates, best first: rank them by position among those kept.
    slots = min(candidates, max_detections)
    _, picked = ops.top_k(ops.where(keep, candidates - positions, 0), k=slots)
    count = ops.minimum(ops.sum(ops.cast(keep, "int32")), max_detections)
    if slots < max_detections:
        picked = ops.pad(picked, [[0, max_detections - slots]])
    return padded_detections(
        ops.take(boxes, order, axis=0),
        best,
        ops.take(classes, order, axis=0),
        picked,
        count,
        max_detections,
    )


@keras.saving.register_keras_serializable(package="keras_nn")
class NonMaxSuppression(keras.layers.Layer):
    """Non-maximum suppression of a detector's candidate boxes, padded to `max_detections` per image.

    Each candidate takes its best class (the highest of its `C` scores). Candidates scoring at most
    `score_threshold` are dropped; going from the best score down, a candidate is kept unless its IoU with an
    already kept one is above `iou_threshold`. Per-class NMS (`class_agnostic=False`) shifts each box by
    `2 * class_id` before the comparison, so boxes of different classes never suppress each other within the
    one NMS call (the "class-offset" trick, which keeps a single builtin NMS op in exported files).

    On the TensorFlow backend this is `tf.image.non_max_suppression_with_scores` on each image (TFLite's builtin
    NON_MAX_SUPPRESSION_V5, ONNX's NonMaxSuppression through tf2onnx; `combined_non_max_suppression`, which
    needs Flex ops, is not used); on the other backends a keras.ops greedy implementation with the same
    semantics (`greedy_nms`). A batch with a static size is a loop over its images; an unknown batch size on
    TensorFlow uses `tf.map_fn`.

    Args:
        max_detections: detections kept per image (the outputs' fixed length).
        iou_threshold: IoU above which the lower-scoring box is suppressed.
        score_threshold: candidates must score above this.
        class_agnostic: one NMS over every class (True) or per class (False).
        **kwargs: `name`, ...

    Call arguments:
        inputs: `(boxes, scores)`: `[batch, N, 4]` corners `(x1, y1, x2, y2)` and `[batch, N, C]` scores
            (`YoloDecoder`'s outputs).

    Returns:
        A dict: `"boxes"` `[batch, max_detections, 4]` float32, `"scores"` `[batch, max_detections]` float32,
        `"classes"` `[batch, max_detections]` int32, sorted by score and zero after `"count"` `[batch]` int32.

    Example:
    >>> boxes = np.array([[[0, 0, 0.5, 0.5], [0, 0, 0.5, 0.45], [0.5, 0.5, 1, 1]]], "float32")
    >>> scores = np.array([[[0.9, 0.0], [0.8, 0.0], [0.0, 0.7]]], "float32")
    >>> detections = keras_nn.layers.NonMaxSuppression(max_detections=5)((boxes, scores))
    >>> int(detections["count"][0])
    2

    References:
        Redmon et al., "You Only Look Once: Unified, Real-Time Object Detection", CVPR 2016,
        https://arxiv.org/abs/1506.02640 (section 2.2: NMS adds 2-3% mAP to YOLO).
        Neubeck & Van Gool, "Efficient Non-Maximum Suppression", ICPR 2006.
    """

    def __init__(self, max_detections=100, iou_threshold=0.5, score_threshold=0.25, class_agnostic=False, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        if not isinstance(max_detections, int) or isinstance(max_detections, bool) or max_detections < 1:
            raise ConfigError(f"NonMaxSuppression: max_detections={max_detections!r} must be a positive integer")
        if not 0.0 <= float(iou_threshold) <= 1.0:
            raise ConfigError(f"NonMaxSuppression: iou_threshold={iou_threshold!r} must be in [0, 1]")
        if not 0.0 <= float(score_threshold) < 1.0:
            raise ConfigError(f"NonMaxSuppression: score_threshold={score_threshold!r} must be in [0, 1)")
        self.max_detections = max_detections
        self.iou_threshold = float(iou_threshold)
        self.score_threshold = float(score_threshold)
        self.class_agnostic = bool(class_agnostic)

    def _check(self, boxes_shape, scores_shape):
        if (
            len(boxes_shape) != 3
            or boxes_shape[-1] != 4
            or len(scores_shape) != 3
            or boxes_shape[1] is None
            or scores_shape[1] != boxes_shape[1]
        ):
            raise ShapeError(
                "NonMaxSuppression: inputs must be (boxes [batch, N, 4], scores [batch, N, classes]) with the same "
                f"static N; got {tuple(boxes_shape)} and {tuple(scores_shape)}"
            )

    def call(self, inputs):
        boxes, scores = inputs
        boxes, scores = ops.cast(boxes, "float32"), ops.cast(scores, "float32")
        self._check(boxes.shape, scores.shape)
        tensorflow = keras.backend.backend() == "tensorflow"
        suppress = tensorflow_nms if tensorflow else greedy_nms
        settings = (self.max_detections, self.iou_threshold, self.score_threshold, self.class_agnostic)
        if boxes.shape[0] is None and tensorflow:
            import tensorflow as tf  # an unknown batch size only arises in a TensorFlow graph

            signature = (
                tf.TensorSpec((self.max_detections, 4), "float32"),
                tf.TensorSpec((self.max_detections,), "float32"),
                tf.TensorSpec((self.max_detections,), "int32"),
                tf.TensorSpec((), "int32"),
            )
            results = tf.map_fn(
                lambda pair: suppress(pair[0], pair[1], *settings), (boxes, scores), fn_output_signature=signature
            )
        else:
            per_image = [suppress(boxes[i], scores[i], *settings) for i in range(boxes.shape[0])]
            results = [ops.stack(parts) for parts in zip(*per_image, strict=True)]
        return dict(zip(("boxes", "scores", "classes", "count"), results, strict=True))

    def compute_output_spec(self, inputs):
        boxes, scores = inputs
        self._check(boxes.shape, scores.shape)
        batch, slots = boxes.shape[0], self.max_detections
        return {
            "boxes": keras.KerasTensor((batch, slots, 4), "float32"),
            "scores": keras.KerasTensor((batch, slots), "float32"),
            "classes": keras.KerasTensor((batch, slots), "int32"),
            "count": keras.KerasTensor((batch,), "int32"),
        }

    def get_config(self):
        return {
            **super().get_config(),
            "max_detections": self.max_detections,
            "iou_threshold": self.iou_threshold,
            "score_threshold": self.score_threshold,
            "class_agnostic": self.class_agnostic,
        }
