"""Run an exported detector on a video, a webcam, an image or a folder of images (no TensorFlow).

Usage on a device::

    python run_detector.py model.tflite --source video.mp4 --output annotated.mp4
    python run_detector.py model.int8.tflite --source 0 --output webcam.mp4 --max-frames 300   # webcam 0
    python run_detector.py model.onnx --source photos/ --output annotated/ [--labels labels.txt]
        [--score-threshold 0.4] [--threads N]

The model is a keras-nn detector export (see ``contract.py``): one image ``image`` ``[1, H, W, 3]`` float32 RGB
in [0, 1] in, ``boxes``, ``scores``, ``classes`` and ``count`` out, decoding and non-max suppression inside.
Each frame is resized to the model input, turned from OpenCV's BGR to RGB and scaled to [0, 1]; the boxes come
back normalized and are scaled to the frame. Labelled boxes and the measured frames per second are drawn on
each frame, and the frames are written to ``--output``: a ``.mp4`` file (mp4v) or a folder of images. A
summary (frames, mean and p90 latency of the model call, end-to-end FPS) is printed at the end.

Class names come from ``--labels``, else from ``labels.txt`` beside the model, else ``class N``. Exit codes:
0 ok, 2 for a missing file, a video that cannot be opened, a webcam index that is not there, an output that
already exists or a file that is not a detector; nothing is written then. Frames go to a staging file or
folder that is moved into place only at the end, so a run that fails midway leaves nothing behind either.
Ctrl+C on a webcam stream ends it and keeps what was written.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator

import numpy as np

# The kit's own modules: from the package when this file runs inside one (installed as keras_nn.edge, or a
# copied folder run with `python -m kit.run_detector`), else from this folder, which Python puts first on
# sys.path for a plain script (`python run_detector.py`).
if __package__:
    from . import contract, edge_common, run_onnx, run_tflite
else:
    import contract
    import edge_common
    import run_onnx
    import run_tflite

PROG = "run_detector.py"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_OUTPUT_EXTENSION = ".mp4"
# When a video file does not say its frame rate (CAP_PROP_FPS is 0), the output is written at this rate.
DEFAULT_FPS = 30.0
# The FPS drawn on a frame is the end-to-end rate over this many recent frames: steady, yet it follows changes.
FPS_WINDOW = 30
# BGR colours, one per class id (cycled), chosen to stand apart from each other and from most backgrounds.
PALETTE = (
    (56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207), (10, 249, 72),
    (23, 204, 146), (134, 219, 61), (211, 188, 0), (255, 128, 0), (255, 56, 132), (203, 56, 255),
)


def _cv2():
    # FFmpeg inside OpenCV prints its own errors ("moov atom not found") to stderr; the one-line errors here say
    # what went wrong and how to fix it. OPENCV_FFMPEG_LOGLEVEL set by the user still wins.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    try:
        import cv2
    except ImportError as err:
        raise ImportError("run_detector needs OpenCV: pip install opencv-python-headless") from err
    return cv2


class DetectorRunner:
    """Runs an exported detector (``.tflite`` with ai-edge-litert, ``.onnx`` with onnxruntime) on one image.

    Args:
        path: the detector file; its input must be ``image`` and its outputs ``boxes``, ``scores``,
            ``classes``, ``count`` (the names in ``contract.py``).
        num_threads: CPU threads for the runtime; None keeps its default.

    Call arguments:
        image: float32 ``[1, H, W, 3]`` RGB in [0, 1].

    Returns:
        A dict of numpy arrays: ``boxes`` ``[1, max_detections, 4]`` (x1, y1, x2, y2 normalized), ``scores``
        ``[1, max_detections]``, ``classes`` ``[1, max_detections]`` int32 and ``count`` ``[1]`` int32.

    Example:
        >>> detector = DetectorRunner("model.tflite", num_threads=2)
        >>> height, width = detector.input_size
        >>> found = detector(np.zeros((1, height, width, 3), np.float32))
        >>> found["boxes"][0, : found["count"][0]]
    """

    def __init__(self, path: str, num_threads: int | None = None):
        edge_common.ensure_file(path, "model file")
        self.path = path
        ext = os.path.splitext(path)[1].lower()
        if ext == ".tflite":
            inputs, outputs = self._open_tflite(path, num_threads)
        elif ext == ".onnx":
            inputs, outputs = self._open_onnx(path, num_threads)
        else:
            raise edge_common.EdgeKitUsageError(
                f"unsupported model extension {ext or '(none)'!r} for {path}: use .tflite or .onnx"
            )
        missing = [name for name in contract.DETECTOR_OUTPUTS if name not in outputs]
        if list(inputs) != [contract.DETECTOR_INPUT] or missing:
            raise edge_common.ModelLoadError(
                f"{path} is not a keras-nn detector: it takes {sorted(inputs)} and returns {sorted(outputs)}; a "
                f"detector takes [{contract.DETECTOR_INPUT!r}] and returns {list(contract.DETECTOR_OUTPUTS)} "
                "(export it with keras-nn export from a detection run)"
            )
        shape, self._input_dtype = inputs[contract.DETECTOR_INPUT]
        if len(shape) != 4 or shape[3] != 3 or min(shape[1:3]) < 1:
            raise edge_common.ModelLoadError(
                f"{path} takes an image of shape {edge_common.describe_shape(shape)}; a detector takes one "
                "(1, H, W, 3) RGB image of a fixed size"
            )
        self.input_shape = (1, *shape[1:])

    def _open_tflite(self, path, num_threads):
        try:
            interpreter = run_tflite.interpreter_class()(model_path=path, num_threads=num_threads)
        except (ValueError, RuntimeError) as err:
            raise edge_common.ModelLoadError(f"cannot load {path} as a TFLite model: {err}") from err
        signatures = interpreter.get_signature_list()
        if len(signatures) != 1:
            raise edge_common.ModelLoadError(
                f"{path} has {len(signatures)} signatures; a detector has one (image -> boxes, scores, classes, count)"
            )
        self.interpreter = interpreter
        self._signature = interpreter.get_signature_runner(next(iter(signatures)))
        details = self._signature.get_input_details()
        inputs = {
            name: (tuple(int(d) for d in info["shape_signature"]), np.dtype(info["dtype"]))
            for name, info in details.items()
        }
        return inputs, list(self._signature.get_output_details())

    def _open_onnx(self, path, num_threads):
        self.session = run_onnx.onnx_session(path, num_threads)
        inputs = {
            arg.name: (run_onnx.onnx_shape(arg.shape), run_onnx.onnx_dtype(arg.type))
            for arg in self.session.get_inputs()
        }
        return inputs, [arg.name for arg in self.session.get_outputs()]

    @property
    def input_size(self) -> tuple:
        """``(height, width)`` of the model's input image."""
        return self.input_shape[1], self.input_shape[2]

    def __call__(self, image: np.ndarray) -> dict:
        image = np.ascontiguousarray(np.asarray(image, dtype=self._input_dtype))
        edge_common.check_batch_shape(image.shape, self.input_shape)
        if hasattr(self, "_signature"):
            found = self._signature(**{contract.DETECTOR_INPUT: image})
        else:
            names = list(contract.DETECTOR_OUTPUTS)
            found = dict(zip(names, self.session.run(names, {contract.DETECTOR_INPUT: image}), strict=True))
        return {name: np.asarray(found[name]) for name in contract.DETECTOR_OUTPUTS}


def load_labels(path: str | None) -> list[str]:
    """Class names, one a line (``labels.txt``), in class-id order; an empty list for ``None``."""
    if path is None:
        return []
    edge_common.ensure_file(path, "labels file")
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\r\n") for line in f if line.strip()]


def labels_beside(model_path: str) -> str | None:
    """The ``labels.txt`` in the model file's folder, or None where there is none."""
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), contract.LABELS_FILE)
    return path if os.path.isfile(path) else None


# Frames in --------------------------------------------------------------------------------------------------


class FrameSource:
    """Frames from a video file, a webcam or image files, opened and checked before anything is written.

    Args:
        source: a video file, an image file, a folder of images, or a webcam index (``"0"``, ``"1"``, ...).

    Attributes:
        kind: ``video``, ``webcam`` or ``images``.
        fps: the source's frame rate (video and webcam; ``DEFAULT_FPS`` when it does not say).

    Raises:
        FileNotFoundError: the file or folder does not exist.
        EdgeKitUsageError: a video OpenCV cannot open or read, a webcam index with no camera behind it, a
            folder without images, an image OpenCV cannot read.
    """

    def __init__(self, source: str):
        self.cv2 = _cv2()
        self.source = str(source)
        self.fps = DEFAULT_FPS
        self._capture = None
        self._first = None
        self._images = []
        if self.source.isdigit():
            self.kind = "webcam"
            self._open_capture(int(self.source))
        elif os.path.isdir(self.source):
            self.kind = "images"
            self._images = sorted(
                os.path.join(self.source, name)
                for name in os.listdir(self.source)
                if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS
            )
            if not self._images:
                raise edge_common.EdgeKitUsageError(
                    f"source folder {self.source} holds no images ({', '.join(IMAGE_EXTENSIONS)}); give a folder "
                    "of images, an image, a video file or a webcam index"
                )
        elif not os.path.exists(self.source):
            raise FileNotFoundError(
                f"source not found: {self.source} (give a video file, an image, a folder of images or a webcam "
                "index such as 0)"
            )
        elif os.path.splitext(self.source)[1].lower() in IMAGE_EXTENSIONS:
            self.kind = "images"
            self._images = [self.source]
        else:
            self.kind = "video"
            self._open_capture(self.source)
        if self.kind == "images":
            # The first image is read now, so an unreadable one is reported before anything is written.
            self._first = self._read_image(self._images[0])

    def _open_capture(self, target):
        cv2 = self.cv2
        # OpenCV logs a warning per backend it tries on a missing camera; the one-line error below says it all.
        previous = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        try:
            capture = cv2.VideoCapture(target)
            ok, frame = capture.read() if capture.isOpened() else (False, None)
        finally:
            cv2.utils.logging.setLogLevel(previous)
        if not ok or frame is None:
            capture.release()
            if self.kind == "webcam":
                raise edge_common.EdgeKitUsageError(
                    f"webcam index {target} is not there (no camera opened or no frame read); plug one in, "
                    "give another index, or give a video file"
                )
            raise edge_common.EdgeKitUsageError(
                f"cannot open video {self.source}: OpenCV read no frame from it (corrupt, empty or a codec it "
                "lacks); convert it to .mp4 or give a folder of images"
            )
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1.0 <= fps <= 1000.0 else DEFAULT_FPS
        self._capture, self._first = capture, frame

    def _read_image(self, path):
        frame = self.cv2.imread(path, self.cv2.IMREAD_COLOR)
        if frame is None:
            raise edge_common.EdgeKitUsageError(
                f"cannot read image {path}: not an image OpenCV can decode; remove it or convert it"
            )
        return frame

    def frames(self) -> Iterator[tuple[str, np.ndarray]]:
        """``(name, BGR frame)`` pairs: the image's file name, or ``frame_000000`` ... for a video or webcam."""
        if self.kind == "images":
            for index, path in enumerate(self._images):
                frame = self._first if index == 0 else self._read_image(path)
                yield os.path.basename(path), frame
            return
        index, frame = 0, self._first
        while frame is not None:
            yield f"frame_{index:06d}", frame
            ok, frame = self._capture.read()
            frame = frame if ok else None
            index += 1

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


# Frames out -------------------------------------------------------------------------------------------------


def check_output(output: str) -> None:
    """Raise EdgeKitUsageError when ``output`` already exists (nothing is ever overwritten)."""
    if os.path.lexists(output):
        raise edge_common.EdgeKitUsageError(
            f"output {output} already exists; remove it or give another --output"
        )


class FrameSink:
    """Writes annotated frames to a staging ``.mp4`` (mp4v) or image folder, moved to ``output`` by ``commit``.

    A ``.mp4`` output takes every frame at the first frame's size (later frames of another size are resized);
    any other output is a folder of images (an image keeps its file name, a video frame becomes
    ``frame_NNNNNN.jpg``).
    """

    def __init__(self, output: str, fps: float):
        self.cv2 = _cv2()
        self.output = output
        self.fps = fps
        self.is_video = output.lower().endswith(VIDEO_OUTPUT_EXTENSION)
        parent = os.path.dirname(os.path.abspath(output))
        # Staged beside the output where its folder exists, so the final move is a rename on one file system.
        self._staging = tempfile.mkdtemp(prefix=".run_detector-", dir=parent if os.path.isdir(parent) else None)
        # mkdtemp makes it owner-only; the folder of frames it becomes gets what a plain mkdir would give.
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(self._staging, 0o777 & ~mask)
        self._writer = None
        self._size = None
        self.frames = 0

    def _staged_video(self):
        return os.path.join(self._staging, os.path.basename(self.output))

    def write(self, name: str, frame: np.ndarray) -> None:
        cv2 = self.cv2
        if not self.is_video:
            stem, ext = os.path.splitext(name)
            cv2.imwrite(os.path.join(self._staging, name if ext.lower() in IMAGE_EXTENSIONS else stem + ".jpg"), frame)
            self.frames += 1
            return
        if self._writer is None:
            self._size = (frame.shape[1], frame.shape[0])
            self._writer = cv2.VideoWriter(self._staged_video(), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self._size)
            if not self._writer.isOpened():
                raise edge_common.EdgeKitUsageError(
                    f"OpenCV cannot write {self.output} with the mp4v codec; give a folder as --output instead"
                )
        if (frame.shape[1], frame.shape[0]) != self._size:
            frame = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(frame)
        self.frames += 1

    def commit(self) -> None:
        """Move what was written into place (creating the output's folder)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        os.makedirs(os.path.dirname(os.path.abspath(self.output)), exist_ok=True)
        if self.is_video:
            shutil.move(self._staged_video(), self.output)
        else:
            shutil.move(self._staging, self.output)
        shutil.rmtree(self._staging, ignore_errors=True)

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        shutil.rmtree(self._staging, ignore_errors=True)


# The loop ---------------------------------------------------------------------------------------------------


def preprocess(frame: np.ndarray, input_size: tuple) -> np.ndarray:
    """A BGR frame as the detector's input: resized to ``(height, width)``, RGB, float32 in [0, 1], batch 1."""
    cv2 = _cv2()
    height, width = input_size
    resized = cv2.resize(frame, (int(width), int(height)), interpolation=cv2.INTER_LINEAR)
    rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
    return (rgb.astype(np.float32) * np.float32(1.0 / 255.0))[None]


def frame_detections(found: dict, frame_shape: tuple, score_threshold: float | None = None) -> list[dict]:
    """The first image's detections as a list of ``{"box": (x1, y1, x2, y2) pixels, "score", "class"}``.

    Boxes are scaled from normalized coordinates to the frame and clipped to it; detections below
    ``score_threshold`` (when given) are left out.
    """
    height, width = frame_shape[:2]
    boxes, scores, classes, count = (np.asarray(found[name]) for name in contract.DETECTOR_OUTPUTS)
    count = int(count.reshape(-1)[0])
    boxes, scores = boxes.astype(np.float32)[0, :count], scores.astype(np.float32)[0, :count]
    classes = classes.astype(np.int64)[0, :count]
    scale = np.array([width, height, width, height], np.float32)
    pixels = np.clip(boxes * scale, 0, scale)
    return [
        {"box": tuple(float(v) for v in pixels[i]), "score": float(scores[i]), "class": int(classes[i])}
        for i in range(count)
        if score_threshold is None or scores[i] >= score_threshold
    ]


def class_name(class_id: int, class_names: list) -> str:
    return class_names[class_id] if 0 <= class_id < len(class_names) else f"class {class_id}"


def draw_detections(frame: np.ndarray, detections: list, class_names: list, fps: float | None = None) -> np.ndarray:
    """Draw labelled boxes (class name and score) and, when given, the frames per second onto ``frame``."""
    cv2 = _cv2()
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, max(0.35, min(frame.shape[:2]) / 800)
    thickness = max(1, round(min(frame.shape[:2]) / 300))
    for det in detections:
        x1, y1, x2, y2 = (int(round(v)) for v in det["box"])
        color = PALETTE[det["class"] % len(PALETTE)]
        cv2.rectangle(frame, (x1, y1), (x2, y2), color, thickness)
        label = f"{class_name(det['class'], class_names)} {det['score']:.2f}"
        (tw, th), base = cv2.getTextSize(label, font, scale, 1)
        top = y1 - th - base if y1 - th - base >= 0 else y1
        cv2.rectangle(frame, (x1, top), (x1 + tw, top + th + base), color, cv2.FILLED)
        cv2.putText(frame, label, (x1, top + th), font, scale, (255, 255, 255), 1, cv2.LINE_AA)
    if fps is not None:
        text = f"{fps:.1f} FPS"
        (tw, th), base = cv2.getTextSize(text, font, scale * 1.2, 1)
        cv2.rectangle(frame, (0, 0), (tw + 8, th + base + 8), (0, 0, 0), cv2.FILLED)
        cv2.putText(frame, text, (4, th + 4), font, scale * 1.2, (255, 255, 255), 1, cv2.LINE_AA)
    return frame


def detect_stream(
    detect: Callable[[np.ndarray], dict],
    input_size: tuple,
    source: str,
    output: str,
    class_names: list | None = None,
    score_threshold: float | None = None,
    max_frames: int | None = None,
    model: str | None = None,
    on_frame: Callable[[int, list], None] | None = None,
) -> dict:
    """The frame loop: read, preprocess, ``detect``, draw, write, for every frame of ``source``.

    Any detector runs through it: an exported file (``DetectorRunner``) or, on a workstation, a Keras model's
    ``detect`` wrapped to return numpy.

    Args:
        detect: ``image [1, H, W, 3] float32 -> {"boxes", "scores", "classes", "count"}`` (numpy or arrays
            numpy can read), the layout of ``DetectorRunner``.
        input_size: ``(height, width)`` the frames are resized to.
        source: a video file, an image, a folder of images or a webcam index (``"0"``).
        output: a ``.mp4`` file or a folder for the annotated frames; must not exist.
        class_names: names in class-id order (``class N`` for ids beyond them).
        score_threshold: also leave out detections scored below this (the model's own threshold applies first).
        max_frames: stop after this many frames (a webcam runs until Ctrl+C otherwise).
        model: what to name as the model in the summary.
        on_frame: called with ``(frame index, detections)`` after each frame.

    Returns:
        The summary: ``frames``, ``mean_latency_ms`` and ``p90_latency_ms`` (the ``detect`` call),
        ``fps`` (end to end: reading, preprocessing, the model, drawing and writing), ``detections`` (all
        frames together), ``seconds``, ``source``, ``destination`` (the output), ``model``.

    Raises:
        EdgeKitUsageError, FileNotFoundError: a bad source or an output that exists, before anything is written.
    """
    if score_threshold is not None and not 0.0 <= score_threshold <= 1.0:
        raise edge_common.EdgeKitUsageError(f"score threshold must be in [0, 1], got {score_threshold}")
    if max_frames is not None and max_frames < 1:
        raise edge_common.EdgeKitUsageError(f"max frames must be >= 1, got {max_frames}")
    check_output(output)
    frames = FrameSource(source)
    class_names = list(class_names or [])
    latencies, recent, total_detections = [], deque(maxlen=FPS_WINDOW), 0
    sink = None
    try:
        sink = FrameSink(output, frames.fps)
        start = previous = time.perf_counter()
        try:
            for index, (name, frame) in enumerate(frames.frames()):
                image = preprocess(frame, input_size)
                called = time.perf_counter()
                found = detect(image)
                latencies.append(time.perf_counter() - called)
                detections = frame_detections(found, frame.shape, score_threshold)
                total_detections += len(detections)
                now = time.perf_counter()
                recent.append(now - previous)
                previous = now
                sink.write(name, draw_detections(frame, detections, class_names, len(recent) / sum(recent)))
                if on_frame is not None:
                    on_frame(index, detections)
                if max_frames is not None and index + 1 >= max_frames:
                    break
        except KeyboardInterrupt:
            if frames.kind != "webcam":
                raise
        seconds = time.perf_counter() - start
        sink.commit()
    except BaseException:
        if sink is not None:
            sink.discard()
        raise
    finally:
        frames.close()
    ms = np.asarray(latencies, np.float64) * 1e3
    return {
        "frames": int(sink.frames),
        "mean_latency_ms": float(ms.mean()) if ms.size else 0.0,
        "p90_latency_ms": float(np.percentile(ms, 90)) if ms.size else 0.0,
        "fps": float(sink.frames / seconds) if seconds > 0 else 0.0,
        "detections": int(total_detections),
        "seconds": float(seconds),
        "source": str(source),
        "destination": str(output),
        "model": model,
    }


def format_summary(summary: dict) -> str:
    """One line: frames, mean and p90 model latency, end-to-end FPS and where the frames went."""
    return (
        f"{summary['frames']} frames  model mean {summary['mean_latency_ms']:.2f} ms  "
        f"p90 {summary['p90_latency_ms']:.2f} ms  end to end {summary['fps']:.1f} FPS  "
        f"{summary['detections']} detections  -> {summary['destination']}"
    )


def run_detector(
    model: str,
    source: str,
    output: str,
    labels: str | None = None,
    score_threshold: float | None = None,
    num_threads: int | None = None,
    max_frames: int | None = None,
) -> dict:
    """Run an exported detector file over ``source`` and write the annotated frames to ``output``.

    Args:
        model: a detector ``.tflite`` or ``.onnx`` file.
        source, output, score_threshold, max_frames: see ``detect_stream``.
        labels: the class-names file (default: ``labels.txt`` beside the model, if there is one).
        num_threads: CPU threads for the runtime.

    Returns:
        The summary of ``detect_stream``.
    """
    check_output(output)
    runner = DetectorRunner(model, num_threads=num_threads)
    class_names = load_labels(labels if labels is not None else labels_beside(model))
    return detect_stream(
        runner, runner.input_size, source, output, class_names, score_threshold, max_frames, model=model
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run a keras-nn detector (.tflite or .onnx) on a video, webcam, image or folder of images "
        "and write the frames with labelled boxes (no TensorFlow).",
    )
    parser.add_argument("model", help="the exported detector (.tflite or .onnx)")
    parser.add_argument(
        "--source", required=True, help="a video file, an image, a folder of images, or a webcam index (0, 1, ...)"
    )
    parser.add_argument("--output", required=True, help="an .mp4 file or a folder for the annotated frames (new)")
    parser.add_argument("--labels", help=f"class names, one a line (default: {contract.LABELS_FILE} beside the model)")
    parser.add_argument("--score-threshold", type=float, default=None, help="also hide detections below this score")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for the runtime")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        return edge_common.fail(PROG, f"--threads must be >= 1, got {args.threads}")
    try:
        summary = run_detector(
            args.model, args.source, args.output, args.labels, args.score_threshold, args.threads, args.max_frames
        )
    except (FileNotFoundError, edge_common.EdgeKitUsageError, ImportError) as err:
        return edge_common.fail(PROG, str(err))
    print(format_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
