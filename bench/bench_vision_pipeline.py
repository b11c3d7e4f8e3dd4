"""End-to-end vision throughput and memory on one core: video file -> grabber -> worker -> findings.

Writes a 640x480 MJPG test video into a temporary folder from ../shared scene photos, then runs the
real :class:`~agent.vision.grabber.FrameGrabber` (paced at the file's 30 fps, like a camera) and
:class:`~agent.vision.worker.VisionWorker` (``max_fps`` 60, i.e. unthrottled) for ``SECONDS`` with
the process pinned to one CPU and onnxruntime on one thread. Reports analysed frames/s, decoded
frames/s, frames replaced in the latest-frame slot, median inference ms and resident memory (RSS now
and peak). Uses the shipped models when they are built, otherwise the AIZOO reference model (the
``analyser`` field says which). Run alone with ``.venv/bin/python -m bench.bench_vision_pipeline``.
"""

from __future__ import annotations

import json
import os
import queue
import tempfile
import time
from pathlib import Path

import cv2

from agent.vision import load_analyser
from agent.vision.config import CameraConfig, VisionConfig
from agent.vision.families.aizoo import AizooDetector
from agent.vision.findings import FaceFinding, Frame, SceneAnalyser, SceneFindings
from agent.vision.grabber import FrameGrabber
from agent.vision.manifest import ModelError, load_manifest
from agent.vision.worker import VisionWorker

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TRIAGE_SHARED", REPO.parent / "shared"))
SCENES = ("12.jpg", "masked_img3.jpg", "hpc203_zidane.jpg", "img2.jpg")
SECONDS = 15.0


def _rss_kib() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def _video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30.0, (640, 480))
    for name in SCENES:
        image = cv2.imread(str(SHARED / "data" / "scenes" / name))
        if image is None:
            raise FileNotFoundError(SHARED / "data" / "scenes" / name)
        frame = cv2.resize(image, (640, 480), interpolation=cv2.INTER_AREA)
        for _ in range(30):
            writer.write(frame)
    writer.release()
    return path


class _Reference:
    """AIZOO reference model as a scene analyser (only while the shipped models are not built)."""

    def __init__(self) -> None:
        spec = load_manifest(REPO / "docs" / "byom" / "aizoo.json").models[0]
        self._detector = AizooDetector(spec, SHARED / "models" / "reference" / spec.file)

    def analyse(self, frame: Frame, at: float) -> SceneFindings:
        t0 = time.perf_counter()
        faces = tuple(FaceFinding(b, b.mask_prob or 0.0) for b in self._detector.detect(frame))
        ms = (time.perf_counter() - t0) * 1000.0
        return SceneFindings(at, faces, None, ms, int(frame.shape[1]), int(frame.shape[0]))


def _analyser() -> tuple[SceneAnalyser, str]:
    try:
        return load_analyser(VisionConfig(models_dir=REPO / "models", threads=1)), "shipped"
    except ModelError as exc:
        if "missing" not in str(exc) and "not found" not in str(exc):
            raise
        return _Reference(), "aizoo-reference"


def main() -> dict[str, object]:
    if not (SHARED / "data" / "scenes").is_dir():
        return {"skipped": f"{SHARED / 'data' / 'scenes'} is absent (needs ../shared)"}
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    rss_before = _rss_kib()
    analyser, which = _analyser()
    with tempfile.TemporaryDirectory() as tmp:
        video = _video(Path(tmp) / "bench.avi")
        camera = CameraConfig(source=str(video), loop=True, max_fps=60)
        grabber = FrameGrabber(camera)
        worker = VisionWorker(grabber.latest, analyser, camera.max_fps)
        out: queue.Queue[object] = queue.Queue()
        grabber.start()
        worker.start(out.put)
        time.sleep(2.0)  # warm-up: sessions, first decode
        analysed0, frames0, t0 = worker.analysed, grabber.frames, time.monotonic()
        time.sleep(SECONDS)
        analysed, frames, elapsed = worker.analysed, grabber.frames, time.monotonic() - t0
        ms = worker.inference_ms()
        worker.stop()
        grabber.stop()
    rss = _rss_kib()
    return {
        "analyser": which,
        "cpus": 1,
        "seconds": round(elapsed, 1),
        "analysed_fps": round((analysed - analysed0) / elapsed, 2),
        "decoded_fps": round((frames - frames0) / elapsed, 1),
        "replaced_frames": grabber.latest.replaced,
        "inference_ms_median": ms,
        "rss_mib": round(rss["VmRSS"] / 1024, 1),
        "rss_peak_mib": round(rss["VmHWM"] / 1024, 1),
        "rss_before_models_mib": round(rss_before["VmRSS"] / 1024, 1),
    }


if __name__ == "__main__":
    print(json.dumps(main()))
