"""A small ViT and a small distilled DeiT export to SavedModel, TFLite (float32, float16, dynamic range, int8)
and ONNX, run in the real runtimes like Keras, with builtin operators only (issue 11).

The exact GELU (Keras' "gelu", erf form, as timm and keras-hub) becomes TFLite's builtin GELU op and ONNX
`Erf` (bench/vit_gelu_export.py compares it with the tanh form).
"""

import numpy as np
import onnx
import pytest
from ai_edge_litert import schema_py_generated as tflite_schema

import keras_nn
from keras_nn.export import to_onnx, to_saved_model, to_tflite, verify

RNG = np.random.default_rng(0)
SMALL = dict(num_classes=5, input_shape=(16, 16, 3), patch_size=4, hidden_dim=32, depth=2, num_heads=2, mlp_dim=64)
IMAGES = RNG.random((32, 16, 16, 3), dtype=np.float32)
CALIBRATION = RNG.random((64, 16, 16, 3), dtype=np.float32)
BUILTIN_TFLITE_OPERATORS = {name for name in vars(tflite_schema.BuiltinOperator) if not name.startswith("_")} - {
    "CUSTOM"
}
# Softmax outputs; max |error| measured on the 32 images (random weights), ViT / distilled DeiT: TFLite float32
# 8.9e-8 / 6.0e-8, float16 6.2e-5 / 5.1e-5, dynamic range 1.1e-3 / 7.1e-4, int8 5.3e-3 / 4.2e-3 (top-1 agreement
# with float32 1.0 in every file); ONNX under 4.2e-7 (bench/vit_gelu_export.py, a larger ViT).
TOLERANCE = {None: 5e-6, "float16": 5e-4, "dynamic": 1e-2, "int8": 2e-2}


def randomized(model, seed=1):
    """Weights away from their initial values (zero biases, unit norms) so every parameter matters."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.2, w.shape).astype("float32") for w in model.get_weights()])
    return model


# The registered names at SMALL's size (the distilled DeiT keeps its drop path, off at inference):
# tests/export/test_every_model_exports.py leaves their export to this file (its EXPORTED_BY).
@pytest.fixture(scope="module", params=["vit_tiny_patch16_224", "deit_tiny_distilled_patch16_224"],
                ids=["vit", "deit_distilled"])
def model(request):
    return randomized(keras_nn.create_model(request.param, **SMALL))


def test_saved_model_and_onnx_parity(tmp_path, model):
    reference = np.asarray(model.predict(IMAGES, verbose=0))
    saved = verify(model, to_saved_model(model, tmp_path / "saved_model"), IMAGES, reference=reference)
    assert saved["max_abs_error"] < 1e-6, saved
    report = verify(model, to_onnx(model, tmp_path / "model.onnx"), IMAGES, reference=reference)
    assert report["max_abs_error"] < TOLERANCE[None] and report["repeat_max_abs_diff"] == 0.0, report
    assert report["operators"]["Erf"] == SMALL["depth"], report["operators"]  # the exact GELU, one per block
    assert {node.domain for node in onnx.load(tmp_path / "model.onnx").graph.node} <= {"", "ai.onnx"}
    assert report["top1_agreement"] == 1.0, report


# The quick run converts float32 and int8 (3-4 s a file); float16 and dynamic range run in the full suite.
@pytest.mark.parametrize(
    "quantize", [None, pytest.param("float16", marks=pytest.mark.slow), pytest.param("dynamic", marks=pytest.mark.slow), "int8"]
)
def test_tflite_parity_with_builtin_operators(tmp_path, model, quantize):
    reference = np.asarray(model.predict(IMAGES, verbose=0))
    path = to_tflite(model, tmp_path / "model.tflite", quantize=quantize, representative_data=CALIBRATION,
                     io_dtype="float32")
    report = verify(model, path, IMAGES, reference=reference)
    assert report["flex_operators"] == [] and set(report["operators"]) <= BUILTIN_TFLITE_OPERATORS, report
    assert report["operators"]["GELU"] == SMALL["depth"], report["operators"]  # fused, not erf pieces
    assert report["max_abs_error"] < TOLERANCE[quantize], report
    assert report["top1_agreement"] >= 0.95, report
    assert report["repeat_max_abs_diff"] == 0.0, report
