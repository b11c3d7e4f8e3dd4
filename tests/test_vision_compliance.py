"""Mask compliance analyser: debounced state changes, periodic figures, the unmasked alert."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from agent.flow.events import AlertEvent, Event, MaskEvent
from agent.vision.analysers.compliance import ComplianceAnalyser
from agent.vision.config import VisionConfig
from agent.vision.findings import Box, FaceFinding, SceneFindings

FPS = 5
T0 = 1_700_000_000.0


def face(x: float, prob: float, worn_wrong: float = 0.0) -> FaceFinding:
    return FaceFinding(Box(x, 100, x + 80, 200, 0.9), prob, worn_wrong)


def frame(at: float, faces: Sequence[FaceFinding]) -> SceneFindings:
    return SceneFindings(at, tuple(faces), None, 5.0, 640, 480)


def run(
    a: ComplianceAnalyser, start: float, seconds: float, faces: Sequence[FaceFinding]
) -> list[Event]:
    """Feed ``seconds`` of frames at FPS and tick every second, like the main loop."""
    events: list[Event] = []
    n = round(seconds * FPS)
    for i in range(n):
        at = start + i / FPS
        events += a.feed(frame(at, faces))
        if i % FPS == FPS - 1:
            events += a.tick(at)
    return events


def analyser(**kw: float) -> ComplianceAnalyser:
    return ComplianceAnalyser(VisionConfig.model_validate({"compliance_window_s": 60, **kw}))


def test_one_masked_face_gives_one_state_event_not_one_per_frame() -> None:
    a = analyser()
    events = run(a, T0, 20, [face(100, 0.93)])
    assert len(events) == 1
    e = events[0]
    assert isinstance(e, MaskEvent)
    assert (e.state, e.faces, e.masked, e.unmasked, e.window_s) == ("masked", 1, 1, 0, None)
    assert e.at == pytest.approx(T0 + 2.4)  # settled after 3 votes, then held 2 s


def test_brief_flicker_does_not_change_state() -> None:
    a = analyser()
    run(a, T0, 10, [face(100, 0.9)])
    events = run(a, T0 + 10, 1.0, [face(100, 0.02)])  # 1 s of "unmasked" votes
    events += run(a, T0 + 11, 10, [face(100, 0.9)])
    assert [e for e in events if isinstance(e, MaskEvent)] == []


def test_state_follows_a_real_change_and_no_face_after_people_leave() -> None:
    a = analyser(unmasked_alert_after_s=100)
    events = run(a, T0, 10, [face(100, 0.9)])
    events += run(a, T0 + 10, 10, [face(100, 0.9), face(400, 0.05)])
    events += run(a, T0 + 20, 10, [])
    states = [e.state for e in events if isinstance(e, MaskEvent)]
    assert states == ["masked", "unmasked", "no_face"]
    unmasked = next(e for e in events if isinstance(e, MaskEvent) and e.state == "unmasked")
    assert (unmasked.faces, unmasked.masked, unmasked.unmasked) == (2, 1, 1)


def test_periodic_compliance_counts_distinct_faces_in_the_window() -> None:
    a = analyser(unmasked_alert_after_s=100)
    events = run(a, T0, 20, [face(100, 0.9)])  # person 1, masked, 20 s
    events += run(a, T0 + 20, 5, [])
    events += run(a, T0 + 25, 20, [face(400, 0.1)])  # person 2, unmasked
    events += run(a, T0 + 45, 17, [face(400, 0.1), face(100, 0.95)])  # person 3 joins
    periodic = [e for e in events if isinstance(e, MaskEvent) and e.window_s is not None]
    assert len(periodic) == 1
    p = periodic[0]
    assert p.window_s == 60
    assert (p.faces, p.masked, p.unmasked) == (3, 2, 1)
    later = run(a, T0 + 62, 61, [face(400, 0.1)])
    nxt = [e for e in later if isinstance(e, MaskEvent) and e.window_s is not None]
    assert [(e.faces, e.masked, e.unmasked) for e in nxt] == [(2, 1, 1)]  # 2 and 3 overlap it


def test_unmasked_alert_raised_once_then_cleared_with_the_same_id() -> None:
    a = analyser(unmasked_alert_after_s=10)
    events = run(a, T0, 30, [face(100, 0.04)])
    events += run(a, T0 + 30, 10, [])
    alerts = [e for e in events if isinstance(e, AlertEvent)]
    assert [(e.alert, e.state) for e in alerts] == [("unmasked", "raised"), ("unmasked", "cleared")]
    raised, cleared = alerts
    assert raised.alert_id == cleared.alert_id
    assert raised.value is not None
    assert raised.value >= 10
    assert raised.at - T0 == pytest.approx(10.4, abs=0.5)
    assert cleared.at > T0 + 30


def test_unmasked_shorter_than_the_limit_raises_nothing() -> None:
    a = analyser(unmasked_alert_after_s=10)
    events = run(a, T0, 8, [face(100, 0.04)]) + run(a, T0 + 8, 10, [])
    assert not [e for e in events if isinstance(e, AlertEvent)]


def test_a_mask_worn_wrong_is_not_compliant_with_its_own_cause() -> None:
    a = analyser(unmasked_alert_after_s=10)
    events = run(a, T0, 30, [face(100, 0.9), face(400, 0.08, 0.85)])
    events += run(a, T0 + 30, 32, [face(100, 0.9), face(400, 0.03, 0.02)])  # the mask comes off
    change = next(e for e in events if isinstance(e, MaskEvent) and e.window_s is None)
    assert (change.state, change.faces, change.masked, change.unmasked, change.worn_wrong) == (
        "unmasked",
        2,
        1,
        1,
        1,
    )
    raised = [e for e in events if isinstance(e, AlertEvent) and e.state == "raised"]
    assert [(e.alert, e.cause) for e in raised] == [("unmasked", "worn_wrong")]
    assert "mask worn wrong" in raised[0].message
    assert raised[0].at - T0 == pytest.approx(10.4, abs=0.5)
    periodic = [e for e in events if isinstance(e, MaskEvent) and e.window_s is not None]
    # the second face wore its mask wrong, then none: the worse verdict counts
    assert [(e.faces, e.masked, e.unmasked, e.worn_wrong) for e in periodic] == [(2, 1, 1, 0)]


def test_other_observations_are_ignored() -> None:
    a = analyser()
    assert a.feed("not findings") == []
    assert a.feed(42) == []
