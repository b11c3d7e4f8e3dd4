"""Occupancy analyser: debounced counts, periodic maximum and people, the crowding alert."""

from __future__ import annotations

from collections.abc import Sequence

from agent.flow.events import AlertEvent, Event, OccupancyEvent
from agent.vision.analysers.occupancy import OccupancyAnalyser
from agent.vision.config import VisionConfig
from agent.vision.findings import Box, FaceFinding, SceneFindings

FPS = 5
T0 = 1_700_000_000.0


def boxes(n: int, first: int = 0) -> list[Box]:
    return [Box(x * 100, 100, x * 100 + 60, 200, 0.9) for x in range(first, first + n)]


def faces_frame(at: float, n: int, first: int = 0) -> SceneFindings:
    faces = tuple(FaceFinding(b, 0.9) for b in boxes(n, first))
    return SceneFindings(at, faces, None, 5.0, 1280, 480)


def run(a: OccupancyAnalyser, start: float, seconds: float, n: int, first: int = 0) -> list[Event]:
    events: list[Event] = []
    for i in range(round(seconds * FPS)):
        at = start + i / FPS
        events += a.feed(faces_frame(at, n, first))
        if i % FPS == FPS - 1:
            events += a.tick(at)
    return events


def analyser(**kw: float) -> OccupancyAnalyser:
    return OccupancyAnalyser(VisionConfig.model_validate({"compliance_window_s": 60, **kw}))


def changes(events: Sequence[Event]) -> list[int]:
    return [e.count for e in events if isinstance(e, OccupancyEvent) and e.window_s is None]


def test_count_is_debounced_and_reported_once() -> None:
    a = analyser()
    events = run(a, T0, 10, 1)
    events += run(a, T0 + 10, 1, 3)  # 1 s spike: not reported
    events += run(a, T0 + 11, 10, 1)
    events += run(a, T0 + 21, 10, 3)
    assert changes(events) == [1, 3]
    first = next(e for e in events if isinstance(e, OccupancyEvent))
    assert first.at >= T0 + 2
    assert first.limit == 5


def test_person_boxes_are_counted_instead_of_faces_when_present() -> None:
    a = analyser()
    events: list[Event] = []
    for i in range(20):
        f = SceneFindings(T0 + i / FPS, (), tuple(boxes(4)), 5.0, 1280, 480)
        events += a.feed(f)
    assert changes(events) == [4]
    assert a.count == 4


def test_periodic_maximum_and_people_first_seen_in_the_window() -> None:
    a = analyser(crowd_limit=10)
    events = run(a, T0, 30, 1)  # one person stays 30 s: counts once
    events += run(a, T0 + 30, 10, 3)  # two more join (ids 2, 3 at x=1, 2)
    events += run(a, T0 + 40, 21, 1)
    periodic = [e for e in events if isinstance(e, OccupancyEvent) and e.window_s is not None]
    assert len(periodic) == 1
    p = periodic[0]
    assert (p.max, p.people, p.count, p.window_s) == (3, 3, 1, 60)
    later = run(a, T0 + 61, 61, 1)
    nxt = [e for e in later if isinstance(e, OccupancyEvent) and e.window_s is not None]
    assert [(e.max, e.people) for e in nxt] == [(1, 0)]  # same person still there: nobody new


def test_crowding_alert_raised_after_delay_and_cleared_with_hysteresis() -> None:
    a = analyser(crowd_limit=2, crowd_after_s=5)
    events = run(a, T0, 5, 1)
    events += run(a, T0 + 5, 3, 4)  # crowded, but not for long enough
    events += run(a, T0 + 8, 6, 1)
    assert not [e for e in events if isinstance(e, AlertEvent)]
    events = run(a, T0 + 14, 20, 4)
    events += run(a, T0 + 34, 3, 2)  # at the limit for 3 s: not yet cleared
    alerts = [e for e in events if isinstance(e, AlertEvent)]
    assert [(e.alert, e.state) for e in alerts] == [("crowding", "raised")]
    assert alerts[0].value == 4.0
    events = run(a, T0 + 37, 20, 2)
    cleared = [e for e in events if isinstance(e, AlertEvent)]
    assert [(e.state, e.alert_id) for e in cleared] == [("cleared", alerts[0].alert_id)]


def test_frames_stopping_brings_the_count_to_zero_via_tick() -> None:
    a = analyser()
    events = run(a, T0, 5, 2)
    for s in range(1, 8):
        events += a.tick(T0 + 5 + s)
    assert changes(events) == [2, 0]


def test_other_observations_are_ignored() -> None:
    assert analyser().feed(object()) == []
