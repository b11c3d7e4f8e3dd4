"""Arrivals on scene videos: the ``people`` a summary reports vs. the people who came.

Usage::

    python -m tools.eval_arrivals [--labels models/eval/scene_people.csv] [--fps 2] [--out DIR]

For each hand-counted ``group`` photo of ``../shared/data/scenes`` a video is written with
``cv2.VideoWriter`` (MJPG, 640x480, the photo letterboxed as the camera would deliver it, shaken by
up to 2 px per frame): 4 s of an empty scene, the group for 12 s, a 3 s occlusion (a hand over the
lens: black frames), the group again for 12 s, 4 s empty. The same people came once: the true
arrivals are the hand count. The video is read back frame by frame through the shipped models
(person detector, face detector, mask classifier) and the occupancy analyser, and the arrivals it
reports (the sum of ``people`` of its periodic events) are compared three ways:

- ``ids``: distinct track ids, as boxes before issue 11 counted (``vision.reentry_grace_s`` = 0);
- ``arrivals``: with the re-entry grace (the default, 10 s);
- ``seen``: the median number of people the detector finds in a frame of the group: what any
  tracking method can count at best with these models.

Prints a row per photo, then one JSON line: mean absolute and relative errors against the hand
count and against ``seen``. Frames and videos stay on this machine (``--out``, default a temporary
folder that is removed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from agent.flow.events import OccupancyEvent
from agent.vision.analysers.occupancy import OccupancyAnalyser
from agent.vision.config import VisionConfig
from agent.vision.findings import Frame, SceneFindings, SceneInference
from agent.vision.inference.scene import load_scene_inference
from agent.vision.people import people_in
from agent.zones.map import ZoneMap
from tools.eval_people import HEIGHT, REPO, SHARED, WIDTH, letterbox, read_labels

EMPTY_S, GROUP_S, HIDDEN_S = 4.0, 12.0, 3.0
SHAKE_PX = 2


def write_video(path: Path, photo: Frame, fps: float, seed: int) -> None:
    """The scene video of one photo (see the module docstring)."""
    rng = np.random.default_rng(seed)
    group = letterbox(photo)
    empty = np.full_like(group, 90)
    black = np.zeros_like(group)
    plan = [
        (empty, EMPTY_S),
        (group, GROUP_S),
        (black, HIDDEN_S),
        (group, GROUP_S),
        (empty, EMPTY_S),
    ]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (WIDTH, HEIGHT))
    try:
        for image, seconds in plan:
            for _ in range(round(seconds * fps)):
                dx, dy = (int(v) for v in rng.integers(-SHAKE_PX, SHAKE_PX + 1, 2))
                m = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
                out.write(cv2.warpAffine(image, m, (WIDTH, HEIGHT)))
    finally:
        out.release()


def analyse_video(path: Path, fps: float, scene: SceneInference) -> list[SceneFindings]:
    cap = cv2.VideoCapture(str(path))
    found: list[SceneFindings] = []
    try:
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            found.append(scene.analyse(np.asarray(frame, np.uint8), i / fps))
            i += 1
    finally:
        cap.release()
    return found


def count_arrivals(findings: list[SceneFindings], grace_s: float) -> int:
    """The sum of ``people`` in the periodic occupancy events over the video."""
    vision = VisionConfig(compliance_window_s=10.0, reentry_grace_s=grace_s)
    occupancy = OccupancyAnalyser(vision, ZoneMap([]))
    total = 0
    last = 0.0
    for f in findings:
        events = [*occupancy.feed(f), *occupancy.tick(f.at)]
        total += sum(e.people or 0 for e in events if isinstance(e, OccupancyEvent))
        last = f.at
    for t in (last + 5.0, last + 30.0):
        total += sum(e.people or 0 for e in occupancy.tick(t) if isinstance(e, OccupancyEvent))
    return total


def errors(rows: list[dict[str, Any]], method: str, against: str) -> dict[str, float | None]:
    err = [abs(r[method] - r[against]) for r in rows if r[against] > 0]
    rel = [abs(r[method] - r[against]) / r[against] for r in rows if r[against] > 0]
    return {
        "mae": round(sum(err) / len(err), 2) if err else None,
        "mean_rel_err": round(sum(rel) / len(rel), 3) if rel else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=Path, default=REPO / "models" / "eval" / "scene_people.csv")
    ap.add_argument("--models-dir", type=Path, default=REPO / "models")
    ap.add_argument("--scenes", type=Path, default=SHARED / "data" / "scenes")
    ap.add_argument("--fps", type=float, default=2.0)
    ap.add_argument("--max-people", type=int, default=1000, help="skip photos with more people")
    ap.add_argument("--out", type=Path, default=None, help="keep the videos in this folder")
    args = ap.parse_args(argv)
    scene = load_scene_inference(VisionConfig(models_dir=args.models_dir))
    rows: list[dict[str, Any]] = []
    print(f"{'scene':24} {'truth':>5} {'seen':>5} {'ids':>5} {'arrivals':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.out or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for n, (name, truth, kind) in enumerate(read_labels(args.labels)):
            if kind != "group" or truth > args.max_people:
                continue
            photo = cv2.imread(str(args.scenes / name), cv2.IMREAD_COLOR)
            if photo is None:
                raise SystemExit(
                    f"cannot read {args.scenes / name}: is ../shared beside the project?"
                )
            video = folder / f"{Path(name).stem}.avi"
            write_video(video, np.asarray(photo, np.uint8), args.fps, seed=n)
            found = analyse_video(video, args.fps, scene)
            in_group = [
                len(people_in(f))
                for f in found
                if EMPTY_S + 1 <= f.at < EMPTY_S + GROUP_S - 1
                or EMPTY_S + GROUP_S + HIDDEN_S + 1 <= f.at < EMPTY_S + 2 * GROUP_S + HIDDEN_S - 1
            ]
            row = {
                "scene": name,
                "truth": truth,
                "seen": round(statistics.median(in_group)) if in_group else 0,
                "ids": count_arrivals(found, 0.0),
                "arrivals": count_arrivals(found, VisionConfig().reentry_grace_s),
            }
            rows.append(row)
            print(
                f"{name:24} {truth:5d} {row['seen']:5d} {row['ids']:5d} {row['arrivals']:8d}",
                flush=True,
            )
    result = {
        "videos": len(rows),
        "fps": args.fps,
        "vs_truth": {m: errors(rows, m, "truth") for m in ("seen", "ids", "arrivals")},
        "vs_seen": {m: errors(rows, m, "seen") for m in ("ids", "arrivals")},
        "up_to_10": {
            "n": sum(r["truth"] <= 10 for r in rows),
            **{
                m: errors([r for r in rows if r["truth"] <= 10], m, "truth")
                for m in ("ids", "arrivals")
            },
        },
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
