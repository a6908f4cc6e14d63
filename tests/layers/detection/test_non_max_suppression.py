import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from keras import ops

from keras_nn.errors import ConfigError
from keras_nn.layers import NonMaxSuppression, YoloDecoder
from keras_nn.layers.detection.non_max_suppression import greedy_nms, tensorflow_nms

# One image, five candidates, two classes.
BOXES = np.array(
    [
        [0.0, 0.0, 0.5, 0.5],  # 0: class 0, 0.9
        [0.02, 0.02, 0.52, 0.52],  # 1: class 0, 0.8, IoU 0.85 with 0: suppressed
        [0.01, 0.01, 0.51, 0.51],  # 2: class 1, 0.7, overlaps 0 (another class): kept unless class-agnostic
        [0.6, 0.6, 0.9, 0.9],  # 3: class 1, 0.6
        [0.6, 0.6, 0.9, 0.9],  # 4: class 0, 0.2: under the score threshold
    ],
    "float32",
)
SCORES = np.array([[0.9, 0.05], [0.8, 0.1], [0.1, 0.7], [0.0, 0.6], [0.2, 0.1]], "float32")


def run(layer, boxes=BOXES[None], scores=SCORES[None]):
    return {key: ops.convert_to_numpy(value) for key, value in layer((boxes, scores)).items()}


def expect(result, picks, max_detections, image=0):
    count = len(picks)
    assert result["count"][image] == count
    np.testing.assert_allclose(result["boxes"][image, :count], BOXES[picks])
    np.testing.assert_allclose(result["scores"][image, :count], SCORES[picks].max(-1))
    np.testing.assert_array_equal(result["classes"][image, :count], SCORES[picks].argmax(-1))
    assert not result["boxes"][image, count:].any() and not result["scores"][image, count:].any()
    assert not result["classes"][image, count:].any()
    assert result["boxes"].shape[1:] == (max_detections, 4)


def test_per_class_suppression():
    result = run(NonMaxSuppression(max_detections=6))
    assert result["classes"].dtype == np.int32 and result["count"].dtype == np.int32
    assert result["boxes"].dtype == np.float32
    expect(result, [0, 2, 3], 6)


def test_class_agnostic_suppresses_across_classes():
    expect(run(NonMaxSuppression(max_detections=6, class_agnostic=True)), [0, 3], 6)


def test_score_and_iou_thresholds_and_max_detections():
    expect(run(NonMaxSuppression(max_detections=6, score_threshold=0.65)), [0, 2], 6)
    expect(run(NonMaxSuppression(max_detections=6, score_threshold=0.1)), [0, 2, 3, 4], 6)
    expect(run(NonMaxSuppression(max_detections=2)), [0, 2], 2)
    # IoU(0, 1) = 0.85: a threshold above it keeps both.
    expect(run(NonMaxSuppression(max_detections=6, iou_threshold=0.9)), [0, 1, 2, 3], 6)
    expect(run(NonMaxSuppression(max_detections=3, score_threshold=0.95)), [], 3)


def test_each_image_of_a_batch_separately():
    boxes = np.stack([BOXES, BOXES[::-1]])
    scores = np.stack([SCORES, SCORES[::-1]])
    result = run(NonMaxSuppression(max_detections=4), boxes, scores)
    np.testing.assert_array_equal(result["count"], [3, 3])
    np.testing.assert_allclose(result["boxes"][1, :3], result["boxes"][0, :3])


@pytest.mark.parametrize("class_agnostic", [False, True])
@pytest.mark.parametrize("max_detections", [3, 40])
def test_tensorflow_and_keras_ops_implementations_agree(class_agnostic, max_detections):
    rng = np.random.default_rng(7)
    centers = rng.random((30, 2)) * 0.8 + 0.1
    sizes = rng.random((30, 2)) * 0.3 + 0.05
    boxes = np.concatenate([centers - sizes / 2, centers + sizes / 2], -1).astype("float32")
    scores = rng.random((30, 3)).astype("float32")
    settings = (max_detections, 0.3, 0.4, class_agnostic)
    reference = [ops.convert_to_numpy(x) for x in tensorflow_nms(boxes, scores, *settings)]
    greedy = [ops.convert_to_numpy(x) for x in greedy_nms(boxes, scores, *settings)]
    assert 2 <= reference[3] <= max_detections
    for expected, actual in zip(reference, greedy, strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-6)


def test_config_and_bad_arguments():
    layer = NonMaxSuppression(max_detections=7, iou_threshold=0.4, score_threshold=0.1, class_agnostic=True)
    assert NonMaxSuppression.from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.raises(ConfigError, match="max_detections=0"):
        NonMaxSuppression(max_detections=0)
    with pytest.raises(ConfigError, match="iou_threshold=1.5"):
        NonMaxSuppression(iou_threshold=1.5)


def test_unknown_batch_size_in_a_graph():
    boxes = keras.Input((5, 4), name="boxes")
    scores = keras.Input((5, 2), name="scores")
    model = keras.Model([boxes, scores], NonMaxSuppression(max_detections=4)((boxes, scores)))
    result = model.predict([np.stack([BOXES] * 3), np.stack([SCORES] * 3)], verbose=0)
    np.testing.assert_array_equal(result["count"], [3, 3, 3])


def test_decoder_and_nms_convert_to_tflite_builtins(tmp_path):
    decoder = YoloDecoder(boxes_per_cell=2, num_classes=3)
    nms = NonMaxSuppression(max_detections=5, score_threshold=0.2)

    @tf.function(input_signature=[tf.TensorSpec((1, 4, 4, 13), tf.float32)])
    def detect(grid):
        return nms(decoder(grid))

    converter = tf.lite.TFLiteConverter.from_concrete_functions([detect.get_concrete_function()], detect)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    path = tmp_path / "nms.tflite"
    path.write_bytes(converter.convert())
    interpreter = Interpreter(model_path=str(path))
    operators = {detail["op_name"] for detail in interpreter._get_ops_details()}
    assert "NON_MAX_SUPPRESSION_V5" in operators and "FLEX" not in " ".join(operators)
    grid = np.random.default_rng(3).random((1, 4, 4, 13)).astype("float32")
    grid[..., 10:] /= grid[..., 10:].sum(-1, keepdims=True)
    expected = {key: value.numpy() for key, value in detect(tf.constant(grid)).items()}
    assert expected["count"][0] >= 2
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], grid)
    interpreter.invoke()
    # The outputs differ in shape or dtype, which names them.
    outputs = {
        (tuple(detail["shape"]), np.dtype(detail["dtype"]).name): interpreter.get_tensor(detail["index"])
        for detail in interpreter.get_output_details()
    }
    assert len(outputs) == 4
    for value in expected.values():
        np.testing.assert_allclose(outputs[value.shape, value.dtype.name], value, rtol=1e-5, atol=1e-6)
