"""The grabber (agent/vision/capture/grabber.py) on real video files and URLs: frames handed over
to the worker, frames passed over, reconnects when the file comes back, a bogus URL or an absent
device reported disconnected.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.vision.capture.frames import FrameSource, open_source
from agent.vision.capture.grabber import CameraReader
from agent.vision.findings import Frame
from tests.test_vision_frames import camera, drawn
from tests.vision_media import scene, write_video


def wait_for(cond: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


@pytest.mark.shared
def test_grabber_passes_over_frames_the_idle_worker_does_not_want(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", [(scene("img3.jpg"), 30)], fps=30)
    grabber = CameraReader(camera(video, loop=False), pace=False, buffer_frames=100)
    grabber.latest.keep_every = 3
    grabber.start()
    deadline = time.monotonic() + 10
    while grabber.frames < 30 and time.monotonic() < deadline:
        time.sleep(0.02)
    grabber.stop()
    taken = []
    while (f := grabber.latest.take(timeout=0.01)) is not None:
        taken.append(f.index)
    assert taken == list(range(3, 31, 3))  # every third frame decoded and handed over...
    assert grabber.skipped == 20  # ...the others only grabbed


@pytest.mark.shared
def test_a_paced_file_keeps_its_rate_and_passes_over_frames_at_once(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", [(scene("img3.jpg"), 60)], fps=20)
    cam = camera(video, loop=False)
    source = SkipTimes(open_source(cam))
    grabber = CameraReader(cam, source, buffer_frames=100)
    grabber.latest.keep_every = 5
    started = time.monotonic()
    grabber.start()
    assert wait_for(lambda: grabber.frames >= 60, timeout=15)
    elapsed = time.monotonic() - started
    grabber.stop()
    taken = []
    while (f := grabber.latest.take(timeout=0.01)) is not None:
        taken.append(f)
    assert [f.index for f in taken] == list(range(5, 61, 5))
    # the kept frames come at the file's pace (every 5th of 20/s: 0.25 s apart), the frames
    # between are passed over straight after each without a wait of their own
    gaps = [b.at - a.at for a, b in itertools.pairwise(taken)]
    assert min(gaps) >= 0.2, gaps
    assert elapsed >= 2.5  # 60 frames at 20/s: not read faster than the file plays
    # one wake-up per kept frame, not one per frame: the 4 passed over follow at once
    assert len(source.skips) >= 48  # and the one that found the end
    assert len(source.reads) >= 12
    for t in source.skips:
        last = max(r for r in [source.opened_at, *source.reads] if r <= t)
        assert t - last < 0.04, "a frame passed over waited for its own turn"


class SkipTimes:
    """A real frame source that notes when each frame was passed over (monotonic)."""

    def __init__(self, source: FrameSource) -> None:
        self._source = source
        self.spec = source.spec
        self.skips: list[float] = []
        self.reads: list[float] = []
        self.opened_at = 0.0

    @property
    def native_fps(self) -> float | None:  # known once opened
        return self._source.native_fps

    @native_fps.setter
    def native_fps(self, fps: float | None) -> None:
        self._source.native_fps = fps

    def open(self) -> None:
        self._source.open()
        self.opened_at = time.monotonic()

    def read(self) -> Frame | None:
        self.reads.append(time.monotonic())
        return self._source.read()

    def skip(self) -> bool:
        self.skips.append(time.monotonic())
        return self._source.skip()

    def close(self) -> None:
        self._source.close()


def test_grabber_reconnects_when_file_is_deleted_and_recreated(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    grabber = CameraReader(camera(video, loop=False, max_fps=30))
    grabber.start()
    try:
        assert wait_for(lambda: grabber.heartbeat.snapshot().state == "disconnected")
        assert "not found" in (grabber.heartbeat.last_error or "")
        write_video(
            tmp_path / "tmp.avi", [(drawn(i), 1) for i in range(5)], fps=30, size=(320, 240)
        )
        (tmp_path / "tmp.avi").rename(video)
        assert wait_for(lambda: grabber.frames >= 5)
        assert grabber.heartbeat.snapshot().age_s is not None
        # the file ends (no loop): the grabber closes it and waits for it to come back
        assert wait_for(lambda: grabber.heartbeat.snapshot().state == "disconnected")
        video.unlink()
        time.sleep(0.3)
        write_video(
            tmp_path / "tmp.avi", [(drawn(i), 1) for i in range(4)], fps=30, size=(320, 240)
        )
        (tmp_path / "tmp.avi").rename(video)
        assert wait_for(lambda: grabber.frames >= 9)
        assert grabber.reconnects >= 1
        latest = grabber.latest.take(timeout=1.0)
        assert latest is not None
        assert latest.image.shape == (240, 320, 3)
    finally:
        grabber.stop()


def test_grabber_on_bogus_url_stays_disconnected_and_stops(tmp_path: Path) -> None:
    grabber = CameraReader(camera("rtsp://user:pw@127.0.0.1:9/none"))
    grabber.start()
    try:
        assert wait_for(lambda: grabber.heartbeat.snapshot().state == "disconnected")
        health = grabber.heartbeat.snapshot()
        assert health.age_s is None
        assert grabber.frames == 0
        assert "pw" not in (grabber.heartbeat.last_error or "")
    finally:
        grabber.stop()


def test_grabber_on_absent_device_reports_disconnected() -> None:
    grabber = CameraReader(camera("/dev/video97"))
    grabber.start()
    try:
        assert wait_for(lambda: grabber.heartbeat.snapshot().state == "disconnected")
        assert "/dev/video97 not present" in (grabber.heartbeat.last_error or "")
    finally:
        grabber.stop()


def test_grabber_on_looping_file_delivers_latest_frames(tmp_path: Path) -> None:
    video = write_video(
        tmp_path / "l.avi", [(drawn(i), 1) for i in range(4)], fps=50, size=(320, 240)
    )
    grabber = CameraReader(camera(video, loop=True))
    grabber.start()
    try:
        assert wait_for(lambda: grabber.frames >= 30)
        assert grabber.reconnects == 0
        assert grabber.latest.replaced > 0  # nobody took frames: each one replaced the last
        assert grabber.heartbeat.snapshot().state == "ok"
    finally:
        grabber.stop()
