"""Latency and FPS of an exported detector: batch-1 model calls and end-to-end `detect` on a generated video.

Takes a detection run directory (its `export/`) or an export directory. Two tables, each from one run that
interleaves what it compares:

1. Batch-1 latency of every detector file there (`model.tflite` float32, `model.int8.tflite`, `model.onnx`):
   one call of the edge kit's `DetectorRunner` (set the image, invoke, read boxes, scores, classes and count;
   decoding and NMS are inside the file), round by round with the order rotating, on one frame of the video
   preprocessed as `detect` does it. Ratios against the float32 TFLite file.
2. End-to-end FPS of `detect` (`keras_nn.edge.run_detector.detect_stream`: read a frame, resize, BGR->RGB,
   /255, the model, scale and draw the boxes and the FPS, write the annotated mp4) over the whole video, one
   pass per file per round, the order rotating each round; the median pass per file. `--keras` adds the Keras
   model's `YOLO.detect` through the same loop.

The video is generated (seeded): coloured circles, squares and triangles drifting over a textured background,
`--frames` frames of `--size` pixels, written with OpenCV's mp4v codec.

    python bench/detector_bench.py runs/detection                    # about a minute on the 2-core CPU
    python bench/detector_bench.py runs/detection --threads 2 --runs 500 --frames 300 --keras --json det.json
"""

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from keras_nn.edge.bench_device import time_runners  # noqa: E402
from keras_nn.edge.contract import LABELS_FILE, ONNX_FILE, tflite_file  # noqa: E402
from keras_nn.edge.run_detector import DetectorRunner, detect_stream, load_labels, preprocess  # noqa: E402

FILES = (tflite_file(), tflite_file("int8"), ONNX_FILE)


class TimedDetector:
    """A `DetectorRunner` in the shape `time_runners` times: `prepare` once, `invoke_prepared` per round."""

    def __init__(self, runner):
        self.runner = runner

    def prepare(self, image):
        return np.ascontiguousarray(image, np.float32)

    def invoke_prepared(self, image):
        return self.runner(image)


def generate_video(path, frames, width, height, seed=0):
    """A seeded clip of shapes drifting over a textured background; returns the path."""
    rng = np.random.default_rng(seed)
    background = cv2.GaussianBlur(rng.integers(60, 200, (height, width, 3), dtype=np.uint8), (0, 0), 3)
    shapes = [
        {
            "kind": kind,
            "pos": rng.uniform([0.1 * width, 0.1 * height], [0.9 * width, 0.9 * height]),
            "vel": rng.uniform(-3, 3, 2),
            "size": float(rng.uniform(0.06, 0.18) * min(width, height)),
            "color": tuple(int(c) for c in rng.integers(0, 256, 3)),
        }
        for kind in ("circle", "square", "triangle", "circle", "square")
    ]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (width, height))
    for _ in range(frames):
        frame = background.copy()
        for s in shapes:
            s["pos"] = np.clip(s["pos"] + s["vel"], s["size"], [width - s["size"], height - s["size"]])
            x, y, r = int(s["pos"][0]), int(s["pos"][1]), int(s["size"])
            if s["kind"] == "circle":
                cv2.circle(frame, (x, y), r, s["color"], cv2.FILLED)
            elif s["kind"] == "square":
                cv2.rectangle(frame, (x - r, y - r), (x + r, y + r), s["color"], cv2.FILLED)
            else:
                points = np.array([[x, y - r], [x - r, y + r], [x + r, y + r]], np.int32)
                cv2.fillPoly(frame, [points], s["color"])
        writer.write(frame)
    writer.release()
    return Path(path)


def first_frame(video):
    capture = cv2.VideoCapture(str(video))
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise SystemExit(f"cannot read the generated video {video}")
    return frame


def keras_detect(run_dir, score_threshold=None):
    """The Keras model's `YOLO.detect` as a frame-loop detector (TensorFlow is loaded only for this)."""
    from keras_nn.runs.detect import keras_detector
    from keras_nn.runs.load import load_model_file
    from keras_nn.runs.run_directory import RunDirectory

    model = load_model_file(RunDirectory(run_dir).model)
    return keras_detector(model, score_threshold), model.image_size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a detection run directory (its export/) or an export directory")
    parser.add_argument("--runs", type=int, default=200, help="timed batch-1 calls per file")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="runtime CPU threads (default: the runtime's)")
    parser.add_argument("--frames", type=int, default=150, help="frames of the generated video")
    parser.add_argument("--size", default="640x480", help="WIDTHxHEIGHT of the generated video")
    parser.add_argument("--rounds", type=int, default=3, help="end-to-end passes over the video per file")
    parser.add_argument("--keras", action="store_true", help="also run the Keras model's detect end to end")
    parser.add_argument(
        "--score-threshold", type=float, default=None, help="--keras: its NMS score threshold (set it to the export's)"
    )
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    run_dir = Path(args.run_dir)
    export = run_dir / "export" if (run_dir / "export").is_dir() else run_dir
    paths = [export / name for name in FILES if (export / name).is_file()]
    if not paths:
        raise SystemExit(f"{export} holds none of {', '.join(FILES)}; run keras-nn export on the run first")
    runners = {p.name: DetectorRunner(str(p), num_threads=args.threads) for p in paths}
    labels = load_labels(str(export / LABELS_FILE)) if (export / LABELS_FILE).is_file() else []
    width, height = (int(v) for v in args.size.lower().split("x"))
    input_size = next(iter(runners.values())).input_size

    scratch = Path(tempfile.mkdtemp(prefix="detector-bench-"))
    try:
        video = generate_video(scratch / "clip.mp4", args.frames, width, height)
        sample = preprocess(first_frame(video), input_size)
        latency = time_runners(
            {name: TimedDetector(r) for name, r in runners.items()}, sample, warmup=args.warmup, runs=args.runs
        )
        detectors = {name: (r, r.input_size) for name, r in runners.items()}
        if args.keras:
            detectors["keras (YOLO.detect)"] = keras_detect(run_dir, args.score_threshold)
        passes = {name: [] for name in detectors}
        names = list(detectors)
        for round_index in range(args.rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                detect, size = detectors[name]
                output = scratch / f"out-{round_index}-{len(passes[name])}.mp4"
                summary = detect_stream(detect, size, str(video), str(output), labels, model=name)
                passes[name].append(summary)
                output.unlink()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    base = latency[0]["median_ms"]
    print(f"batch-1 latency, {args.runs} interleaved calls, input {input_size[1]}x{input_size[0]} (ratio: median / {latency[0]['name']})")
    print(f"{'file':<22}{'size KB':>9}{'median ms':>11}{'p90 ms':>9}{'FPS':>9}{'ratio':>8}")
    for row, path in zip(latency, paths, strict=True):
        row["size_kb"] = path.stat().st_size / 1024
        row["fps"] = 1000.0 / row["median_ms"]
        print(
            f"{row['name']:<22}{row['size_kb']:>9.1f}{row['median_ms']:>11.3f}{row['p90_ms']:>9.3f}"
            f"{row['fps']:>9.1f}{row['median_ms'] / base:>8.2f}"
        )
    by_name = {row["name"]: row for row in latency}
    if tflite_file() in by_name and tflite_file("int8") in by_name:
        speedup = by_name[tflite_file()]["median_ms"] / by_name[tflite_file("int8")]["median_ms"]
        print(f"int8 speed-up over float32 TFLite: {speedup:.2f}x")

    end_to_end = []
    for name, summaries in passes.items():
        fps = [s["fps"] for s in summaries]
        best = summaries[int(np.argsort(fps)[len(fps) // 2])]
        end_to_end.append({"name": name, "fps": float(np.median(fps)), "fps_passes": fps, **{
            k: best[k] for k in ("frames", "mean_latency_ms", "p90_latency_ms", "detections")}})
    base_fps = end_to_end[0]["fps"]
    print(f"\nend-to-end detect, {args.frames} frames of {width}x{height}, {args.rounds} interleaved passes (median)")
    print(f"{'detector':<22}{'FPS':>8}{'model mean ms':>15}{'model p90 ms':>14}{'detections':>12}{'ratio':>8}")
    for row in end_to_end:
        print(
            f"{row['name']:<22}{row['fps']:>8.1f}{row['mean_latency_ms']:>15.3f}{row['p90_latency_ms']:>14.3f}"
            f"{row['detections']:>12}{row['fps'] / base_fps:>8.2f}"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "machine": platform.platform(),
                    "cpus": os.cpu_count(),
                    "settings": vars(args),
                    "input_size": list(input_size),
                    "latency": latency,
                    "end_to_end": end_to_end,
                    "date": time.strftime("%Y-%m-%d"),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
