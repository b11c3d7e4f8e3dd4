"""A box without a clock battery: the service's clocks (agent/service/clocks.py) and wall-clock
steps at start and while running (issue 19, item 2).

Injected clocks (a wall clock the test steps, a monotonic one that only advances) drive the real
pipeline, its outbox and summary tally second by second, as its main loop does.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentConfig, parse_config
from agent.flow.alerts import AlertLatch
from agent.flow.clock import StepWatch
from agent.flow.events import Event, TemperatureEvent
from agent.flow.heartbeat import Heartbeat
from agent.flow.liveness import LoopStamp
from agent.flow.ports import Emit
from agent.service.pipeline import Pipeline
from agent.wire.outbox import Outbox
from tests.broker import Received
from tests.conftest import base_config, validate_message

D = 1_795_392_000.0
"""2026-11-23 00:00:00 UTC (the clinic's time zone is UTC here)."""
HOUR = 3600.0
DAY = 86400.0


class Clocks:
    """The wall clock (stepped by the test) and the monotonic one (only ever advances)."""

    def __init__(self, wall: float) -> None:
        self.wall = wall
        self.mono = 1000.0
        self._origin = wall - self.mono

    def time(self) -> float:
        return self.wall

    def agent(self) -> float:
        return self.mono + self._origin

    def step(self, seconds: float) -> None:
        self.wall += seconds


class Probe:
    name = "probe"

    def __init__(self) -> None:
        self.heartbeat = Heartbeat("probe", 5.0)

    def start(self, emit: Emit) -> None:
        pass

    def stop(self) -> None:
        pass

    def loops(self) -> list[LoopStamp]:
        return []


class Desk:
    """One temperature result every ``every_s`` of agent time, and a crowding alert whose
    condition holds from the start and needs ``raise_after_s`` to raise."""

    name = "desk"

    def __init__(self, every_s: float = 60.0, raise_after_s: float = 300.0) -> None:
        self.every_s = every_s
        self.next_at: float | None = None
        self.latch = AlertLatch("crowding", raise_after_s, 5.0)

    def feed(self, observation: object) -> Sequence[Event]:
        return []

    def tick(self, now: float) -> Sequence[Event]:
        out: list[Event] = []
        if self.next_at is None or now >= self.next_at:
            self.next_at = now + self.every_s
            out.append(TemperatureEvent(now, "normal", 36.5, 24.0, 36.5, 37.3, 1, 9))
        change = self.latch.update(True, now)
        if change is not None:
            out.append(change.event("crowded", 9.0))
        return out


def box(
    tmp_path: Path, clocks: Clocks, state: list[str] | None = None, desk: Desk | None = None
) -> Pipeline:
    cfg: AgentConfig = parse_config(
        base_config(tmp_path, 1883, reporting={"health_interval_s": 60, "summary_interval_s": 900}),
        environ={},
    )
    return Pipeline(
        cfg,
        [Probe()],
        [desk or Desk()],
        Outbox(cfg.outbox.path),
        publisher=None,
        clock=clocks.time,
        agent_clock=clocks.agent,
        clock_state=(lambda: state[0]) if state is not None else None,  # type: ignore[return-value,arg-type]
    )


def run(p: Pipeline, clocks: Clocks, seconds: int) -> None:
    """The main loop's ticks, one a second of monotonic time."""
    for _ in range(seconds):
        clocks.mono += 1.0
        clocks.wall += 1.0
        p.tick(clocks.wall)


def messages(p: Pipeline) -> list[dict[str, Any]]:
    out = []
    for row in p.outbox.peek(limit=100_000):
        m = row.message
        out.append(validate_message(Received(m.topic, m.payload, m.retain)))
    return out


def of(p: Pipeline, kind: str, after_seq: int = 0) -> list[dict[str, Any]]:
    return [d for d in messages(p) if d["kind"] == kind and d["seq"] > after_seq]


def last_seq(p: Pipeline) -> int:
    return max((int(d["seq"]) for d in messages(p)), default=0)


def keys(summaries: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(s["period"], s["date"], s["start"]) for s in summaries]


def counted(p: Pipeline, summaries: list[dict[str, Any]]) -> int:
    """Results in the 15-min summaries plus those still in the open period."""
    slot, _ = p.summaries.tally.periods if p.summaries.tally is not None else (None, None)
    open_now = 0 if slot is None else sum(slot.results.values())
    closed = sum(
        int(s["screened"]) + int(s["invalid"]) for s in summaries if s["period"] == "15min"
    )
    return closed + open_now


def test_step_watch_tells_a_step_from_time_passing() -> None:
    w = StepWatch()
    assert w.check(D, 10.0) == 0.0
    assert w.check(D + 1.0004, 11.0) == 0.0  # slewing, jitter
    assert w.check(D + 2 - HOUR, 12.0) == pytest.approx(-HOUR, abs=0.01)
    assert w.check(D + 3 - HOUR + DAY, 13.0) == pytest.approx(DAY, abs=0.01)
    assert w.steps == 2


def test_clock_stepped_back_an_hour_while_running(tmp_path: Path) -> None:
    clocks = Clocks(D + 12 * HOUR + 5 * 60)  # 12:05
    p = box(tmp_path, clocks)
    run(p, clocks, 200)
    clocks.step(-HOUR)  # 12:08:20 -> 11:08:20
    run(p, clocks, 1200)
    health = of(p, "health")
    assert len(health) == 1 + 1400 // 60  # its period kept: one a minute throughout
    gaps = {b["uptime_s"] - a["uptime_s"] for a, b in itertools.pairwise(health)}
    assert gaps == {60}
    assert health[-1]["uptime_s"] == 1381  # first tick 1 s after the start
    assert p.snapshot()["uptime_s"] == 1400.0
    assert health[4]["ts"] == "2026-11-23T11:09:01.000Z"  # labelled with the stepped clock
    summaries = of(p, "summary")
    # the 12:00 period carried on as 11:00-11:15 and closed at 11:15, not an hour later
    assert keys(summaries) == [("15min", "2026-11-23", "11:00")]
    temps = of(p, "temperature")
    assert counted(p, summaries) == len(temps) == 24  # none lost, none counted twice
    assert p.snapshot()["clock"]["steps"] == 1


def test_clock_stepped_forward_a_day_while_running(tmp_path: Path) -> None:
    clocks = Clocks(D + 12 * HOUR + 5 * 60)
    p = box(tmp_path, clocks)
    run(p, clocks, 200)  # the crowding alert's 300 s delay is pending
    clocks.step(DAY)
    run(p, clocks, 90)
    assert of(p, "alert") == []  # the delay runs on the monotonic clock: not raised early
    run(p, clocks, 1110)
    (alert,) = of(p, "alert")
    assert alert["ts"] == "2026-11-24T12:10:01.000Z"  # 300 s after the first tick, next day's label
    assert [s for s in of(p, "summary") if s["period"] == "day"] == []  # no early day summary
    summaries = of(p, "summary")
    assert keys(summaries) == [("15min", "2026-11-24", "12:00")]
    assert counted(p, summaries) == len(of(p, "temperature")) == 24
    health = of(p, "health")
    assert len(health) == 1 + 1400 // 60
    assert health[-1]["uptime_s"] == 1381  # not a day
    assert p.summaries.tally is not None
    assert p.summaries.tally.periods[1].date == "2026-11-24"
    assert sum(p.summaries.tally.periods[1].results.values()) == 24  # the day holds every count


def test_restart_after_the_clock_was_corrected_back_does_not_stall(tmp_path: Path) -> None:
    ahead = Clocks(D + DAY + 12 * HOUR)  # a clock a day ahead: 2026-11-24 12:00
    a = box(tmp_path, ahead)
    run(a, ahead, 600)
    seen = last_seq(a)
    a.shutdown()
    right = Clocks(D + 12 * HOUR + 11 * 60)  # restarted with the clock right: 11-23 12:11
    b = box(tmp_path, right)
    run(b, right, 600)
    summaries = of(b, "summary", seen)
    assert keys(summaries) == [("15min", "2026-11-23", "12:00")]  # at 12:15, not a day later
    assert summaries[0]["screened"] == 10 + 4  # the run under the wrong clock, then this one
    b.shutdown()
