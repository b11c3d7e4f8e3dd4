"""Screening coverage on real pixels, end to end: ``triage-agent run`` watching a video of a queue
passing the desk (real people cut out of ../shared scene photos, tests/desk_scenes.py) while the
thermometer speaks the bridge protocol through a pty; a real mosquitto; the subscriber checks what a
supervisor would be told.

The queue: seven people pass one after the other, each in view for 6 s. The first three stop at the
thermometer (a presentation is played on the pty as the box reports them in view), the next three
walk past without stopping, the seventh stops again. Expected: 7 arrivals, 4 screened, 3
unscreened; ``screening_skipped`` raised once the third unscreened arrival is judged (value 3) and
cleared by the seventh person's result ("screening resumed"); the summaries add up to the same
counts as the ``coverage`` events.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import tty
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.thermometer import protocols
from firmware_bridge.trace import Sample, generate
from tests.broker import Broker, Collector, Received
from tests.conftest import REPO, AgentProcess, base_config, validate_message, write_config
from tests.desk_scenes import QUEUE_FEET_Y, paste, person, room
from tests.vision_media import write_video

FPS = 10
WHO = ("blue", "bald", "teal", "blue", "bald", "teal", "blue")
STOPS = (True, True, True, False, False, False, True)
"""Who stops at the thermometer, in the order they pass."""
IN_VIEW_S = 6
GAP_S = 5
TAIL_BEFORE_LAST_S = 25
"""Empty desk before the seventh person: the unscreened ones are judged meanwhile."""
MATCH_S = 15.0


class DeskThermometer:
    """The desk's IR thermometer on a pty, speaking the bridge protocol (real bytes): an idle
    sensor, and one person's presentation whenever :meth:`present` is called."""

    def __init__(self) -> None:
        self.device = protocols.get("bridge").device()
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self._idle = list(generate("idle", seed=3).samples)
        self._queue: deque[Sample] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.presented = 0
        self._thread = threading.Thread(target=self._run, name="desk-thermometer", daemon=True)
        self._thread.start()

    def present(self) -> None:
        """One person steps up, holds still for the reading and leaves (a normal temperature)."""
        trace = generate("normal", seed=20 + self.presented)
        p = trace.presentations[0]
        assert p.label == "normal"
        with self._lock:
            self._queue.extend(s for s in trace.samples if p.start - 0.3 <= s.t <= p.end + 1.0)
            self.presented += 1

    def _run(self) -> None:
        i = 0
        while not self._stop.wait(0.1):
            with self._lock:
                sample = self._queue.popleft() if self._queue else None
            if sample is None:
                sample = self._idle[i % len(self._idle)]
                i += 1
            frame = self.device.reading(sample.object_c, sample.ambient_c)
            if frame is not None:
                with contextlib.suppress(OSError):  # nobody reading yet: the port is not open
                    os.write(self.master, frame)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        os.close(self.master)
        os.close(self.slave)


def queue_video(path: Path) -> tuple[Path, float]:
    """The queue passing the desk, one person at a time; returns the file and its length (s)."""
    segments = []
    for k, name in enumerate(WHO):
        if k == len(WHO) - 1:
            segments.append((room(), TAIL_BEFORE_LAST_S * FPS))
        frame = paste(room(), person(name), (40, 300)[k % 2], QUEUE_FEET_Y, 280)
        segments.append((frame, IN_VIEW_S * FPS))
        segments.append((room(), GAP_S * FPS))
    segments.append((room(), 5 * FPS))
    return write_video(path, segments, fps=FPS), sum(n for _, n in segments) / FPS


def config(tmp_path: Path, port: int, video: Path, thermometer: str) -> Path:
    cfg: dict[str, Any] = base_config(
        tmp_path,
        port,
        thermometer={"enabled": True, "port": thermometer, "protocol": "bridge"},
        screening={
            "coverage_match_s": MATCH_S,
            "coverage_before_s": 10.0,
            "skipped_after": 3,
            "skipped_within_s": 120.0,
        },
        camera={"enabled": True, "source": str(video), "loop": False, "max_fps": 5},
        vision={
            "models_dir": str(REPO / "models"),
            "compliance_window_s": 5,
            "reentry_grace_s": 1,
            "integrity": {"enabled": False},  # tamper checks have their own tests
        },
    )
    return write_config(tmp_path / "agent.toml", cfg)


def presence_edges(messages: list[Received]) -> int:
    """How many times the box reported people in view after an empty view (occupancy changes)."""
    edges, before = 0, 0
    for m in messages:
        if not m.topic.endswith("/occupancy"):
            continue
        doc = m.json()
        if "window_s" in doc:
            continue
        if doc["count"] > 0 and before == 0:
            edges += 1
        before = doc["count"]
    return edges


def totals(docs: list[dict[str, Any]], kind: str) -> tuple[int, int]:
    chosen = [d for d in docs if d["kind"] == kind and d.get("period") != "day"]
    return (
        sum(d.get("arrivals_screened", 0) for d in chosen),
        sum(d.get("arrivals_unscreened", 0) for d in chosen),
    )


@pytest.mark.shared
@pytest.mark.model
@pytest.mark.broker
@pytest.mark.slow
def test_a_queue_passing_the_desk_with_and_without_stopping_at_the_thermometer(
    tmp_path: Path,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    video, played = queue_video(tmp_path / "queue.avi")
    thermometer = DeskThermometer()
    try:
        c = collector_factory(mosquitto.port, "triage/v1/#")
        agent = agent_process(config(tmp_path, mosquitto.port, video, thermometer.path))
        deadline = time.monotonic() + played + 90
        handled = 0
        while handled < len(WHO) and time.monotonic() < deadline:
            seen = presence_edges(c.wait_for(lambda ms, n=handled: presence_edges(ms) > n, 60))
            for k in range(handled, min(seen, len(WHO))):
                if STOPS[k]:
                    thermometer.present()  # this person stops at the thermometer
            handled = seen
        assert handled == len(WHO), agent.output()[-3000:]

        def judged(ms: list[Received]) -> bool:
            docs = [m.json() for m in ms if m.topic.endswith(("/coverage", "/summary"))]
            cov = totals(docs, "coverage")
            return sum(cov) >= len(WHO) and totals(docs, "summary") == cov

        c.wait_for(judged, timeout=MATCH_S + 30)
        assert agent.stop() == 0, agent.output()[-3000:]
    finally:
        thermometer.close()
    docs = [validate_message(m) for m in c.messages]
    results = [d["result"] for d in docs if d["kind"] == "temperature"]
    assert results == ["normal"] * sum(STOPS), results
    assert totals(docs, "coverage") == (4, 3)
    assert sum(d.get("results_unmatched", 0) for d in docs if d["kind"] == "coverage") == 0
    assert totals(docs, "summary") == (4, 3)
    people = sum(d.get("people", 0) for d in docs if d["kind"] == "occupancy" and "window_s" in d)
    assert people == len(WHO)
    skipped = [d for d in docs if d["kind"] == "alert" and d["alert"] == "screening_skipped"]
    assert [(d["state"], d.get("value")) for d in skipped] == [("raised", 3.0), ("cleared", None)]
    assert skipped[0]["family"] == "setup"
    assert skipped[0]["alert_id"] == skipped[1]["alert_id"]
    assert "screening resumed" in skipped[1]["message"]
    temperatures = [d["seq"] for d in docs if d["kind"] == "temperature"]
    assert temperatures[2] < skipped[0]["seq"] < temperatures[3] <= skipped[1]["seq"]
