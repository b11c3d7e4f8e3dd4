"""The vision analysers with zones: staff versus patients, occupancy per zone, crowding per zone, on
an injected clock (the attended desk: tests/test_vision_analysers_desk.py).

Findings are built directly (boxes in a 640x480 frame) so every second of the clock is under the
test's control; the same analysers on real pixels end to end are in tests/test_vision_scenarios.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from agent.config import parse_config
from agent.flow.events import AlertEvent, Event, MaskEvent, OccupancyEvent
from agent.vision.analysers.compliance import ComplianceAnalyser
from agent.vision.analysers.desk import DeskAnalyser
from agent.vision.analysers.occupancy import OccupancyAnalyser
from agent.vision.config import VisionConfig
from agent.vision.findings import Box, FaceFinding, SceneFindings
from agent.zones.map import ZoneMap

W, H = 640, 480
FPS = 5
# Monday 2026-11-23 09:00 in Asia/Shanghai (UTC+8) = 01:00 UTC
MONDAY_9 = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC).timestamp()
ZONES = parse_config(
    {
        "zones": [
            {"name": "desk", "role": "staff", "polygon": [[0.5, 0], [1, 0], [1, 0.6], [0.5, 0.6]]},
            {
                "name": "queue",
                "role": "queue",
                "polygon": [[0, 0.6], [1, 0.6], [1, 1], [0, 1]],
                "crowd_limit": 2,
                "crowd_after_s": 5,
            },
            {
                "name": "hall",
                "role": "waiting",
                "polygon": [[0, 0], [0.5, 0], [0.5, 0.6], [0, 0.6]],
            },
        ]
    }
).zones


def staff_person(
    x: float = 400, prob: float | None = 0.05, worn_wrong: float = 0.0
) -> tuple[Box, FaceFinding | None]:
    """A person standing behind the desk (feet at y=250 of 480: in 'desk')."""
    body = Box(x, 40, x + 80, 250, 0.8)
    face = Box(x + 20, 45, x + 60, 85, 0.9)
    head = FaceFinding(face, prob, worn_wrong) if prob is not None else None
    return body, head


def queue_person(x: float, prob: float | None = 0.05) -> tuple[Box, FaceFinding | None]:
    """A patient in the queue (feet at y=460: in 'queue')."""
    body = Box(x, 200, x + 70, 460, 0.8)
    head = FaceFinding(Box(x + 15, 205, x + 55, 245, 0.9), prob) if prob is not None else None
    return body, head


def findings(at: float, people: Sequence[tuple[Box, FaceFinding | None]]) -> SceneFindings:
    faces = tuple(f for _, f in people if f is not None)
    return SceneFindings(at, faces, tuple(b for b, _ in people), 5.0, W, H)


def run(
    analyser: ComplianceAnalyser | OccupancyAnalyser | DeskAnalyser,
    start: float,
    seconds: float,
    people: Sequence[tuple[Box, FaceFinding | None]],
) -> list[Event]:
    """``seconds`` of frames at FPS with a tick every second (like the main loop)."""
    events: list[Event] = []
    for i in range(round(seconds * FPS)):
        at = start + i / FPS
        events += analyser.feed(findings(at, people))
        if i % FPS == FPS - 1:
            events += analyser.tick(at)
    return events


def ticks(analyser: DeskAnalyser, start: float, seconds: int) -> list[Event]:
    """An empty, static scene: the worker emits nothing, only the main loop ticks."""
    events: list[Event] = []
    for s in range(seconds):
        events += analyser.tick(start + s)
    return events


def alerts(events: Sequence[Event], name: str) -> list[AlertEvent]:
    return [e for e in events if isinstance(e, AlertEvent) and e.alert == name]


def vision(**kw: float) -> VisionConfig:
    return VisionConfig.model_validate(
        {"compliance_window_s": 60, "unmasked_alert_after_s": 5, "staff_unmasked_after_s": 8, **kw}
    )


# --- staff versus patients ----------------------------------------------------------------------


def test_unmasked_staff_raise_staff_unmasked_and_never_the_patient_alert() -> None:
    a = ComplianceAnalyser(vision(), ZoneMap(ZONES))
    events = run(a, MONDAY_9, 20, [staff_person(prob=0.05)])
    assert alerts(events, "unmasked") == []
    staff = alerts(events, "staff_unmasked")
    assert [e.state for e in staff] == ["raised"]
    assert staff[0].value is not None
    assert staff[0].value >= 8
    assert [e for e in events if isinstance(e, MaskEvent)] == []  # no patient in view
    events = run(a, MONDAY_9 + 20, 10, [staff_person(prob=0.97)])  # puts a mask on
    cleared = alerts(events, "staff_unmasked")
    assert [e.state for e in cleared] == ["cleared"]
    assert cleared[0].alert_id == staff[0].alert_id
    assert cleared[0].zone == "desk"
    events = run(a, MONDAY_9 + 30, 50, [staff_person(prob=0.97)])
    periodic = [e for e in events if isinstance(e, MaskEvent) and e.window_s]
    assert len(periodic) == 1
    p = periodic[0]
    assert (p.faces, p.staff_faces, p.staff_masked, p.staff_unmasked) == (0, 1, 0, 1)


def test_staff_wearing_a_mask_wrong_raise_staff_unmasked_with_that_cause() -> None:
    a = ComplianceAnalyser(vision(), ZoneMap(ZONES))
    events = run(a, MONDAY_9, 61, [staff_person(prob=0.1, worn_wrong=0.8)])
    staff = alerts(events, "staff_unmasked")
    assert [(e.state, e.cause, e.zone) for e in staff] == [("raised", "worn_wrong", "desk")]
    assert "mask worn wrong" in staff[0].message
    periodic = [e for e in events if isinstance(e, MaskEvent) and e.window_s]
    assert [
        (p.faces, p.staff_faces, p.staff_masked, p.staff_unmasked, p.staff_worn_wrong)
        for p in periodic
    ] == [(0, 1, 0, 1, 1)]


def test_the_same_person_outside_the_staff_zone_is_a_patient() -> None:
    a = ComplianceAnalyser(vision(), ZoneMap(ZONES))
    events = run(a, MONDAY_9, 20, [queue_person(100, prob=0.05)])
    assert [e.state for e in alerts(events, "unmasked")] == ["raised"]
    assert alerts(events, "staff_unmasked") == []
    states = [e.state for e in events if isinstance(e, MaskEvent)]
    assert states == ["unmasked"]


def test_without_zones_everyone_is_a_patient_and_staff_fields_are_absent() -> None:
    a = ComplianceAnalyser(vision())
    events = run(a, MONDAY_9, 70, [staff_person(prob=0.05)])
    assert [e.state for e in alerts(events, "unmasked")] == ["raised"]
    assert alerts(events, "staff_unmasked") == []
    periodic = [e for e in events if isinstance(e, MaskEvent) and e.window_s]
    assert periodic[0].staff_faces is None
    assert periodic[0].unmasked == 1


def test_a_person_facing_away_counts_but_has_no_mask_state() -> None:
    a = ComplianceAnalyser(vision(), ZoneMap(ZONES))
    o = OccupancyAnalyser(vision(), ZoneMap(ZONES))
    crowd = [queue_person(100, prob=None)]
    events = run(a, MONDAY_9, 20, crowd) + run(o, MONDAY_9, 20, crowd)
    assert [e for e in events if isinstance(e, MaskEvent | AlertEvent)] == []
    counts = [e for e in events if isinstance(e, OccupancyEvent)]
    assert counts[-1].count == 1
    assert counts[-1].zones == {"desk": 0, "queue": 1, "hall": 0}


# --- occupancy and crowding per zone ------------------------------------------------------------


def test_crowding_in_the_queue_names_the_zone_and_only_that_zone() -> None:
    o = OccupancyAnalyser(vision(crowd_limit=10, crowd_after_s=30), ZoneMap(ZONES))
    crowd = [queue_person(x) for x in (0, 100, 200, 300)] + [staff_person()]
    events = run(o, MONDAY_9, 12, crowd)
    crowding = alerts(events, "crowding")
    assert [(e.state, e.zone, e.value) for e in crowding] == [("raised", "queue", 4.0)]
    assert "zone 'queue'" in crowding[0].message
    changes = [e for e in events if isinstance(e, OccupancyEvent) and e.window_s is None]
    assert changes[-1].count == 5
    assert changes[-1].zones == {"desk": 1, "queue": 4, "hall": 0}
    events = run(o, MONDAY_9 + 12, 12, [queue_person(0), staff_person()])
    cleared = alerts(events, "crowding")
    assert [(e.state, e.zone) for e in cleared] == [("cleared", "queue")]
    assert cleared[0].alert_id == crowding[0].alert_id


def test_zone_maxima_in_the_periodic_event_and_no_zone_fields_without_zones() -> None:
    o = OccupancyAnalyser(vision(), ZoneMap(ZONES))
    events = run(o, MONDAY_9, 10, [queue_person(0), queue_person(100)])
    events += run(o, MONDAY_9 + 10, 55, [queue_person(0)])
    periodic = [e for e in events if isinstance(e, OccupancyEvent) and e.window_s]
    assert periodic[0].zones == {"desk": 0, "queue": 2, "hall": 0}
    assert periodic[0].max == 2
    plain = OccupancyAnalyser(vision(crowd_limit=1, crowd_after_s=3))
    events = run(plain, MONDAY_9, 70, [queue_person(0), queue_person(100)])
    assert all(e.zones is None for e in events if isinstance(e, OccupancyEvent))
    whole = alerts(events, "crowding")
    assert [(e.state, e.zone) for e in whole] == [("raised", None)]
    assert "in view" in whole[0].message
