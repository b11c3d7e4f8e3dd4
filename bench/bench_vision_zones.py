"""Per-frame cost of the person detector and of the zone logic, on one core.

- ``vision.person_ms``: the shipped person detector (``person-detector``, NanoDet-m 320) on a real
  640x480 scene frame: letterbox + onnxruntime (one intra-op thread) + decode + NMS; median (and
  p90) ms per frame;
- ``vision.zones_ms``: the zone logic the analysers run per frame on that frame's findings:
  faces attached to people (:func:`agent.vision.people.people_in`) and each person's zone
  (:class:`agent.zones.map.ZoneMap`, 8 zones of 8 corners, the most the config allows times half the
  corner bound), plus the three people analysers (compliance, occupancy per zone, attended desk)
  fed that frame; median ms per frame;
- ``vision.people_per_frame``: people on the frame used (the zone cost grows with it).

Frames are letterboxed real scene photos (``19.jpg``: 5 people, ``1.jpg``: 52 people) from
../shared (skipped when absent). The process is pinned to one CPU while measuring. Run alone:
``.venv/bin/python -m bench.bench_vision_zones``.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from agent.config import AgentConfig, parse_config
from agent.vision import people_analysers
from agent.vision.config import VisionConfig
from agent.vision.findings import Frame, SceneFindings
from agent.vision.inference import families
from agent.vision.inference.scene import load_scene_inference
from agent.vision.manifest import resolve
from agent.vision.people import people_in
from agent.zones.config import MAX_ZONES, ClinicConfig
from agent.zones.map import ZoneMap

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TRIAGE_SHARED", REPO.parent / "shared"))
MODELS = REPO / "models"
SCENES = {"few": "19.jpg", "many": "1.jpg"}
WARMUP = 3
RUNS = 30


def _stats(fn: Callable[[], object], runs: int = RUNS) -> tuple[float, float]:
    for _ in range(WARMUP):
        fn()
    ms: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000.0)
    ms.sort()
    return round(statistics.median(ms), 3), round(ms[int(0.9 * (len(ms) - 1))], 3)


def _letterbox(image: Frame, width: int = 640, height: int = 480) -> Frame:
    scale = min(width / image.shape[1], height / image.shape[0])
    w, h = int(image.shape[1] * scale), int(image.shape[0] * scale)
    canvas = np.zeros((height, width, 3), np.uint8)
    y, x = (height - h) // 2, (width - w) // 2
    canvas[y : y + h, x : x + w] = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    return canvas


def _octagon(cx: float, cy: float, r: float) -> list[list[float]]:
    return [
        [cx + r * math.cos(2 * math.pi * k / 8), cy + r * math.sin(2 * math.pi * k / 8)]
        for k in range(8)
    ]


def _zones() -> list[dict[str, object]]:
    """MAX_ZONES octagonal zones on a grid: one staff zone, one queue, the rest waiting."""
    zones: list[dict[str, object]] = []
    for i in range(MAX_ZONES):
        cx, cy = 0.125 + 0.25 * (i % 4), 0.25 + 0.5 * (i // 4)
        role = "staff" if i == 0 else "queue" if i == 1 else "waiting"
        zones.append({"name": f"zone-{i}", "role": role, "polygon": _octagon(cx, cy, 0.12)})
    return zones


def _zone_costs(
    findings: SceneFindings, cfg: AgentConfig, clinic: ClinicConfig, zone_map: ZoneMap
) -> tuple[float, float, float]:
    """(median, p90) ms of the analysers fed one frame, and median ms of attach + locate."""
    analysers = people_analysers(cfg.vision, cfg.zones, clinic, "UTC")
    clock = iter(range(10**9))

    def zone_step() -> None:
        at = 1_800_000_000.0 + next(clock) * 0.2
        for a in analysers:
            a.feed(replace(findings, at=at))

    def locate_only() -> None:
        for p in people_in(findings):
            zone_map.locate(p.feet)

    ms, p90 = _stats(zone_step, runs=100)
    return ms, p90, _stats(locate_only, runs=100)[0]


def main() -> dict[str, object]:
    frames: dict[str, Frame] = {}
    for key, name in SCENES.items():
        image = cv2.imread(str(SHARED / "data" / "scenes" / name))
        if image is None:
            return {"skipped": f"{SHARED / 'data' / 'scenes' / name} is absent (needs ../shared)"}
        frames[key] = _letterbox(np.asarray(image, np.uint8))
    pinned = hasattr(os, "sched_setaffinity")
    before = os.sched_getaffinity(0) if pinned else set()
    if pinned:
        os.sched_setaffinity(0, {min(before)})
    try:
        spec, path = resolve(MODELS, "person-detector")
        detector = families.make_person_detector(spec, path, threads=1)
        person_ms, person_p90 = _stats(lambda: detector.detect(frames["few"]))
        scene = load_scene_inference(VisionConfig(models_dir=MODELS, threads=1))
        cfg = parse_config({"zones": _zones(), "vision": {"models_dir": str(MODELS)}})
        days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        clinic = ClinicConfig.model_validate({d: ["00:00-24:00"] for d in days})
        zone_map = ZoneMap(cfg.zones)
        out: dict[str, object] = {
            "vision.person_ms": person_ms,
            "vision.person_p90_ms": person_p90,
            "cores": 1 if pinned else None,
        }
        for key, frame in frames.items():
            findings = scene.analyse(frame, 0.0)
            suffix = "" if key == "few" else "_crowd"
            ms, p90, locate = _zone_costs(findings, cfg, clinic, zone_map)
            out[f"vision.zones_ms{suffix}"] = ms
            out[f"vision.zones_p90_ms{suffix}"] = p90
            out[f"vision.zones_locate_ms{suffix}"] = locate
            out[f"vision.people_per_frame{suffix}"] = len(people_in(findings))
        out["zones"] = len(zone_map.zones)
        return out
    finally:
        if pinned:
            os.sched_setaffinity(0, before)


if __name__ == "__main__":
    print(json.dumps(main()))
