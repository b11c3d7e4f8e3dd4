"""People counting on the scene photos: hand counts vs. faces, persons and the agent's people.

Usage::

    python -m tools.eval_people [--labels models/eval/scene_people.csv] [--models-dir models]

Each photo of ``../shared/data/scenes`` is letterboxed into a 640x480 frame (what the camera
delivers) and counted three ways with the shipped models:

- ``faces``: faces found by the face detector (score >= ``vision.face_min_score``; in a crowded
  frame also those found on its upscaled tiles, see :mod:`agent.vision.inference.crowd`): the count
  the agent used before it had a person detector;
- ``persons``: person boxes of the person detector (NanoDet-m 320);
- ``people``: what the agent counts now (:func:`agent.vision.people.people_in`): person boxes plus
  faces that belong to no person box.

Per ``kind`` of the labels (see models/eval/README.md): mean absolute error and exact-count rate on
``group`` and ``collage`` photos, mean relative error on ``crowd`` estimates. Prints a table per
photo, then one JSON line last. Photos never leave memory.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from agent.vision.config import VisionConfig
from agent.vision.findings import Frame
from agent.vision.inference.scene import load_scene_inference
from agent.vision.people import people_in

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TRIAGE_SHARED", REPO.parent / "shared"))
WIDTH, HEIGHT = 640, 480
METHODS = ("faces", "persons", "people")


def letterbox(image: Frame, width: int = WIDTH, height: int = HEIGHT) -> Frame:
    """``image`` scaled to fit ``width`` x ``height`` on black, centred."""
    scale = min(width / image.shape[1], height / image.shape[0])
    w, h = int(image.shape[1] * scale), int(image.shape[0] * scale)
    canvas = np.zeros((height, width, 3), np.uint8)
    y, x = (height - h) // 2, (width - w) // 2
    canvas[y : y + h, x : x + w] = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    return canvas


def read_labels(path: Path) -> list[tuple[str, int, str]]:
    """``(scene, people, kind)`` rows, comment lines skipped."""
    lines = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]
    return [(r["scene"], int(r["people"]), r["kind"]) for r in csv.DictReader(lines)]


def figures(rows: list[dict[str, Any]], kinds: tuple[str, ...]) -> dict[str, Any]:
    """MAE / exact rate (and mean relative error) of each method over rows of ``kinds``."""
    chosen = [r for r in rows if r["kind"] in kinds]
    out: dict[str, Any] = {"n": len(chosen)}
    for m in METHODS:
        err = [abs(r[m] - r["truth"]) for r in chosen]
        rel = [abs(r[m] - r["truth"]) / r["truth"] for r in chosen]
        out[m] = {
            "mae": round(sum(err) / len(err), 2) if err else None,
            "exact": round(sum(e == 0 for e in err) / len(err), 3) if err else None,
            "within_1": round(sum(e <= 1 for e in err) / len(err), 3) if err else None,
            "mean_rel_err": round(sum(rel) / len(rel), 3) if rel else None,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=Path, default=REPO / "models" / "eval" / "scene_people.csv")
    ap.add_argument("--models-dir", type=Path, default=REPO / "models")
    ap.add_argument("--scenes", type=Path, default=SHARED / "data" / "scenes")
    args = ap.parse_args(argv)
    analyser = load_scene_inference(VisionConfig(models_dir=args.models_dir))
    rows: list[dict[str, Any]] = []
    print(f"{'scene':24} {'kind':9} {'truth':>5} {'faces':>5} {'persons':>7} {'people':>6}")
    for scene, truth, kind in read_labels(args.labels):
        image = cv2.imread(str(args.scenes / scene), cv2.IMREAD_COLOR)
        if image is None:
            raise SystemExit(f"cannot read {args.scenes / scene}: is ../shared beside the project?")
        findings = analyser.analyse(letterbox(np.asarray(image, np.uint8)), 0.0)
        row = {
            "scene": scene,
            "kind": kind,
            "truth": truth,
            "faces": len(findings.faces),
            "persons": len(findings.persons or ()),
            "people": len(people_in(findings)),
        }
        rows.append(row)
        print(
            f"{scene:24} {kind:9} {truth:5d} {row['faces']:5d} {row['persons']:7d} "
            f"{row['people']:6d}"
        )
    result = {
        "frame": f"{WIDTH}x{HEIGHT}",
        "group": figures(rows, ("group",)),
        "group_up_to_10": figures([r for r in rows if r["truth"] <= 10], ("group",)),
        "collage": figures(rows, ("collage",)),
        "crowd": figures(rows, ("crowd",)),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
