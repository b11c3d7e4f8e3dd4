"""A supervisor's day, end to end at high speed: a scripted clinic day fed to the real analysers,
the real service pipeline (summary tally, alert book), outbox, publisher and a real mosquitto, with
a restart at 11:00; a subscriber rebuilds the day's table from what it received, as docs/EVENTS.md
tells a district office to, and it must match the script.

The clock is the script's: observations carry scripted times and the pipeline's ticks are driven
with them (one a second while the clinic is open), so a day runs in well under a minute. The vision
analysers get typed findings (person and face boxes, integrity verdicts) instead of pixels, and the
screening analyser thermometer readings; pixel-level scenarios are tested elsewhere.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.config import AgentConfig, parse_config
from agent.flow.alerts import AlertBook
from agent.flow.ports import Analyser
from agent.service.alert_store import AlertFile
from agent.service.pipeline import Pipeline
from agent.thermometer.reading import ThermoReading
from agent.thermometer.screening import ScreeningAnalyser
from agent.vision import people_analysers
from agent.vision.analysers.integrity_alerts import IntegrityAnalyser
from agent.vision.findings import (
    CHECKS,
    Box,
    FaceFinding,
    IntegrityFindings,
    IntegrityVerdict,
    SceneFindings,
)
from agent.wire.contract import Identity
from agent.wire.outbox import Outbox
from agent.wire.publisher import Publisher
from agent.zones.hours import OpeningHours
from tests.broker import Broker, Collector
from tests.conftest import base_config, validate_message

pytestmark = [pytest.mark.broker]

TZ = "Africa/Nairobi"  # UTC+3 all year
DAY = (2026, 11, 24)  # a Tuesday
W, H = 640, 480


def at(hh: int, mm: int, ss: int = 0) -> float:
    return datetime(*DAY, hh, mm, ss, tzinfo=ZoneInfo(TZ)).timestamp()


def hm(t: float) -> str:
    return datetime.fromtimestamp(t, ZoneInfo(TZ)).strftime("%H:%M:%S")


# -- the script --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Visit:
    """Someone in view from ``start`` to ``end`` at slot ``x`` (pixels), masked or not meanwhile."""

    who: str
    start: float
    end: float
    x: int
    masked: bool = True
    unmasked_from: float | None = None
    unmasked_to: float | None = None

    def mask_prob(self, t: float) -> float:
        lo, hi = self.unmasked_from, self.unmasked_to
        if lo is not None and hi is not None and lo <= t < hi:
            return 0.05
        return 0.95 if self.masked else 0.05


STAFF_X, SCREEN_X = 40, 230
QUEUE_X = [340, 400, 460, 520, 580]

VISITS = [
    # the nurse: at the desk from opening, away 09:30-09:45 (desk empty), unmasked 10:00-10:05
    Visit("nurse", at(8, 0), at(9, 30), STAFF_X),
    Visit("nurse", at(9, 45), at(13, 0), STAFF_X, unmasked_from=at(10, 0), unmasked_to=at(10, 5)),
    # first patient, screened normal
    Visit("p1", at(8, 10), at(8, 14), SCREEN_X),
    # a queue: five patients waiting 08:30-08:40 (limit 3 in the queue zone)
    *[Visit(f"q{i}", at(8, 30), at(8, 40), x) for i, x in enumerate(QUEUE_X)],
    # a fever
    Visit("p2", at(9, 0), at(9, 3), SCREEN_X),
    # a patient without a mask for a minute
    Visit("p3", at(9, 10), at(9, 12), SCREEN_X, masked=False),
    # an invalid reading (walks off before a plateau)
    Visit("p4", at(9, 20), at(9, 22), SCREEN_X),
    # after the restart
    Visit("p5", at(12, 0), at(12, 3), SCREEN_X),
]
SCREENINGS = {  # who -> (start, estimate °C or None for a reading that never settles)
    "p1": (at(8, 11), 36.6),
    "p2": (at(9, 1), 38.6),
    "p3": (at(9, 10, 30), 36.8),
    "p4": (at(9, 20, 30), None),
    "p5": (at(12, 1), 36.9),
}
COVERED = (at(10, 40), at(11, 10))  # a cloth over the camera, across the restart
STOP, BACK = at(11, 0), at(11, 2)  # the box restarts: two minutes without the agent
START, CLOSE_SIM = at(7, 55), at(13, 30)
MIDNIGHT = at(23, 59, 59) + 1

# The problems the script implies, with the configured delays (CONFIG below) and the analysers'
# own debouncing (frames come once a second here):
# - crowding: five in the queue zone (limit 3) from 08:30:00; the zone count settles after its 2 s
#   hold (published 08:30:03), then crowd_after_s (60 s): raised 08:31:03. The queue leaves at
#   08:40:00: a person stays counted 1 s after the last sight, the count settles 2 s later, and
#   the alert clears after its 5 s hysteresis: 08:40:08;
# - fever: raised with the fever result (plateau after 1 s of stable readings), cleared when the
#   person leaves the sensor (three readings at ambient);
# - unmasked: p3 unmasked from 09:10:00, raised after unmasked_alert_after_s (10 s) once the mask
#   state settled (2 s): 09:10:12; cleared 09:12:04 when p3 is gone (1 s + the 3 s hysteresis);
# - desk_unattended: the nurse last seen 09:29:59, the desk counts as empty 3 s later, raised after
#   desk_unattended_after_s (120 s): 09:32:03; she is back 09:45:00, cleared after 3 s. While the
#   camera is covered the desk is unknown, not unattended: no desk alert, only camera_covered;
# - staff_unmasked: 10:00:00-10:05:00, raised after 10 s + 2 s settling, cleared 10:05:05;
# - camera_covered: covered verdicts from 10:40:00 (checked every 2 s), raised after
#   covered_after_s (30 s): 10:40:30; the restart keeps it open under the same alert_id; uncovered
#   11:10:00, cleared after clear_after_s (10 s): 11:10:10.
PROBLEMS = {
    "crowding": [("08:31:03", "08:40:08")],
    "fever": [("09:01:01", "09:01:04")],
    "unmasked": [("09:10:12", "09:12:04")],
    "desk_unattended": [("09:32:03", "09:45:03")],
    "staff_unmasked": [("10:00:12", "10:05:05")],
    "camera_covered": [("10:40:30", "11:10:10")],
}


def minutes(*spans: tuple[str, str]) -> float:
    """Minutes the box was running inside ``spans`` (the restart 11:00-11:02 is not counted)."""
    total = 0.0
    for a, b in spans:
        lo, hi = at(*map(int, a.split(":"))), at(*map(int, b.split(":")))
        total += hi - lo - max(0.0, min(hi, BACK) - max(lo, STOP))
    return round(total / 60, 1)


# The day's table: p1, p2, p3 and p5 screened valid, p2 a fever, p4 invalid; arrivals are people
# entering the view: the nurse three times (at opening, back from her break, and seen again after
# the covered camera hid her), p1-p5 and the five in the queue.
EXPECTED = {
    "screened": 4,
    "fevers": 1,
    "invalid": 1,
    "arrivals": 3 + 5 + 5,
    "patients_unmasked": 1,
    "staff_unmasked": 1,
    "crowding_alerts": 1,
    "desk_min": minutes(*PROBLEMS["desk_unattended"]),  # 13.0
    "crowding_min": minutes(*PROBLEMS["crowding"]),  # 9.1
    "setup_min": minutes(*PROBLEMS["camera_covered"]),  # 30.7 - 2.0 = 27.7
    "offline_min": 2.0,
}

CONFIG: dict[str, dict[str, Any]] = {
    "device": {"site": "clinic-7", "desk": "desk-1", "timezone": TZ},
    "reporting": {"health_interval_s": 600, "summary_interval_s": 900},
    "clinic": {
        "tue": ["08:00-13:00"],
        "desk_unattended_after_s": 120,
        "desk_unattended_patients_after_s": 120,
    },
    "vision": {
        "crowd_limit": 10,
        "crowd_after_s": 60,
        "unmasked_alert_after_s": 10,
        "staff_unmasked_after_s": 10,
        "compliance_window_s": 60,
        "integrity": {"covered_after_s": 30, "clear_after_s": 10},
    },
}
ZONES = [
    {"name": "desk", "role": "staff", "polygon": [[0, 0], [0.3, 0], [0.3, 1], [0, 1]]},
    {
        "name": "queue",
        "role": "queue",
        "polygon": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]],
        "crowd_limit": 3,
    },
]


# -- turning the script into observations ---------------------------------------------------------
def findings(t: float) -> SceneFindings:
    covered = COVERED[0] <= t < COVERED[1]
    persons: list[Box] = []
    faces: list[FaceFinding] = []
    if not covered:
        for v in VISITS:
            if v.start <= t < v.end:
                persons.append(Box(v.x, 150, v.x + 50, 440, 0.9))
                face = Box(v.x + 10, 160, v.x + 40, 200, 0.9)
                faces.append(FaceFinding(face, v.mask_prob(t)))
    return SceneFindings(t, tuple(faces), tuple(persons), 20.0, W, H)


def integrity(t: float) -> IntegrityFindings:
    covered = COVERED[0] <= t < COVERED[1]
    verdicts = tuple(
        IntegrityVerdict(
            c,
            "failed" if covered and c == "covered" else "ok",
            0.95 if covered and c == "covered" else 0.1,
            0.7,
            "reference",
        )
        for c in CHECKS
    )
    return IntegrityFindings(t, verdicts, True, 3.0)


def readings(t: float) -> Iterator[ThermoReading]:
    """Four readings a second: a person in front of the sensor per SCREENINGS."""
    for start, estimate in SCREENINGS.values():
        if not start <= t < start + 4:
            continue
        for k in range(4):
            s = t + k / 4
            # None: a forehead that never settles (no plateau: an invalid result)
            value = 33.0 + 2.0 * ((s - start) % 1.0) if estimate is None else estimate
            yield ThermoReading(s, value, 24.0)
    for start, _ in SCREENINGS.values():
        if start + 4 <= t < start + 5:  # gone: ambient
            yield from (ThermoReading(t + k / 4, 24.5, 24.0) for k in range(4))


# -- the box ---------------------------------------------------------------------------------------
class ScriptClock:
    """The pipeline's clock: the script's time."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def box(cfg: AgentConfig, clock: ScriptClock) -> Pipeline:
    """The agent as build_pipeline wires it, minus the device sources (the script is the source)."""
    book = AlertBook(
        AlertFile.in_state_dir(cfg.runtime.state_dir),
        clock.now,
        cfg.reporting.restored_alert_grace_s,
    )
    hours = OpeningHours(cfg.clinic, cfg.device.timezone)
    analysers: list[Analyser] = [
        ScreeningAnalyser(cfg.screening, book=book),
        *people_analysers(cfg.vision, cfg.zones, cfg.clinic, cfg.device.timezone, book),
        IntegrityAnalyser(
            cfg.vision.integrity, commissioned=True, is_open=hours.is_open, book=book
        ),
    ]
    outbox = Outbox(cfg.outbox.path)
    publisher = Publisher(
        cfg.mqtt, Identity.of(cfg.device, cfg.mqtt), outbox, cfg.reporting.health_interval_s
    )
    p = Pipeline(cfg, [], [*analysers, book], outbox, publisher, clock=clock)
    p.start()
    return p


def run_span(p: Pipeline, clock: ScriptClock, start: float, end: float) -> None:
    t = start
    while t < end:
        clock.now = t
        open_hours = at(7, 59) <= t <= at(13, 5)
        if open_hours:
            for r in readings(t):
                p.engine.feed(r)
            p.engine.feed(findings(t))
            if int(t) % 2 == 0:
                p.engine.feed(integrity(t))
        p.tick(t)
        t += 1.0 if open_hours else 60.0
    clock.now = end


# -- the subscriber --------------------------------------------------------------------------------
def day_table(messages: list[dict[str, Any]], date: str) -> dict[str, Any]:
    """The table a district office builds (docs/EVENTS.md, rules for subscribers)."""
    unique = {m["id"]: m for m in messages}.values()
    days = [
        m
        for m in unique
        if m["kind"] == "summary" and m.get("period") == "day" and m["date"] == date
    ]
    assert len(days) == 1, days
    day = days[0]
    return {
        "screened": day["screened"],
        "fevers": day["fevers"],
        "invalid": day["invalid"],
        "arrivals": day["people"],
        "patients_unmasked": day["alerts"].get("unmasked", 0),
        "staff_unmasked": day["alerts"].get("staff_unmasked", 0),
        "crowding_alerts": day["alerts"].get("crowding", 0),
        "desk_min": day["minutes"]["desk"],
        "crowding_min": day["minutes"]["crowding"],
        "setup_min": day["minutes"]["setup"],
        "offline_min": day["minutes"]["offline"],
    }


def local(ts: str) -> str:
    utc = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return utc.astimezone(ZoneInfo(TZ)).strftime("%H:%M:%S")


def problems(messages: list[dict[str, Any]]) -> dict[str, list[tuple[str, str | None]]]:
    """Raises tied to clears by alert_id: alert -> [(raised HH:MM:SS, cleared HH:MM:SS)]."""
    by_id: dict[str, dict[str, Any]] = defaultdict(dict)
    for m in sorted({m["id"]: m for m in messages}.values(), key=lambda m: m["seq"]):
        if m["kind"] == "alert":
            assert m["state"] not in by_id[m["alert_id"]], f"second {m['state']} of {m}"
            by_id[m["alert_id"]][m["state"]] = m
    out: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for a in by_id.values():
        r, c = a.get("raised"), a.get("cleared")
        assert r is not None, f"a clear without a raise: {c}"
        out[r["alert"]].append((local(r["ts"]), local(c["ts"]) if c else None))
    return dict(out)


def test_a_supervisors_day(tmp_path: Path, mosquitto: Broker) -> None:
    raw = base_config(tmp_path, mosquitto.port, **CONFIG)
    raw["zones"] = ZONES
    cfg = parse_config(raw, environ={})
    sub = Collector(mosquitto.port, "triage/v1/clinic-7/desk-1/#")
    try:
        clock = ScriptClock(START)
        first = box(cfg, clock)
        run_span(first, clock, START, STOP)
        first.shutdown()  # 11:00: the box restarts
        clock.now = BACK
        second = box(cfg, clock)
        run_span(second, clock, BACK, CLOSE_SIM)
        run_span(second, clock, CLOSE_SIM, MIDNIGHT + 2)
        sub.wait_for(lambda ms: any(b'"period":"day"' in m.payload for m in ms), timeout=30)
        second.shutdown()
        messages = [validate_message(m) for m in sub.messages if not m.topic.endswith("/status")]
    finally:
        sub.close()
    table = day_table(messages, "2026-11-24")
    alerts = problems(messages)
    assert table == EXPECTED
    # every problem is one raise and one clear tied by alert_id, at the scripted times; the alerts
    # open at the restart kept their id (no second raise, no clear at the stop)
    assert alerts == PROBLEMS
    # the 15-min summaries add up to the day
    quarters = [
        m
        for m in {m["id"]: m for m in messages}.values()
        if m["kind"] == "summary" and m.get("period") == "15min"
    ]
    for key in ("screened", "fevers", "invalid", "people"):
        assert sum(q[key] for q in quarters) == EXPECTED[{"people": "arrivals"}.get(key, key)], key
    assert sorted(q["start"] for q in quarters)[0] == "07:45"  # the box started at 07:55
