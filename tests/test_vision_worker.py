"""The vision worker (agent/vision/inference/worker.py): it takes the grabber's frames, runs the
scene inference (real ONNX models on real frames) and emits findings; an inference that fails is
counted and named, never the end of the worker.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from agent.vision.capture.grabber import CameraReader
from agent.vision.config import CameraConfig
from agent.vision.findings import Frame, SceneFindings
from agent.vision.inference.worker import VisionWorker
from agent.vision.slot import LatestFrame
from tests.vision_media import desk, mask_faces, scene_inference, write_video

FPS = 10


def wait_for(cond: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not cond():
        time.sleep(0.05)
    return cond()


class Raising:
    def analyse(self, frame: Frame, at: float) -> SceneFindings:
        raise RuntimeError("model exploded")


def test_worker_survives_a_failing_analyser_and_counts_errors() -> None:
    slot = LatestFrame()
    worker = VisionWorker(slot, Raising(), max_fps=50)
    got: list[object] = []
    worker.start(got.append)
    try:
        from agent.vision.slot import CapturedFrame

        for i in range(1, 4):

            def slot_index(n: int = i) -> int:
                return n

            slot.put(CapturedFrame(np.zeros((48, 64, 3), np.uint8), float(i), i))
            assert wait_for(lambda: worker.heartbeat.snapshot().errors >= slot_index(), 10)
    finally:
        worker.stop()
    assert got == []
    assert worker.inference_ms() is None
    assert "model exploded" in (worker.heartbeat.last_error or "")


@pytest.mark.shared
@pytest.mark.model
def test_worker_emits_findings_from_real_frames(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", [(desk(mask_faces("without_mask", 2, 1)), 30)], fps=FPS)
    grabber = CameraReader(CameraConfig(source=str(video), loop=True, max_fps=5))
    worker = VisionWorker(grabber.latest, scene_inference(), max_fps=5)
    out: queue.Queue[object] = queue.Queue()
    grabber.start()
    worker.start(out.put)
    try:
        first = out.get(timeout=30)
        second = out.get(timeout=30)
    finally:
        worker.stop()
        grabber.stop()
    assert isinstance(first, SceneFindings)
    assert isinstance(second, SceneFindings)
    assert second.at > first.at
    assert len(first.faces) == 2
    assert all(not f.masked for f in first.faces)
    assert (first.frame_width, first.frame_height) == (640, 480)
    assert worker.inference_ms() is not None
    assert worker.heartbeat.snapshot().state == "ok"
