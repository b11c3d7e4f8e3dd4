"""The latest-frame slot: the one hand-over between the camera grabber and the vision worker.

The grabber thread (:mod:`agent.vision.capture.grabber`) writes captured frames into a
:class:`LatestFrame`; the vision worker thread (:mod:`agent.vision.inference.worker`) takes them. It
sits below both so that neither imports the other. Frames stay in process memory.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from agent.vision.findings import Frame


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    """One frame and when it was captured."""

    image: Frame
    at: float
    """POSIX time of capture."""
    index: int
    """Sequence number since the grabber started (1, 2, ...)."""


class LatestFrame:
    """A small frame slot shared by the grabber (writer) and the worker (reader).

    With ``capacity`` 1 (the default) the newest frame wins: a new frame replaces one not yet
    taken. With a larger capacity the worker gets every frame in order while it keeps up on
    average (a slow detection is caught up on by the cheap motion checks of the next frames); only
    when ``capacity`` frames are waiting does the oldest give way. Either way memory is bounded.
    """

    def __init__(self, capacity: int = 1) -> None:
        self._cond = threading.Condition()
        self._frames: deque[CapturedFrame] = deque()
        self.capacity = max(1, capacity)
        self.replaced = 0
        """Frames dropped before anyone took them (the price of a bounded slot)."""
        self.keep_every = 1
        """The reader wants every Nth frame only (set by the worker while the scene is idle); the
        grabber passes over the others without decoding them (:meth:`FrameSource.skip`)."""

    def wanted(self, index: int) -> bool:
        """Whether frame number ``index`` should be decoded and stored."""
        return index % max(1, self.keep_every) == 0

    def put(self, frame: CapturedFrame) -> None:
        """Store ``frame``; when the slot is full, the oldest frame not yet taken is dropped."""
        with self._cond:
            if len(self._frames) >= self.capacity:
                self._frames.popleft()
                self.replaced += 1
            self._frames.append(frame)
            self._cond.notify_all()

    def take(self, timeout: float) -> CapturedFrame | None:
        """The oldest frame not taken before, waiting up to ``timeout`` s; None if none came."""
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._frames), timeout):
                return None
            return self._frames.popleft()
