"""The camera reader: one thread (``camera-grabber``) reading a :class:`FrameSource` into the
latest-frame slot.

The slot holds at most ``buffer_frames`` frames (:class:`~agent.vision.slot.LatestFrame`): with 1, the latest frame
wins; with a few (the gated vision path), the worker sees every frame in order and catches up after
a slow detection. When the slot is full the oldest frame gives way (counted in
``LatestFrame.replaced``), so the backlog is bounded however slow inference is. While the scene is
idle the worker asks for every Nth frame only (``LatestFrame.keep_every``): the others are passed
over with :meth:`~agent.vision.capture.frames.FrameSource.skip` (no decode to BGR where the source allows:
``VideoCapture.grab`` without ``retrieve``); a paced source (file, folder, simulated) passes them
over straight after the frame before, so the thread wakes once per kept frame. When the camera
vanishes, or a file/stream ends without ``camera.loop``, the grabber closes it and reopens it with
exponential backoff (``camera.reconnect_min_s`` doubling up to ``camera.reconnect_max_s``, 5 s by
default, so a returning camera delivers within seconds whatever the outage) and logs one line when
frames flow again; its :class:`Heartbeat` (stage ``camera``) says ``disconnected`` since when, the
capture fps and the age of the last frame. Every blocking call is bounded (stream open/read
timeouts) and the loop stamp turns between them (:class:`~agent.flow.threaded.ThreadedSource`).
Frames stay in process memory.
"""

from __future__ import annotations

import logging
import time

from agent.flow.clock import agent_now
from agent.flow.heartbeat import Heartbeat
from agent.flow.ports import Emit
from agent.flow.threaded import Backoff, ThreadedSource
from agent.vision.capture.frames import FrameSource, SourceUnavailableError, open_source
from agent.vision.config import CameraConfig
from agent.vision.slot import CapturedFrame, LatestFrame

log = logging.getLogger(__name__)


class CameraReader(ThreadedSource):
    """Reads the camera into a :class:`~agent.vision.slot.LatestFrame` (:attr:`latest`), on its own
    thread, reconnecting with backoff; the vision worker takes frames from there.

    A :class:`~agent.flow.ports.Source` (stage ``camera``) for its thread, heartbeat and loop stamp
    only: it sends no observation to the engine (its ``emit`` is never called).
    """

    def __init__(
        self,
        camera: CameraConfig,
        source: FrameSource | None = None,
        *,
        name: str = "camera",
        pace: bool = True,
        buffer_frames: int = 1,
    ) -> None:
        super().__init__(name, Heartbeat(name, camera.stale_after_s), f"{name}-grabber")
        self.camera = camera
        self.source = source if source is not None else open_source(camera)
        self.latest = LatestFrame(buffer_frames)
        self.frames = 0
        """Frames read since start."""
        self.reconnects = 0
        """Times the source was (re)opened after a failure or end."""
        self.skipped = 0
        """Frames passed over without decoding because the worker asked for fewer (idle scene)."""
        self.pace = pace
        """Read files, folders and simulated frames at their native rate (like a camera)."""

    def run(self, emit: Emit) -> None:
        """Open, read until the source ends, reopen with backoff; until stopped (``emit`` unused)."""
        backoff = Backoff(self.camera.reconnect_min_s, self.camera.reconnect_max_s)
        label = self.source.spec.label
        reported: str | None = None
        opened_once = False
        while not self.stopping:
            self.loop.turn()
            try:
                self.source.open()
            except SourceUnavailableError as exc:
                reason = str(exc)
                self.went_down()
                self.heartbeat.set_state("disconnected", reason)
                delay = backoff.next_delay()
                if reason != reported:
                    log.warning("camera: %s; retrying (backoff up to %.0fs)", reason, backoff.max_s)
                    reported = reason
                self.wait(delay)
                continue
            except Exception as exc:  # an OpenCV/driver error must not kill the thread
                self.went_down()
                self.heartbeat.set_state("error", f"opening {label}: {exc}")
                log.exception("camera: unexpected error opening %s", label)
                self.wait(backoff.next_delay())
                continue
            if opened_once:
                self.reconnects += 1
            opened_once = True
            got = self._read_until_end()
            self.source.close()
            if self.stopping:
                break
            if got:
                backoff.reset()
                reported = None
            why = f"{label} ended or vanished"
            self.went_down()
            self.heartbeat.set_state("disconnected", why)
            log.warning("camera: %s; reopening", why)
            self.wait(backoff.next_delay())
        self.source.close()

    def _read_until_end(self) -> int:
        """Read frames until the source ends or we are stopped; return how many were read."""
        got = 0
        period = 1.0 / self.source.native_fps if self.pace and self.source.native_fps else 0.0
        next_at = time.monotonic()
        while not self.stopping:
            self.loop.turn()
            wanted = self.latest.wanted(self.frames + 1)
            try:
                image = self.source.read() if wanted else None
                ended = image is None if wanted else not self.source.skip()
            except Exception as exc:  # a decode error in one frame: count it, treat as vanished
                self.heartbeat.error(f"reading {self.source.spec.label}: {exc}")
                return got
            if ended:
                return got
            now = agent_now()  # agent time: a wall-clock step never skews the analysers
            self.frames += 1
            got += 1
            if got == 1:
                self.came_back(f"camera: {self.source.spec.label} is back")
            if image is not None:
                self.latest.put(CapturedFrame(image, now, self.frames))
            else:
                self.skipped += 1
            self.heartbeat.beat(now)
            if period:
                next_at += period
                if not self.latest.wanted(self.frames + 1):
                    continue  # passed over at once: the pace is kept for the frames kept
                delay = next_at - time.monotonic()
                if delay > 0:
                    self.wait(delay)
                else:
                    next_at = time.monotonic()
        return got
