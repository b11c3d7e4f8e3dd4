"""Camera integrity checks: CPU time per checked frame on one core, and detections on the test set.

The test set is the one of tests/test_vision_integrity.py (frames made from ../shared scene
photos, tests/integrity_media.py): per background view, a reference commissioned from 15 frames with
two people walking through, then each tamper held for ``window`` checks; and 120 frames of five
people walking across the view (about 45% of it hidden on average), which must fail no check.
Borderline tampers (2% shift, 2° rotation, blur sigma 2, a hand over 70%) are reported, not asserted.
Run alone with ``.venv/bin/python -m bench.bench_vision_integrity``.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2

from agent.vision.findings import Frame
from agent.vision.inference.integrity import IntegrityChecker, IntegrityThresholds
from agent.vision.inference.integrity_reference import build_reference

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TRIAGE_SHARED", REPO.parent / "shared"))
RUNS = 100


def main() -> dict[str, object]:
    if not (SHARED / "data" / "scenes").is_dir():
        return {"skipped": f"{SHARED}/data/scenes absent"}
    from tests import integrity_media as media  # noqa: PLC0415 - needs ../shared

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    cv2.setNumThreads(1)
    t = IntegrityThresholds()
    n = t.window

    def held(frame: Frame) -> list[Frame]:
        return [media.noisy(frame, 2.0, s) for s in range(n)]

    tampers: dict[str, tuple[Callable[[str], list[Frame]], str]] = {
        "black": (lambda bg: [media.black(s) for s in range(n)], "covered"),
        "hand_85": (lambda bg: [media.hand(media.view(bg), 0.85, s) for s in range(n)], "covered"),
        "shift_5pc": (lambda bg: held(media.view(bg, dx=0.05)), "moved"),
        "rotate_4deg": (lambda bg: held(media.view(bg, angle=4.0)), "moved"),
        "blur_sigma3": (
            lambda bg: [media.blurred(f, 3.0) for f in held(media.view(bg))],
            "blurred",
        ),
        "gain_0.12": (
            lambda bg: [media.low_gain(media.view(bg), 0.12, s) for s in range(n)],
            "dark",
        ),
        "borderline_hand_70": (
            lambda bg: [media.hand(media.view(bg), 0.7, s) for s in range(n)],
            "covered",
        ),
        "borderline_shift_2pc": (lambda bg: held(media.view(bg, dx=0.02)), "moved"),
        "borderline_rotate_2deg": (lambda bg: held(media.view(bg, angle=2.0)), "moved"),
        "borderline_blur_sigma2": (
            lambda bg: [media.blurred(f, 2.0) for f in held(media.view(bg))],
            "blurred",
        ),
    }
    detections: dict[str, str] = {}
    busy_frames = 0
    busy_false = {"reference": 0, "absolute": 0}
    cost: dict[str, list[float]] = {"reference": [], "absolute": []}
    for bg in media.BACKGROUNDS:
        ref = build_reference(list(media.busy(bg, 15, seed=1, people=2)))
        for name, (make, expected) in tampers.items():
            checker = IntegrityChecker(t, ref)
            for i, f in enumerate(held(media.view(bg))):
                checker.check(f, float(i))
            last = None
            for i, f in enumerate(make(bg)):
                last = checker.check(f, float(100 + i))
            assert last is not None
            failed = {v.check for v in last.verdicts if v.outcome == "failed"}
            hit = failed == {expected}
            detections[name] = detections.get(name, "") + ("1" if hit else "0")
        frames = list(media.busy(bg, 120, seed=5, people=5))
        for basis, reference in (("reference", ref), ("absolute", None)):
            checker = IntegrityChecker(t, reference)
            for i, f in enumerate(frames):
                started = time.thread_time()
                findings = checker.check(f, float(i))
                cost[basis].append((time.thread_time() - started) * 1000.0)
                if i >= n and any(v.outcome == "failed" for v in findings.verdicts):
                    busy_false[basis] += 1
        busy_frames += len(frames) - n
    figures: dict[str, object] = {
        "backgrounds": len(media.BACKGROUNDS),
        "detected_per_tamper": {k: f"{v.count('1')}/{len(v)}" for k, v in detections.items()},
        "busy_frames_checked": busy_frames,
        "busy_frames_with_a_failed_check": busy_false,
    }
    for basis, values in cost.items():
        ms = sorted(values)
        figures[f"check_ms_{basis}_median"] = round(statistics.median(ms), 2)
        figures[f"check_ms_{basis}_p90"] = round(ms[int(0.9 * len(ms))], 2)
    figures["frame"] = "640x480 BGR, one core (cv2.setNumThreads(1), pinned), thread CPU time"
    return figures


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
