"""Integrity alerts (agent.vision.analysers.integrity_alerts): verdicts -> latched ``setup`` alerts."""

from __future__ import annotations

import json
from collections.abc import Sequence

import jsonschema
import pytest

from agent.flow.events import AlertEvent, Event
from agent.vision.analysers.integrity_alerts import IntegrityAnalyser
from agent.vision.config import IntegrityConfig
from agent.vision.findings import (
    CHECKS,
    IntegrityCheck,
    IntegrityFindings,
    IntegrityVerdict,
    Outcome,
)
from agent.vision.inference.integrity import IntegrityChecker, thresholds
from agent.wire.contract import Identity, encode, schema
from tests import integrity_media as media

LONG = Identity("triage/v1", "s" * 32, "d" * 32, "x" * 32)
CFG = IntegrityConfig(covered_after_s=30, dark_after_s=60, moved_after_s=60, clear_after_s=10)


def findings(at: float, **outcomes: Outcome) -> IntegrityFindings:
    """Verdicts at ``at``: every check ``ok`` unless given."""
    values = {"covered": 0.9, "dark": 12.0, "blurred": 0.05, "moved": 0.04}
    limits = {"covered": 0.6, "dark": 35.0, "blurred": 0.3, "moved": 0.15}
    verdicts = tuple(
        IntegrityVerdict(
            c,
            outcomes.get(c, "ok"),
            values[c],
            limits[c],
            "reference",
            "covered" if outcomes.get(c) == "unknown" else None,
            0.05 if c == "moved" else None,
        )
        for c in CHECKS
    )
    return IntegrityFindings(at=at, verdicts=verdicts, commissioned=True, check_ms=5.0)


def alerts(events: Sequence[Event]) -> list[tuple[str, str]]:
    return [(e.alert, e.state) for e in events if isinstance(e, AlertEvent)]


def drive(
    analyser: IntegrityAnalyser, start: float, end: float, **outcomes: Outcome
) -> list[Event]:
    out: list[Event] = []
    t = start
    while t < end:
        out += analyser.feed(findings(t, **outcomes))
        t += 1.0
    return out


def test_raised_after_its_delay_and_cleared_after_the_clear_delay() -> None:
    a = IntegrityAnalyser(CFG)
    assert drive(a, 0, 30, covered="failed") == []
    raised = drive(a, 30, 31, covered="failed")
    assert alerts(raised) == [("camera_covered", "raised")]
    assert a.raised == ("camera_covered",)
    assert drive(a, 31, 60, covered="failed") == [], "one raise, not one per check"
    assert drive(a, 60, 70) == []
    cleared = drive(a, 70, 71)
    assert alerts(cleared) == [("camera_covered", "cleared")]
    first, second = raised[0], cleared[0]
    assert isinstance(first, AlertEvent)
    assert isinstance(second, AlertEvent)
    assert first.alert_id == second.alert_id
    assert first.family == "setup"
    assert first.value == 90.0
    assert "30 s" in first.message
    assert len(a.raised) == 0


def test_a_flicker_shorter_than_the_delay_raises_nothing() -> None:
    a = IntegrityAnalyser(CFG)
    events = []
    for cycle in range(10):  # 20 s covered, 1 s not, repeatedly
        events += drive(a, cycle * 21, cycle * 21 + 20, covered="failed")
        events += drive(a, cycle * 21 + 20, cycle * 21 + 21)
    assert events == []


def test_unknown_keeps_the_alert_as_it_is() -> None:
    a = IntegrityAnalyser(CFG)
    assert alerts(drive(a, 0, 61, blurred="failed")) == [("camera_blurred", "raised")]
    # the lens gets covered: focus cannot be judged, the blurred alert stays open
    events = drive(a, 61, 200, covered="failed", blurred="unknown")
    assert alerts(events) == [("camera_covered", "raised")]
    assert a.raised == ("camera_covered", "camera_blurred")


@pytest.mark.parametrize("check", CHECKS)
def test_every_camera_alert_is_valid_on_the_wire(check: IntegrityCheck) -> None:
    a = IntegrityAnalyser(CFG)
    failing: dict[str, Outcome] = {check: "failed"}
    events = list(drive(a, 0, 100, **failing))
    events += drive(a, 100, 120)
    assert alerts(events) == [(f"camera_{check}", "raised"), (f"camera_{check}", "cleared")]
    for e in events:
        doc = json.loads(encode(e, LONG, seq=1_000_000_000).payload)
        jsonschema.validate(doc, schema("alert"))
        assert doc["family"] == "setup"
        assert len(doc["message"]) <= 160


@pytest.mark.shared
def test_real_frames_covered_then_uncovered() -> None:
    """The checker on real frames feeding the analyser: a black lens for 40 s, then the view."""
    cfg = IntegrityConfig(covered_after_s=30, clear_after_s=10)
    checker = IntegrityChecker(thresholds(cfg), None)
    analyser = IntegrityAnalyser(cfg)
    view = media.view("hpc203_bus.jpg")
    timeline = [(t, media.noisy(view, 2.0, t)) for t in range(0, 10)]
    timeline += [(t, media.black(t)) for t in range(10, 50)]
    timeline += [(t, media.noisy(view, 2.0, t)) for t in range(50, 80)]
    events: list[tuple[float, str, str]] = []
    for t, frame in timeline:
        for e in analyser.feed(checker.check(frame, float(t))):
            assert isinstance(e, AlertEvent)
            events.append((e.at, e.alert, e.state))
    # covered from the 3rd black frame on (median of 5), raised 30 s later; cleared likewise
    assert events == [(42.0, "camera_covered", "raised"), (62.0, "camera_covered", "cleared")]
    assert analyser.commissioned is False


def test_only_while_the_clinic_is_open() -> None:
    """Dark at night is no news: nothing is raised while closed, and an open alert clears at
    closing with a message that says so."""
    closes_at = 100.0
    a = IntegrityAnalyser(CFG, is_open=lambda at: at < closes_at)
    raised = drive(a, 0, 100, dark="failed")
    assert alerts(raised) == [("camera_dark", "raised")]
    closing = drive(a, 100, 120, dark="failed")
    assert alerts(closing) == [("camera_dark", "cleared")]
    cleared = closing[0]
    assert isinstance(cleared, AlertEvent)
    assert cleared.message == "camera_dark no longer watched: the clinic is closed"
    assert cleared.at == closes_at + CFG.clear_after_s
    assert drive(a, 120, 1000, dark="failed", covered="failed") == []
