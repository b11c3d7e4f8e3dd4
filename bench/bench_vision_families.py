"""Per-family detector latency on one core: the "bring your own model" reference files.

For each worked example in docs/byom/*.json whose ONNX file is in ../shared/models/reference,
runs the family's ``detect`` (preprocess + onnxruntime with one intra-op thread + decode + NMS)
on a real 640x480 scene frame, pinned to one CPU, and reports the median and p90 milliseconds.
Run alone with ``.venv/bin/python -m bench.bench_vision_families``.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from agent.vision.findings import Frame, PersonDetector
from agent.vision.inference.families.aizoo import AizooDetector
from agent.vision.inference.families.nanodet import NanodetDetector
from agent.vision.inference.families.ultraface import UltrafaceDetector
from agent.vision.manifest import ModelSpec, load_manifest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TRIAGE_SHARED", REPO.parent / "shared"))
EXAMPLES: dict[str, Callable[[ModelSpec, Path], PersonDetector]] = {
    "ultraface-rfb320.json": UltrafaceDetector,
    "ultraface-rfb640-masked.json": UltrafaceDetector,
    "aizoo.json": AizooDetector,
    "nanodet.json": NanodetDetector,
}
WARMUP = 3
RUNS = 30


def _frame() -> Frame:
    image = cv2.imread(str(SHARED / "data" / "scenes" / "12.jpg"))
    if image is None:
        raise FileNotFoundError(SHARED / "data" / "scenes" / "12.jpg")
    return np.asarray(cv2.resize(image, (640, 480)), dtype=np.uint8)


def _time(detector: PersonDetector, frame: Frame) -> dict[str, float]:
    for _ in range(WARMUP):
        detector.detect(frame)
    ms = []
    found = 0
    for _ in range(RUNS):
        t0 = time.perf_counter()
        found = len(detector.detect(frame))
        ms.append((time.perf_counter() - t0) * 1000.0)
    ms.sort()
    return {
        "median_ms": round(statistics.median(ms), 2),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 2),
        "boxes": float(found),
    }


def main() -> dict[str, object]:
    reference = SHARED / "models" / "reference"
    if not reference.is_dir():
        return {"skipped": f"{reference} is absent (needs ../shared)"}
    frame = _frame()
    pinned = hasattr(os, "sched_setaffinity")
    before = os.sched_getaffinity(0) if pinned else set()
    if pinned:
        os.sched_setaffinity(0, {min(before)})
    result: dict[str, object] = {"frame": "640x480", "threads": 1, "runs": RUNS, "one_cpu": pinned}
    try:
        for example, family in EXAMPLES.items():
            spec = load_manifest(REPO / "docs" / "byom" / example).models[0]
            path = reference / spec.file
            if not path.is_file():
                result[spec.name] = {"skipped": f"{path} is absent"}
                continue
            result[spec.name] = {"family": spec.family, **_time(family(spec, path), frame)}
    finally:
        if pinned:
            os.sched_setaffinity(0, before)
    return result


if __name__ == "__main__":
    print(json.dumps({"bench": "vision_families", **main()}))
