"""The attended desk (agent/vision/analysers/desk.py, ``desk_unattended``) on an injected clock and
opening hours: raised when the staff zone stays empty while open (sooner with patients waiting),
cleared when staff return or the clinic closes, unknown while the camera is blind.

Findings are built directly, as in tests/test_vision_zones.py (whose scene helpers these tests use).
"""

from __future__ import annotations

from agent.flow.events import Event
from agent.vision import people_analysers
from agent.vision.analysers.desk import DeskAnalyser
from agent.vision.findings import IntegrityFindings, IntegrityVerdict
from agent.zones.config import ClinicConfig
from agent.zones.hours import OpeningHours
from agent.zones.map import ZoneMap
from tests.test_vision_zones import (
    MONDAY_9,
    ZONES,
    alerts,
    queue_person,
    run,
    staff_person,
    ticks,
    vision,
)


def desk(after: float = 60, patients_after: float = 20) -> DeskAnalyser:
    clinic = ClinicConfig(
        mon=["08:00-12:00"],
        desk_unattended_after_s=after,
        desk_unattended_patients_after_s=patients_after,
    )
    return DeskAnalyser(ZoneMap(ZONES), clinic, OpeningHours(clinic, "Asia/Shanghai"))


def test_empty_desk_while_open_raises_then_staff_return_clears() -> None:
    d = desk()
    events = run(d, MONDAY_9, 10, [staff_person()])
    events += ticks(d, MONDAY_9 + 10, 50)  # empty for 47 s (staff "seen" until +13 s)
    assert alerts(events, "desk_unattended") == []
    events = ticks(d, MONDAY_9 + 60, 30)
    raised = alerts(events, "desk_unattended")
    assert [(e.state, e.value) for e in raised] == [("raised", 0.0)]
    assert raised[0].at - MONDAY_9 == 73  # empty from +13 s, after 60 s
    events = run(d, MONDAY_9 + 90, 10, [staff_person()])
    cleared = alerts(events, "desk_unattended")
    assert [e.state for e in cleared] == ["cleared"]
    assert cleared[0].alert_id == raised[0].alert_id
    assert "staff back" in cleared[0].message


def camera(at: float, covered: bool) -> IntegrityFindings:
    """An integrity check of one frame: the lens covered or a normal view."""
    return IntegrityFindings(
        at,
        (
            IntegrityVerdict("covered", "failed" if covered else "ok", 0.99, 0.9, "absolute"),
            IntegrityVerdict("dark", "unknown", 20.0, 30.0, "absolute", "covered"),
        ),
        commissioned=False,
        check_ms=1.0,
    )


def covered_for(d: DeskAnalyser, start: float, seconds: int) -> list[Event]:
    """A covered camera: the worker finds nobody, the integrity check fails every 2 s."""
    events: list[Event] = []
    for s in range(seconds):
        if s % 2 == 0:
            events += d.feed(camera(start + s, covered=True))
        events += d.tick(start + s)
    return events


def test_a_blind_camera_makes_the_desk_unknown_not_unattended() -> None:
    d = desk()
    events = run(d, MONDAY_9, 10, [staff_person()])
    events += covered_for(d, MONDAY_9 + 10, 300)  # five minutes behind a cloth
    assert d.blind
    assert alerts(events, "desk_unattended") == []
    # the cloth is gone and the desk really is empty: the delay starts when the view is back
    back = MONDAY_9 + 310
    events = list(d.feed(camera(back, covered=False))) + ticks(d, back, 90)
    assert not d.blind
    raised = alerts(events, "desk_unattended")
    assert [e.state for e in raised] == ["raised"]
    assert raised[0].at - back == 60


def test_a_desk_alert_raised_before_the_camera_went_blind_stays_until_staff_are_seen() -> None:
    d = desk()
    events = ticks(d, MONDAY_9, 70)
    assert [e.state for e in alerts(events, "desk_unattended")] == ["raised"]
    events = covered_for(d, MONDAY_9 + 70, 120)
    assert alerts(events, "desk_unattended") == []  # neither cleared nor raised again
    events = list(d.feed(camera(MONDAY_9 + 190, covered=False)))
    events += run(d, MONDAY_9 + 190, 10, [staff_person()])
    assert [e.state for e in alerts(events, "desk_unattended")] == ["cleared"]


def test_waiting_patients_make_the_empty_desk_an_alert_sooner() -> None:
    d = desk()
    events = run(d, MONDAY_9, 30, [queue_person(0), queue_person(100)])
    raised = alerts(events, "desk_unattended")
    assert [(e.state, e.value) for e in raised] == [("raised", 2.0)]
    assert 20 <= raised[0].at - MONDAY_9 <= 23
    assert "2 patient(s) waiting" in raised[0].message


def test_closing_clears_and_closed_hours_raise_nothing() -> None:
    d = desk()
    noon = MONDAY_9 + 3 * 3600
    events = ticks(d, noon - 100, 90)
    assert [e.state for e in alerts(events, "desk_unattended")] == ["raised"]
    events = ticks(d, noon - 10, 20)
    cleared = alerts(events, "desk_unattended")
    assert [e.state for e in cleared] == ["cleared"]
    assert cleared[0].at == noon
    assert "closed" in cleared[0].message
    events = run(d, noon + 60, 120, [queue_person(0)]) + ticks(d, noon + 200, 3600)
    assert alerts(events, "desk_unattended") == []
    tuesday = MONDAY_9 + 24 * 3600  # no hours on Tuesday
    assert alerts(ticks(d, tuesday, 600), "desk_unattended") == []


def test_the_desk_is_watched_only_with_a_staff_zone_and_hours() -> None:
    open_clinic = ClinicConfig(mon=["08:00-17:00"])
    names = [a.name for a in people_analysers(vision(), ZONES, open_clinic, "UTC")]
    assert names == ["compliance", "occupancy", "desk"]
    assert [a.name for a in people_analysers(vision(), ZONES, ClinicConfig(), "UTC")] == [
        "compliance",
        "occupancy",
    ]
    assert [a.name for a in people_analysers(vision(), (), open_clinic, "UTC")] == [
        "compliance",
        "occupancy",
    ]
