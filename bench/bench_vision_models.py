"""Latency and size of the models the product ships, on one core.

- face detector (``face-detector``, CenterFace): ``detect`` on a real 640x480 scene frame
  (preprocess + onnxruntime, one intra-op thread + decode + NMS): median and p90 ms per frame;
- mask classifier (``mask-classifier``): ``classify`` of one crop and of a batch of 8 crops from
  that frame: median ms per face;
- the whole scene inference (detect + crops + batched classification) per frame;
- file sizes in KiB.

The process is pinned to one CPU while measuring. Run alone with
``.venv/bin/python -m bench.bench_vision_models``; the scene frame needs ../shared (skipped
otherwise).
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

from agent.vision.config import VisionConfig
from agent.vision.findings import Frame
from agent.vision.inference import families
from agent.vision.inference.families.mask_classifier import crop_face
from agent.vision.inference.scene import load_scene_inference
from agent.vision.manifest import resolve

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TRIAGE_SHARED", REPO.parent / "shared"))
MODELS = REPO / "models"
SCENE = "img3.jpg"
WARMUP = 3
RUNS = 30


def _median_p90(fn: Callable[[], object], runs: int = RUNS) -> dict[str, float]:
    for _ in range(WARMUP):
        fn()
    ms: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000.0)
    ms.sort()
    return {
        "median_ms": round(statistics.median(ms), 2),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 2),
    }


def main() -> dict[str, object]:
    path = SHARED / "data" / "scenes" / SCENE
    image = cv2.imread(str(path))
    if image is None:
        return {"skipped": f"{path} is absent (needs ../shared)"}
    frame: Frame = np.asarray(cv2.resize(image, (640, 480)), dtype=np.uint8)
    face_spec, face_path = resolve(MODELS, "face-detector")
    mask_spec, mask_path = resolve(MODELS, "mask-classifier")
    faces = families.make_face_detector(face_spec, face_path, 1)
    masks = families.make_mask_classifier(mask_spec, mask_path, 1)
    analyser = load_scene_inference(VisionConfig(models_dir=MODELS, threads=1))
    boxes = faces.detect(frame)
    crops = [crop_face(frame, b, 1.2) for b in boxes[:8]] or [frame]
    pinned = hasattr(os, "sched_setaffinity")
    before = os.sched_getaffinity(0) if pinned else set()
    if pinned:
        os.sched_setaffinity(0, {min(before)})
    try:
        detector = _median_p90(lambda: faces.detect(frame))
        one = _median_p90(lambda: masks.classify(crops[:1]), RUNS * 5)
        batch = _median_p90(lambda: masks.classify(crops))
        scene = _median_p90(lambda: analyser.analyse(frame, 0.0))
    finally:
        if pinned:
            os.sched_setaffinity(0, before)
    return {
        "frame": f"640x480 ({SCENE})",
        "threads": 1,
        "one_cpu": pinned,
        "faces_in_frame": len(boxes),
        "face_detector": {
            "family": face_spec.family,
            "size_kib": round(face_path.stat().st_size / 1024),
            **detector,
        },
        "mask_classifier": {
            "size_kib": round(mask_path.stat().st_size / 1024),
            "one_face_median_ms": one["median_ms"],
            "batch_faces": len(crops),
            "per_face_in_batch_median_ms": round(batch["median_ms"] / len(crops), 3),
        },
        "scene_analyser_per_frame": scene,
    }


if __name__ == "__main__":
    print(json.dumps({"bench": "vision_models", **main()}))
