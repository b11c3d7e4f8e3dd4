"""The vision worker: the inference thread between the frame grabber and the pipeline.

At most ``camera.max_fps`` times a second it takes the newest frame from the grabber's
:class:`~agent.vision.slot.LatestFrame` and passes it through the
:class:`~agent.vision.inference.gate.DetectionGate`, which checks it for motion and runs the
:class:`~agent.vision.findings.SceneInference` only when and where that can change the findings (see
:mod:`agent.vision.inference.gate`); it emits the frozen :class:`~agent.vision.findings.SceneFindings` the gate
returns (the observation the vision analysers consume). The frame itself is dropped right after:
it never leaves this thread. Its :class:`Heartbeat` (stage ``vision``) reports the rate of frames
processed; :meth:`models` names the loaded models (for the ``status`` events); :meth:`inference_ms` is the median model time over recent detections (for health
events), None while no frame is being processed. Without a gate (``gate=None``) every frame taken is analysed in full. With an
:class:`~agent.vision.inference.integrity.IntegrityChecker`, every ``integrity_every_s`` the frame taken is
also checked for tampering, before and regardless of the gate (a covered camera shows no motion),
and the :class:`~agent.vision.findings.IntegrityFindings` (numbers only) are emitted too.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque

from agent.flow.heartbeat import Heartbeat
from agent.flow.ports import Emit
from agent.flow.threaded import ThreadedSource
from agent.vision.findings import Frame, SceneInference
from agent.vision.inference.gate import IDLE_STRIDE, DetectionGate, GateSettings
from agent.vision.inference.integrity import IntegrityChecker
from agent.vision.slot import LatestFrame

log = logging.getLogger(__name__)


class VisionWorker(ThreadedSource):
    """A :class:`~agent.flow.ports.Source` (stage ``vision``) emitting one observation per analysed frame."""

    def __init__(
        self,
        latest: LatestFrame,
        inference: SceneInference,
        max_fps: float,
        *,
        name: str = "vision",
        stale_after_s: float = 10.0,
        gate: GateSettings | None = None,
        integrity: IntegrityChecker | None = None,
        integrity_every_s: float = 1.0,
    ) -> None:
        super().__init__(name, Heartbeat(name, stale_after_s), f"{name}-worker")
        self.analysed = 0
        """Frames processed since start (motion-checked, and analysed when the gate said so)."""
        self.gate = DetectionGate(inference, gate) if gate is not None else None
        self.latest = latest
        """The slot frames are taken from (shared with the grabber)."""
        self._inference = inference
        self._period = 1.0 / max_fps
        self._ms: deque[float] = deque(maxlen=32)
        self._integrity = integrity
        self._integrity_every_s = integrity_every_s
        self._last_check: float | None = None
        self._lock = threading.Lock()

    def inference_ms(self) -> float | None:
        """Median inference time of recent frames in milliseconds; None before the first frame and
        while no frame has been analysed within ``stale_after_s`` (camera down: no stale figure)."""
        if not self.heartbeat.fresh():
            return None
        with self._lock:
            return round(statistics.median(self._ms), 1) if self._ms else None

    def models(self) -> dict[str, str] | None:
        """The loaded models by task (the scene inference's ``models``: ``face``, ``mask``,
        ``person`` -> ``<name>@<sha256 prefix>``), None when the inference names none."""
        named = getattr(self._inference, "models", None)
        if not isinstance(named, dict) or not named:
            return None
        return {str(k): str(v) for k, v in named.items()}

    def run(self, emit: Emit) -> None:
        """Take the newest frame at most ``max_fps`` times a second, analyse it, emit the findings."""
        next_at = time.monotonic()
        while not self.stopping:
            self.loop.turn()
            wait = next_at - time.monotonic()
            if wait > 0 and self.wait(wait):
                break
            frame = self.latest.take(timeout=0.5)
            if frame is None:
                continue
            # at most max_fps on average, but frames that queued up behind a slow detection are
            # caught up on at once (a schedule, not a fixed gap after each frame)
            now = time.monotonic()
            next_at = max(next_at + self._period, now - self.latest.capacity * self._period)
            self._check_integrity(frame.image, frame.at, emit)
            started = time.perf_counter()
            try:
                if self.gate is not None:
                    findings = self.gate.process(frame.image, frame.at)
                else:
                    findings = self._inference.analyse(frame.image, frame.at)
            except Exception as exc:  # one bad frame must not stop vision
                self.heartbeat.error(f"inference failed: {exc}")
                log.exception("vision: inference failed on one frame")
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            self.analysed += 1
            if self.gate is not None:
                self.latest.keep_every = IDLE_STRIDE if self.gate.idle else 1
            del frame
            self.heartbeat.beat()
            if findings is None:
                continue
            if findings.inference_ms > 0.0:
                with self._lock:
                    self._ms.append(elapsed_ms)
            emit(findings)

    def _check_integrity(self, image: Frame, at: float, emit: Emit) -> None:
        checker = self._integrity
        if checker is None:
            return
        if self._last_check is not None and at - self._last_check < self._integrity_every_s:
            return
        self._last_check = at
        try:
            findings = checker.check(image, at)
        except Exception as exc:  # a failing check must not stop vision
            self.heartbeat.error(f"integrity check failed: {exc}")
            log.exception("vision: integrity check failed on one frame")
            return
        emit(findings)
