"""Accuracy of the vision path on the busy benchmark video, frame by frame, against its ground truth.

Every frame of :func:`bench.videos.busy` is decoded in order and given, with its capture time
(index / 30 s), to a pipeline; the findings in force at that frame (the last ones emitted, as the
analysers see them) are compared with the truth: a true face counts as *found* when a face box
overlaps it with IoU >= 0.4, and a found face is *right* when its P(masked) >= 0.5 matches the
label. Pipelines: ``gated`` (the product default: motion gate, stride, region crops), ``every``
(the same models on every frame, full frame) and ``aizoo`` (the reference on every frame).

Run: ``.venv/bin/python -m bench.vision_accuracy [--models-dir DIR]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np

from agent.vision import gate_settings
from agent.vision.findings import SceneFindings
from agent.vision.geometry import iou
from agent.vision.inference.gate import DetectionGate, GateSettings
from bench import videos
from bench.vision_run import analyser_for, vision_config

MATCH_IOU = 0.4


def _score(truth: list[videos.Truth], current: list[SceneFindings | None]) -> dict[str, float]:
    found = right = 0
    for t in truth:
        findings = current[t.frame]
        if findings is None:
            continue
        best = max(findings.faces, key=lambda f: iou(f.box, t.box), default=None)
        if best is None or iou(best.box, t.box) < MATCH_IOU:
            continue
        found += 1
        right += int(best.masked == t.masked)
    return {
        "faces": len(truth),
        "recall": round(found / len(truth), 4),
        "mask_accuracy": round(right / found, 4) if found else 0.0,
    }


def run(video: Path, truth: list[videos.Truth], models_dir: Path | None) -> dict[str, object]:
    """Score the three pipelines on ``video``."""
    cap = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(np.asarray(image, dtype=np.uint8))
    cap.release()
    out: dict[str, object] = {"frames": len(frames)}
    for name in ("gated", "every", "aizoo"):
        pipeline = "aizoo" if name == "aizoo" else "ours"
        vision = vision_config(pipeline, person=True)
        if models_dir is not None:
            vision = vision.model_copy(update={"models_dir": models_dir})
        analyser = analyser_for(pipeline, vision, frames[0])
        settings = gate_settings(vision) if name == "gated" else GateSettings(motion=False)
        settings = settings if name == "gated" else GateSettings(motion=False, detect_fps=60.0)
        gate = DetectionGate(analyser, settings)
        current: list[SceneFindings | None] = []
        last: SceneFindings | None = None
        for i, frame in enumerate(frames):
            got = gate.process(frame, i / videos.FPS)
            last = got if got is not None else last
            current.append(last)
        c = gate.counts
        out[name] = {
            **_score(truth, current),
            "detections": c.full + c.region,
            "region_detections": c.region,
        }
        print(json.dumps({name: out[name]}), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video, truth = videos.busy(Path(tmp) / "busy.avi")
        run(video, truth, args.models_dir)


if __name__ == "__main__":
    main()
