"""Face recall against CenterFace input size on the hand-labelled scene faces (a measurement script).

For each candidate input size the shipped face detector runs on every labelled photo of
``../shared/data/scenes`` fitted into a 640x480 camera frame (as the camera delivers it), and a
labelled face (``models/eval/scene_faces.csv``, every label) counts as found when a detection
overlaps it with IoU >= :data:`MATCH_IOU`. Also reported per size: CPU milliseconds per 640x480
frame (process CPU time, one intra-op thread, median of :data:`RUNS`), and the smallest labelled
face side at the analysed resolution. The labels were made with this detector at 640x480, so
recall at 640x480 is 1.0 by construction: the curve measures what a smaller input loses.

Second part, **faces at the back of the queue**: each labelled photo, fitted to 640x480, is
shrunk by each of :data:`SHRINK` and set at the bottom centre of a grey 640x480 frame (people
further from the camera), and the whole scene inference (face, mask and person models as shipped,
crowd tiles included) runs on it with the closer look at small faceless people
(:mod:`agent.vision.inference.closer`) off and on. Per face-size bin (the shorter side of the
labelled box in the analysed frame): recall; per run: detections matching no label (faces the
labels leave out, or false ones) and the median CPU ms per frame. The labelled faces were all
found at full size, so this measures what size alone takes away, not faces the detector never
finds (blur, profile, occlusion).

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
from agent.vision.config import VisionConfig
from agent.vision.findings import Box, Frame
from agent.vision.geometry import iou
from agent.vision.inference.families.centerface import CenterFaceDetector
from agent.vision.inference.scene import load_scene_inference
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
SHRINK = (1.0, 0.5, 0.35)
"""Scales of the fitted photo in the back-of-the-queue frames (0.5: the labelled faces are 12 to
48 px there, most under 24)."""
BINS = ((0, 16), (16, 24), (24, 32), (32, 64), (64, 10_000))
"""Face-size bins (px, shorter side): ``lo <= size < hi``."""


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


def shrunk_to_back(frame: Frame, truth: list[Box], s: float) -> tuple[Frame, list[Box]]:
    """``frame`` shrunk by ``s`` at the bottom centre of a grey 640x480 frame, and ``truth`` there."""
    h, w = frame.shape[:2]
    size = (max(1, round(w * s)), max(1, round(h * s)))
    small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 114, np.uint8)
    oy, ox = 480 - size[1], (640 - size[0]) // 2
    canvas[oy:, ox : ox + size[0]] = small
    k = size[0] / w
    moved = [Box(b.x1 * k + ox, b.y1 * k + oy, b.x2 * k + ox, b.y2 * k + oy, 1.0) for b in truth]
    return canvas, moved


def _bin_name(size_bin: tuple[int, int]) -> str:
    lo, hi = size_bin
    return f"{lo}-{hi if hi < 10_000 else ''}px"


def back_of_queue(
    frames: dict[str, tuple[Frame, list[Box]]], closer: bool
) -> list[dict[str, object]]:
    """Recall by face size on the shrunk frames, for each of :data:`SHRINK` (see the docstring)."""
    vision = VisionConfig(models_dir=REPO / "models", closer_looks=4 if closer else 0)
    inference = load_scene_inference(vision)
    rows: list[dict[str, object]] = []
    for s in SHRINK:
        found = dict.fromkeys(BINS, 0)
        total = dict.fromkeys(BINS, 0)
        extra = 0
        ms: list[float] = []
        for i, (frame, labelled) in enumerate(frames.values()):
            image, truth = shrunk_to_back(frame, labelled, s)
            t0 = time.process_time()
            at = 10.0 * i  # no mask verdict carried over from another photo
            faces = [f.box for f in inference.analyse(image, at).faces]
            ms.append((time.process_time() - t0) * 1000.0)
            extra += len(faces) - _found(truth, faces)
            for lo, hi in BINS:
                inbin = [t for t in truth if lo <= min(t.width, t.height) < hi]
                total[(lo, hi)] += len(inbin)
                found[(lo, hi)] += _found(inbin, faces)
        under = sum(found[b] for b in BINS if b[1] <= 32), sum(total[b] for b in BINS if b[1] <= 32)
        rows.append(
            {
                "shrink": s,
                "closer": closer,
                "recall_under_32px": round(under[0] / under[1], 4) if under[1] else None,
                "faces_under_32px": under[1],
                "recall": {
                    _bin_name(b): round(found[b] / total[b], 4) if total[b] else None for b in BINS
                },
                "faces": {_bin_name(b): total[b] for b in BINS},
                "unmatched_detections": extra,
                "cpu_ms_median": round(statistics.median(ms), 1),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


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
    queue = back_of_queue(frames, closer=False) + back_of_queue(frames, closer=True)
    result: dict[str, object] = {
        "labelled_faces": total,
        "match_iou": MATCH_IOU,
        "curve": rows,
        "back_of_queue": queue,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
