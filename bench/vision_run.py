"""One vision-path measurement in its own process (run by :mod:`bench.bench_vision` under
``taskset -c 0``): real grabber thread (MJPG decode) -> real worker (motion gate + models) ->
compliance and occupancy analysers, on a video file, for ``--seconds`` after a warm-up.

``--pipeline ours`` is the product path as configured by default (gated; shipped face, mask and
person models; ``--no-person`` leaves the person detector out); ``--pipeline aizoo`` is the AIZOO
reference model on every frame (no gate). ``--pace`` reads the file at its 30 frames/s like a
camera (cost and drops); without it the grabber reads as fast as it can. The sources and
analysers are the product's own (:func:`agent.vision.build`: grabber, worker with its gate and
camera-integrity checks, compliance, occupancy, people and zone analysers).

Prints one JSON object: CPU core-seconds of the whole process per second of video
(``resource.getrusage``: user + system of all threads), frames decoded, processed and dropped
(replaced in the latest-frame slot before the worker took them), gate counts, peak RSS, and the
latency from the first frame with a person to the first findings with a face (``--enter-at``).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import get_args

import cv2
import numpy as np

from agent.vision import build, load_inference
from agent.vision.capture.grabber import CameraReader
from agent.vision.config import CameraConfig, VisionConfig
from agent.vision.findings import FaceFinding, Frame, SceneFindings, SceneInference
from agent.vision.inference.families.aizoo import AizooDetector
from agent.vision.inference.worker import VisionWorker
from agent.vision.manifest import Optimisation, load_manifest
from agent.vision.slot import LatestFrame

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TRIAGE_SHARED", REPO.parent / "shared"))
REFERENCE = SHARED / "models" / "reference"
WARMUP_S = 3.0


class StampedSlot(LatestFrame):
    """The grabber's frame slot, also noting when frame number ``watch`` was captured."""

    def __init__(self, capacity: int, watch: int) -> None:
        super().__init__(capacity)
        self.watch = watch
        self.watched_at: float | None = None

    def wanted(self, index: int) -> bool:
        if index == self.watch:
            self.watched_at = time.time()
        return super().wanted(index)


class AizooScene:
    """The AIZOO reference (detection and mask in one SSD pass) as a scene inference.

    The reference runs at its best: each onnxruntime graph optimisation level is timed on
    ``probe`` (CPU time, median of :data:`PROBE_RUNS`) and the fastest is kept; on an AVX-512
    Xeon the default 'all' (with the CPU layout transformation) made this SSD 3.6 times slower
    than 'basic'. ``levels`` holds the probe's timings, ``optimisation`` the level used.
    """

    def __init__(self, probe: Frame) -> None:
        spec = load_manifest(REPO / "docs" / "byom" / "aizoo.json").models[0]
        self.levels: dict[str, float] = {}
        best: tuple[float, AizooDetector] | None = None
        for level in get_args(Optimisation):
            detector = AizooDetector(
                spec.model_copy(update={"optimisation": level}), REFERENCE / spec.file, threads=1
            )
            ms = _median_cpu_ms(functools.partial(detector.detect, probe))
            self.levels[level] = ms
            if best is None or ms < best[0]:
                best = (ms, detector)
        assert best is not None
        self._detector = best[1]
        self.optimisation = min(self.levels, key=lambda k: self.levels[k])

    def analyse(self, frame: Frame, at: float) -> SceneFindings:
        t0 = time.perf_counter()
        faces = tuple(FaceFinding(b, b.mask_prob or 0.0) for b in self._detector.detect(frame))
        ms = (time.perf_counter() - t0) * 1000.0
        return SceneFindings(at, faces, None, ms, int(frame.shape[1]), int(frame.shape[0]))


PROBE_RUNS = 9
"""Timed runs per optimisation level when the reference picks its fastest."""


def _median_cpu_ms(run: Callable[[], object]) -> float:
    run()  # the first run allocates
    times = []
    for _ in range(PROBE_RUNS):
        t0 = time.process_time()
        run()
        times.append((time.process_time() - t0) * 1000.0)
    return round(statistics.median(times), 2)


def vision_config(pipeline: str, person: bool, **overrides: object) -> VisionConfig:
    """The vision settings of a benchmark pipeline (``overrides``: other ``vision.*`` values)."""
    if pipeline == "ours":
        fields: dict[str, object] = {
            "models_dir": REPO / "models",
            "threads": 1,
            **({} if person else {"person_model": None}),
            **overrides,
        }
        return VisionConfig.model_validate(fields)
    return VisionConfig(models_dir=REPO / "models", threads=1, motion_gating=False, detect_fps=60.0)


def analyser_for(pipeline: str, vision: VisionConfig, probe: Frame) -> SceneInference:
    """The scene inference of a benchmark pipeline (``probe``: a frame of the video)."""
    return load_inference(vision) if pipeline == "ours" else AizooScene(probe)


def _first_frame(video: Path) -> Frame:
    capture = cv2.VideoCapture(str(video))
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise SystemExit(f"cannot read a frame of {video}")
    return np.asarray(frame, dtype=np.uint8)


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", choices=("ours", "aizoo"), required=True)
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pace", action="store_true")
    parser.add_argument("--no-loop", action="store_true")
    parser.add_argument(
        "--no-person", action="store_true", help="without the person detector (faces only)"
    )
    parser.add_argument("--models-dir", type=Path)
    parser.add_argument("--detect-fps", type=float, help="vision.detect_fps (default: config's)")
    parser.add_argument("--face-model", help="vision.face_model (default: config's)")
    parser.add_argument("--no-motion", action="store_true", help="vision.motion_gating = false")
    parser.add_argument("--enter-at", type=float, help="seconds into the video a face appears")
    args = parser.parse_args()
    overrides: dict[str, object] = {}
    if args.models_dir is not None:
        overrides["models_dir"] = args.models_dir
    if args.detect_fps is not None:
        overrides["detect_fps"] = args.detect_fps
    if args.face_model is not None:
        overrides["face_model"] = args.face_model
    if args.no_motion:
        overrides["motion_gating"] = False
    vision = vision_config(args.pipeline, not args.no_person, **overrides)
    analyser = analyser_for(args.pipeline, vision, _first_frame(args.video))
    camera = CameraConfig(source=str(args.video), loop=not args.no_loop, max_fps=30)
    with tempfile.TemporaryDirectory() as state:
        sources, analysers = build(camera, vision, analyser, state_dir=Path(state))
    grabber, worker = sources
    assert isinstance(grabber, CameraReader)
    assert isinstance(worker, VisionWorker)
    grabber.pace = args.pace
    if args.enter_at is not None:  # note when the first frame with the person is captured
        slot = StampedSlot(grabber.latest.capacity, round(args.enter_at * 30) + 1)
        grabber.latest = worker.latest = slot
    lock = threading.Lock()
    first_face: list[float] = []

    def emit(observation: object) -> None:
        if isinstance(observation, SceneFindings) and observation.faces and not first_face:
            first_face.append(time.time())
        with lock:
            for a in analysers:
                a.feed(observation)

    grabber.start()
    worker.start(emit)
    warmup = 0.0 if args.enter_at is not None else WARMUP_S
    time.sleep(warmup)
    cpu0, frames0, done0, replaced0 = _cpu_s(), grabber.frames, worker.analysed, 0
    replaced0 = grabber.latest.replaced
    t0 = time.monotonic()
    time.sleep(args.seconds)
    elapsed = time.monotonic() - t0
    cpu = _cpu_s() - cpu0
    frames, done = grabber.frames - frames0, worker.analysed - done0
    replaced = grabber.latest.replaced - replaced0
    worker.stop()
    grabber.stop()
    video_s = frames / 30.0
    out: dict[str, object] = {
        "pipeline": args.pipeline,
        "person_detector": args.pipeline == "ours" and not args.no_person,
        "paced": args.pace,
        "wall_s": round(elapsed, 2),
        "cpu_s": round(cpu, 3),
        "video_s": round(video_s, 2),
        "core_s_per_video_s": round(cpu / video_s, 4) if video_s else None,
        "cpu_pct_of_one_core": round(100.0 * cpu / elapsed, 2),
        "decoded_fps": round(frames / elapsed, 2),
        "processed_fps": round(done / elapsed, 2),
        "dropped": replaced,
        "inference_ms_median": worker.inference_ms(),
        "rss_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if isinstance(analyser, AizooScene):
        out["optimisation"] = analyser.optimisation
        out["optimisation_ms"] = analyser.levels
    if worker.gate is not None:
        c = worker.gate.counts
        out["gate"] = {
            "frames": c.frames,
            "full": c.full,
            "region": c.region,
            "carried": c.carried,
            "persons": c.persons,
            "persons_confirmed": c.confirmed,
        }
    if isinstance(grabber.latest, StampedSlot):
        entered = grabber.latest.watched_at
        out["react_s"] = (
            round(first_face[0] - entered, 3) if first_face and entered is not None else None
        )
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
