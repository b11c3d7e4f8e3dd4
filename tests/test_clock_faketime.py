"""The real ``triage-agent run`` under libfaketime (Debian's ``faketime``): a box without a clock
battery whose wall clock starts three days behind, is put right (what NTP does), then stepped back
an hour and forward a day while it runs (issue 19, item 2).

libfaketime is preloaded into the agent only, reading its offset from a file the test rewrites
(``FAKETIME_TIMESTAMP_FILE``, re-read on every call: ``FAKETIME_NO_CACHE``), with the monotonic
clock left alone (``FAKETIME_DONT_FAKE_MONOTONIC``), as the kernel leaves it when a clock is
stepped. A private mosquitto and a QoS 1 subscriber see what the agent publishes; the simulated
thermometer gives a result every few seconds; health every second, summaries every 4 s.

Shown: health keeps coming every second with an uptime that only grows by the seconds that pass,
each labelled with the clock of the moment; summaries keep closing after every step, each period
once, none before its end or long after it, dated by the clock that closed it, and every result
counted exactly once; ``status`` gives the true uptime and the three steps.

Needs ``faketime`` (``make test`` installs it: ``APT_PACKAGES`` in the Makefile): missing, the test
fails. Debian 12's libfaketime 0.9.10 breaks ``time.sleep`` with the monotonic clock excluded
(wolfcw/libfaketime#426: ``clock_nanosleep`` with ``TIMER_ABSTIME`` gets a negative time); the
agent waits on events, conditions and ``select``, which are unaffected.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from agent.cli.status import fetch_status
from tests.broker import Broker, Collector, Received
from tests.conftest import AgentProcess, base_config, validate_message, write_config
from tests.reliability import wait_status

DAY = 86400
HOUR = 3600
STREAM = {"enabled": True, "port": "simulated", "simulated_scenario": "queue"}
PHASE_S = 10.0
"""Seconds under each clock (days behind, right, an hour back, a day ahead)."""
SUMMARY_S = 4


def libfaketime() -> str:
    """The preloadable library of Debian's ``libfaketime`` (a dependency of ``faketime``)."""
    candidates = [
        *sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1")),
        "/usr/lib/faketime/libfaketime.so.1",
    ]
    found = next((c for c in candidates if Path(c).is_file()), None)
    why = (
        "faketime (libfaketime) is missing: `make test` installs it (APT_PACKAGES in the Makefile)"
    )
    assert shutil.which("faketime"), why
    assert found, why
    return found


class TimedCollector(Collector):
    """A :class:`Collector` that also notes when (the test's real clock) each message came."""

    def __init__(self, port: int) -> None:
        self.arrived: list[tuple[float, Received]] = []
        super().__init__(port)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.arrived.append(
            (time.time(), Received(msg.topic, bytes(msg.payload), bool(msg.retain)))
        )
        super()._on_message(client, userdata, msg)


class FakeClock:
    """The agent's wall clock: the real one plus an offset the test steps; their history."""

    def __init__(self, path: Path, offset: int) -> None:
        self.path = path
        self.changes: list[tuple[float, float, int]] = []
        """``(before, after, offset)``: the real clock just before and just after each step."""
        self.step_to(offset)

    def step_to(self, offset: int) -> None:
        """Step the clock: the new offset replaces the file in one rename, so libfaketime (which
        re-reads it on every call) never reads it half written. The agent may read the new offset
        from the moment before the rename, and the old one until the moment after it."""
        fresh = self.path.with_name(self.path.name + ".new")
        fresh.write_text(f"{offset:+d}\n")
        before = time.time()
        os.replace(fresh, self.path)
        self.changes.append((before, time.time(), offset))

    def offsets(self, real: float, slack_s: float = 1.0) -> set[int]:
        """The offsets in force at some moment of ``[real - slack_s, real]``."""
        ends = [after for _, after, _ in self.changes[1:]] + [float("inf")]
        return {
            off
            for (before, _, off), end in zip(self.changes, ends, strict=True)
            if before <= real and end >= real - slack_s
        }


def epoch(ts: str) -> float:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


Made = tuple[float, float]
"""When an event was made, on the test's real clock: ``(earliest, latest)``."""


def made_times(docs: list[tuple[float, dict[str, Any]]]) -> dict[int, Made]:
    """When each event was made, by sequence number, from the health events' uptime (the agent's
    monotonic clock), not from when it arrived: a loaded machine once delivered a health event
    4 s late, and a label is judged by the clock in force when it was made.

    A health event with uptime ``u`` (whole seconds) was made in ``[start + u, start + u + 1)``,
    with ``start`` the agent's start on the real clock, at most the smallest ``arrived - u``. The
    outbox numbers events as it stores them, so any other event was made between the health
    events numbered just before and just after it (the second of slack: an event is labelled a
    moment before it is stored).
    """
    health = sorted((d["seq"], d["uptime_s"], at) for at, d in docs if d["kind"] == "health")
    start = min(at - up for _, up, at in health)
    beats = [(seq, start + up - 1.0, min(at, start + up + 1.0)) for seq, up, at in health]
    made: dict[int, Made] = {}
    for at, d in docs:
        before = [lo for seq, lo, _ in beats if seq <= d["seq"]]
        after = [hi for seq, _, hi in beats if seq >= d["seq"]]
        made[d["seq"]] = (
            (before[-1] if before else start) - 1.0,
            min(after[0], at) if after else at,
        )
    return made


def labelled_then(clock: FakeClock, made: Made, label: float, slack_s: float = 0.0) -> bool:
    """``label`` is the wall clock in force at some moment of ``made`` (``slack_s`` earlier
    allowed: a summary is labelled with the end of its period, closed a moment after it); a
    label from a wrong clock is an hour or days off."""
    lo, hi = made[0] - slack_s, made[1]
    return any(lo <= label - off <= hi + 0.5 for off in clock.offsets(hi, hi - lo))


@pytest.mark.slow
@pytest.mark.broker
def test_agent_under_libfaketime_days_behind_then_stepped(
    tmp_path: Path,
    mosquitto: Broker,
    agent_process: Callable[..., AgentProcess],
) -> None:
    lib = libfaketime()
    cfg = base_config(
        tmp_path,
        mosquitto.port,
        device={"timezone": "UTC"},
        thermometer=STREAM,
        reporting={"health_interval_s": 1, "summary_interval_s": SUMMARY_S},
    )
    config = write_config(tmp_path / "agent.toml", cfg)
    socket = Path(cfg["runtime"]["status_socket"])
    sub = TimedCollector(mosquitto.port)
    clock = FakeClock(tmp_path / "faketime.rc", -3 * DAY)  # boot: three days behind
    env = {
        "LD_PRELOAD": lib,
        "FAKETIME_TIMESTAMP_FILE": str(clock.path),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    started = time.time()
    agent = agent_process(config, env)
    wait_status(socket, lambda s: s["broker"]["connected"], timeout=20)
    stop = threading.Event()
    stop.wait(PHASE_S)
    steps_at: list[float] = []
    for offset in (0, -HOUR, DAY):  # NTP puts it right; then an hour back; then a day ahead
        clock.step_to(offset)
        steps_at.append(time.time())
        stop.wait(PHASE_S)
    status = fetch_status(socket)
    elapsed = time.time() - started
    assert agent.stop() == 0
    sub.settle(quiet_s=1.0, timeout=10)
    log = agent.output()
    assert "Traceback" not in log, log[-3000:]

    live = [(at, m) for at, m in sub.arrived if not m.retain and "desk-1" in m.topic]
    docs = [(at, validate_message(m)) for at, m in live]
    ids = [d["id"] for _, d in docs if "id" in d]
    assert len(ids) == len(set(ids)), "an event published twice"
    seqs = [d["seq"] for _, d in docs]
    assert len(seqs) == len(set(seqs)), "a sequence number used twice"

    # -- health: every second, uptime on the monotonic clock, labelled by the clock of the moment
    health = sorted(((at, d) for at, d in docs if d["kind"] == "health"), key=lambda x: x[1]["seq"])
    uptimes = [d["uptime_s"] for _, d in health]
    assert uptimes == sorted(uptimes), "uptime went back"
    assert max(b - a for a, b in itertools.pairwise(uptimes)) <= 3
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(health)]
    assert max(gaps) < 3.5, f"health stalled for {max(gaps):.1f} s"  # a stall: the step, 1 h
    assert len(health) >= 0.8 * (elapsed - 3)
    made = made_times(docs)
    delays = [at - d["uptime_s"] for at, d in health]  # delivery delay, up to 1 s of rounding
    late = max(delays) - min(delays)
    misdated = [
        d["ts"] for _, d in health if not labelled_then(clock, made[d["seq"]], epoch(d["ts"]))
    ]
    assert misdated == [], f"labelled by another clock than the one of their moment: {misdated}"
    assert all(d.get("outbox_oldest_s", 0) <= 5 for _, d in health)
    assert health[-1][1]["sources"]["thermometer"]["state"] == "ok"
    assert elapsed - 4 <= uptimes[-1] <= elapsed

    # -- summaries: each period once, closed at its end by the clock in force, all counted once
    summaries = [(at, d) for at, d in docs if d["kind"] == "summary"]
    slots = [(at, d) for at, d in summaries if d["period"] != "day"]
    keys = [(d["period"], d["ts"]) for _, d in summaries]
    assert len(keys) == len(set(keys)), "a period summarised twice"
    early = [
        d["ts"]
        for _, d in summaries
        if not labelled_then(clock, made[d["seq"]], epoch(d["ts"]), 2.0)
    ]
    assert early == [], "a summary before its period's end, or long after it"
    for _, d in slots:
        start = datetime.fromtimestamp(epoch(d["ts"]) - d["window_s"], UTC)
        assert d["date"] == start.strftime("%Y-%m-%d")  # dated by the clock that closed it
        assert start.strftime("%H:%M:%S").startswith(d["start"])
    for begin, end in zip(
        [started, *steps_at], [*steps_at, started + elapsed], strict=True
    ):  # summaries keep coming under every clock
        assert any(begin + 1.5 <= at <= end for at, _ in slots), (begin - started, end - started)
    last = max(d["seq"] for _, d in slots)
    temps = [d for _, d in docs if d["kind"] == "temperature" and d["seq"] < last]
    assert [
        d["ts"]
        for _, d in docs
        if d["kind"] == "temperature"
        and not labelled_then(clock, made[d["seq"]], epoch(d["ts"]), 1.0)
    ] == []  # results labelled by the clock of their moment (a result is stamped at its plateau)
    assert sum(d["screened"] + d["invalid"] for _, d in slots) == len(temps) > 0

    # -- status: the true uptime and the three steps; the journal says each step once
    assert elapsed - 4 <= status["uptime_s"] <= elapsed
    assert status["clock"]["steps"] == 3
    assert abs(status["clock"]["last_step_s"] - (DAY + HOUR)) <= 2  # from -1 h to +1 d
    assert log.count("system clock stepped by") == 3
    print(
        f"FIGURES faketime: {elapsed:.0f} s (3 days behind, then +3 d, -1 h, +1 d every "
        f"{PHASE_S:.0f} s): health {len(health)}, longest gap {max(gaps):.2f} s, last uptime "
        f"{uptimes[-1]} s, health delivered up to {late:.2f} s later than the promptest; status uptime {status['uptime_s']:.1f} s; summaries {len(slots)} "
        f"(+{len(summaries) - len(slots)} day), {len(temps)} results counted once; "
        f"steps {status['clock']['steps']}, last {status['clock']['last_step_s']} s"
    )
