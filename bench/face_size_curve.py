"""Face recall against CenterFace input size on the hand-labelled scene faces (a measurement script).

For each candidate input size the shipped face detector runs on every labelled photo of
``../shared/data/scenes`` fitted into a 640x480 camera frame (as the camera delivers it), and a
labelled face (``models/eval/scene_faces.csv``, both classes) counts as found when a detection
overlaps it with IoU >= :data:`MATCH_IOU`. Also reported per size: CPU milliseconds per 640x480
frame (process CPU time, one intra-op thread, median of :data:`RUNS`), and the smallest labelled
face side at the analysed resolution. The labels were made with this detector at 640x480, so
recall at 640x480 is 1.0 by construction: the curve measures what a smaller input loses.

Run: ``.venv/bin/python -m bench.face_size_curve`` (writes ``bench/out/face_size_curve.json``).
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from agent.vision.capture.frames import fit
from agent.vision.findings import Box, Frame
from agent.vision.geometry import iou
from agent.vision.inference.families.centerface import CenterFaceDetector
from agent.vision.manifest import resolve

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TRIAGE_SHARED", REPO.parent / "shared"))
LABELS = REPO / "models" / "eval" / "scene_faces.csv"
OUT = REPO / "bench" / "out" / "face_size_curve.json"
SIZES = (
    (640, 480),
    (576, 432),
    (512, 384),
    (480, 360),
    (448, 336),
    (416, 312),
    (384, 288),
    (352, 264),
    (320, 240),
    (256, 192),
)
MATCH_IOU = 0.4
RUNS = 15


def _labels() -> dict[str, list[Box]]:
    out: dict[str, list[Box]] = {}
    with LABELS.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            box = Box(float(row["x1"]), float(row["y1"]), float(row["x2"]), float(row["y2"]), 1.0)
            out.setdefault(row["scene"], []).append(box)
    return out


def _scaled(box: Box, s: float) -> Box:
    return Box(box.x1 * s, box.y1 * s, box.x2 * s, box.y2 * s, box.score)


def _found(truth: list[Box], found: list[Box]) -> int:
    pairs = sorted(
        ((iou(t, d), ti, di) for ti, t in enumerate(truth) for di, d in enumerate(found)),
        reverse=True,
    )
    used_t: set[int] = set()
    used_d: set[int] = set()
    for score, ti, di in pairs:
        if score < MATCH_IOU:
            break
        if ti in used_t or di in used_d:
            continue
        used_t.add(ti)
        used_d.add(di)
    return len(used_t)


def _cpu_ms(detector: CenterFaceDetector, frame: Frame) -> float:
    detector.detect(frame)
    ms = []
    for _ in range(RUNS):
        t0 = time.process_time()
        detector.detect(frame)
        ms.append((time.process_time() - t0) * 1000.0)
    return statistics.median(ms)


def _frames(scenes_dir: Path) -> dict[str, tuple[Frame, list[Box]]]:
    """Each labelled photo fitted to 640x480, with its labelled boxes in that frame's pixels."""
    frames: dict[str, tuple[Frame, list[Box]]] = {}
    for name, boxes in _labels().items():
        image = cv2.imread(str(scenes_dir / name))
        if image is None:
            continue
        frame = fit(np.asarray(image, dtype=np.uint8), 640, 480)
        s = frame.shape[1] / image.shape[1]
        frames[name] = (frame, [_scaled(b, s) for b in boxes])
    return frames


def recall_of(model: str) -> float:
    """Share of the labelled scene faces the manifest model ``model`` finds at its input size."""
    spec, path = resolve(REPO / "models", model)
    detector = CenterFaceDetector(spec, path, threads=1)
    frames = _frames(SHARED / "data" / "scenes")
    total = sum(len(b) for _, b in frames.values())
    return round(sum(_found(t, detector.detect(f)) for f, t in frames.values()) / total, 4)


def main() -> dict[str, object]:
    scenes_dir = SHARED / "data" / "scenes"
    if not scenes_dir.is_dir():
        return {"skipped": f"{scenes_dir} is absent (needs ../shared)"}
    spec, path = resolve(REPO / "models", "face-detector")
    frames = _frames(scenes_dir)
    total = sum(len(b) for _, b in frames.values())
    timing_frame = next(iter(frames.values()))[0]
    if "img3.jpg" in frames:
        timing_frame = frames["img3.jpg"][0]
    canvas = np.zeros((480, 640, 3), np.uint8)
    canvas[: timing_frame.shape[0], : timing_frame.shape[1]] = timing_frame
    rows = []
    for width, height in SIZES:
        sized = spec.model_copy(
            update={"input": spec.input.model_copy(update={"width": width, "height": height})}
        )
        detector = CenterFaceDetector(sized, path, threads=1)
        found = sum(_found(truth, detector.detect(frame)) for frame, truth in frames.values())
        rows.append(
            {
                "input": f"{width}x{height}",
                "found": found,
                "recall": round(found / total, 4),
                "cpu_ms_640x480": round(_cpu_ms(detector, canvas), 1),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    result: dict[str, object] = {"labelled_faces": total, "match_iou": MATCH_IOU, "curve": rows}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
