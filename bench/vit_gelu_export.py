"""What the exporters make of a small ViT's GELU: the exact (erf) form Keras' "gelu" computes, and the
approximate (tanh) form, side by side.

For each form the same weights go to TFLite (float32) and ONNX; the script prints every file's operator list,
its parity with the Keras model (max |error| of the softmax output on 16 random images) and the batch-1 latency
of all four files, timed interleaved in one run (`keras_nn.export.benchmark`). The small ViT: 32x32x3 images,
patch 4 (64 patches), width 64, depth 4, 4 heads, MLP 128, 10 classes; random weights (latency does not depend
on them).

    python bench/vit_gelu_export.py --runs 300 --threads 1
"""

import argparse
import functools
import json
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402

from keras_nn.export import benchmark, to_onnx, to_tflite, verify  # noqa: E402
from keras_nn.models import VisionTransformer  # noqa: E402

SMALL_VIT = dict(
    num_classes=10, input_shape=(32, 32, 3), patch_size=4, hidden_dim=64, depth=4, num_heads=4, mlp_dim=128
)


def small_vit(approximate):
    keras.utils.set_random_seed(0)
    model = VisionTransformer(**SMALL_VIT)
    if approximate:
        # The blocks build their MLP with "gelu" (erf); the tanh form is swapped in for this measurement only.
        for index in range(SMALL_VIT["depth"]):
            dense = model.get_layer(f"encoder_block_{index + 1}").intermediate_dense
            dense.activation = functools.partial(keras.activations.gelu, approximate=True)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    images = np.random.default_rng(0).random((16, 32, 32, 3), dtype=np.float32)
    results, paths = {}, []
    with tempfile.TemporaryDirectory() as directory:
        for form, approximate in (("erf", False), ("tanh", True)):
            model = small_vit(approximate)
            for kind, writer in (("tflite", to_tflite), ("onnx", to_onnx)):
                path = writer(model, os.path.join(directory, f"vit_{form}.{kind}"))
                report = verify(model, path, images)
                entry = {
                    "operators": dict(sorted(report["operators"].items())),
                    "flex_operators": report["flex_operators"],
                    "max_abs_error": report["max_abs_error"],
                }
                if kind == "onnx":
                    entry["opset"] = [(o.domain or "ai.onnx", o.version) for o in onnx.load(str(path)).opset_import]
                results[f"{form}.{kind}"] = entry
                paths.append(path)
        for row in benchmark(paths, images, runs=args.runs, num_threads=args.threads):
            results[os.path.basename(row["path"]).replace("vit_", "")]["median_ms"] = row["median_ms"]
            results[os.path.basename(row["path"]).replace("vit_", "")]["p90_ms"] = row["p90_ms"]
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
