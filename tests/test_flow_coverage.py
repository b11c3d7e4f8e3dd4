"""Screening coverage (agent/flow/coverage.py): arrivals matched to temperature results one to one,
the periodic ``coverage`` event, ``screening_skipped`` raised and cleared, scans counted; the
engine feeding it the results other analysers produce; the summary adding the counts up."""

from __future__ import annotations

from collections.abc import Sequence

from agent.flow.coverage import CoverageAnalyser, Scanned
from agent.flow.engine import Engine
from agent.flow.events import (
    AlertEvent,
    CoverageEvent,
    Event,
    SummaryEvent,
    TemperatureEvent,
)
from agent.flow.summary import SummaryTally

T0 = 1_795_000_000.0


def result(at: float, kind: str = "normal") -> TemperatureEvent:
    return TemperatureEvent(at, kind, 34.6, 24.0, 36.7, 37.3, 1.0, 10)  # type: ignore[arg-type]


def analyser(**kw: object) -> CoverageAnalyser:
    settings: dict[str, object] = {
        "period_s": 60.0,
        "match_s": 120.0,
        "before_s": 30.0,
        "skipped_after": 3,
        "skipped_within_s": 600.0,
        **kw,
    }
    return CoverageAnalyser(**settings)  # type: ignore[arg-type]


def tick_through(c: CoverageAnalyser, start: float, end: float) -> list[Event]:
    out: list[Event] = []
    t = start
    while t <= end:
        out += c.tick(t)
        t += 1.0
    return out


def coverage(events: Sequence[Event]) -> list[CoverageEvent]:
    return [e for e in events if isinstance(e, CoverageEvent)]


def alerts(events: Sequence[Event]) -> list[AlertEvent]:
    return [e for e in events if isinstance(e, AlertEvent)]


def totals(events: Sequence[Event]) -> tuple[int, int, int]:
    cov = coverage(events)
    return (
        sum(e.arrivals_screened or 0 for e in cov),
        sum(e.arrivals_unscreened or 0 for e in cov),
        sum(e.results_unmatched or 0 for e in cov),
    )


def test_arrivals_matched_to_results_one_to_one() -> None:
    c = analyser()
    events = tick_through(c, T0, T0 + 5)
    c.arrived(T0 + 10)  # screened 40 s later
    c.arrived(T0 + 12)  # screened 60 s later (the second result)
    c.arrived(T0 + 14)  # never screened
    events += c.feed(result(T0 + 50))
    events += c.feed(result(T0 + 72))
    events += c.feed(result(T0 + 300, "invalid"))  # not a screening
    events += tick_through(c, T0 + 6, T0 + 400)
    assert totals(events) == (2, 1, 0)
    assert all(e.window_s == 60.0 and e.scans is None for e in coverage(events))


def test_a_result_before_the_arrival_counts_within_before_s() -> None:
    c = analyser()
    events = tick_through(c, T0, T0 + 2)
    events += c.feed(result(T0 + 5))  # screened at the door, counted by the camera 20 s later
    c.arrived(T0 + 25)
    events += c.feed(result(T0 + 100))  # nobody to match: unmatched once before_s passed
    events += tick_through(c, T0 + 3, T0 + 300)
    assert totals(events) == (1, 0, 1)


def test_an_arrival_after_match_s_without_a_result_is_unscreened() -> None:
    c = analyser(match_s=20.0)
    events = tick_through(c, T0, T0 + 2)
    c.arrived(T0 + 3)
    events += tick_through(c, T0 + 3, T0 + 23)
    assert totals(events)[1] == 0  # still within its time
    events += tick_through(c, T0 + 24, T0 + 25)
    events += c.feed(result(T0 + 26))  # too late for it
    events += tick_through(c, T0 + 26, T0 + 200)
    assert totals(events) == (0, 1, 1)


def test_screening_skipped_raised_by_a_run_and_cleared_when_screening_resumes() -> None:
    c = analyser(match_s=20.0, skipped_after=3, skipped_within_s=300.0)
    events = tick_through(c, T0, T0 + 1)
    for k in range(3):  # three people walk past the desk, a minute apart
        c.arrived(T0 + 10 + 60 * k)
    events += tick_through(c, T0 + 2, T0 + 200)
    raised = [a for a in alerts(events) if a.state == "raised"]
    assert [(a.alert, a.family, a.at - T0, a.value) for a in raised] == [
        ("screening_skipped", "setup", 151.0, 3.0)
    ]
    assert "3 people came in unscreened" in raised[0].message
    c.arrived(T0 + 210)
    events += c.feed(result(T0 + 215))  # somebody takes temperatures again
    cleared = [a for a in alerts(events) if a.state == "cleared"]
    assert [(a.alert_id, a.at - T0) for a in cleared] == [(raised[0].alert_id, 215.0)]
    assert "screening resumed" in cleared[0].message


def test_an_interrupted_run_raises_nothing() -> None:
    c = analyser(match_s=20.0, skipped_after=3)
    events = tick_through(c, T0, T0 + 1)
    c.arrived(T0 + 10)
    c.arrived(T0 + 70)
    events += tick_through(c, T0 + 2, T0 + 100)
    c.arrived(T0 + 110)
    events += c.feed(result(T0 + 115))  # the third one is screened: the run is broken
    c.arrived(T0 + 130)
    c.arrived(T0 + 140)
    events += tick_through(c, T0 + 101, T0 + 300)
    assert alerts(events) == []
    assert totals(events) == (1, 4, 0)


def test_a_slow_trickle_outside_the_window_raises_nothing() -> None:
    c = analyser(match_s=20.0, skipped_after=3, skipped_within_s=120.0)
    events = tick_through(c, T0, T0 + 1)
    for k in range(3):  # judged 100 s apart: never three within 120 s
        c.arrived(T0 + 10 + 100 * k)
    events += tick_through(c, T0 + 2, T0 + 400)
    assert alerts(events) == []


def test_closed_clinic_raises_nothing_and_closing_clears() -> None:
    hours = {"open": True}
    c = analyser(match_s=20.0, skipped_after=2, is_open=lambda at: hours["open"])
    events = tick_through(c, T0, T0 + 1)
    c.arrived(T0 + 5)
    c.arrived(T0 + 6)
    events += tick_through(c, T0 + 2, T0 + 40)
    assert [a.state for a in alerts(events)] == ["raised"]
    hours["open"] = False
    events += tick_through(c, T0 + 41, T0 + 42)
    assert [a.state for a in alerts(events)] == ["raised", "cleared"]
    assert "clinic is closed" in alerts(events)[-1].message
    c.arrived(T0 + 50)
    c.arrived(T0 + 51)
    events += tick_through(c, T0 + 43, T0 + 100)
    assert len(alerts(events)) == 2  # closed: nothing raised


def test_scans_are_counted_beside_the_coverage() -> None:
    c = analyser(scanner=True)
    events = tick_through(c, T0, T0 + 1)
    events += c.feed(Scanned(T0 + 3))
    events += c.feed(Scanned(T0 + 4, count=2))
    events += tick_through(c, T0 + 2, T0 + 70)
    cov = coverage(events)
    assert [(e.scans, e.arrivals_screened) for e in cov] == [(3, 0)]
    without_scanner = analyser()
    events = tick_through(without_scanner, T0, T0 + 1)
    events += without_scanner.feed(Scanned(T0 + 3))
    events += tick_through(without_scanner, T0 + 2, T0 + 70)
    assert coverage(events) == []


def test_only_scans_without_camera_or_thermometer() -> None:
    c = analyser(screening=False, scanner=True)
    c.arrived(T0)
    events = tick_through(c, T0, T0 + 1)
    events += c.feed(result(T0 + 2))
    events += c.feed(Scanned(T0 + 3))
    events += tick_through(c, T0 + 2, T0 + 70)
    assert [(e.scans, e.arrivals_screened, e.results_unmatched) for e in coverage(events)] == [
        (1, None, None)
    ]


class Results:
    """An analyser producing one temperature result per observation (as screening does)."""

    name = "results"

    def feed(self, observation: object) -> Sequence[Event]:
        return [result(float(observation))] if isinstance(observation, float) else []

    def tick(self, now: float) -> Sequence[Event]:
        return []


def test_the_engine_feeds_it_the_results_other_analysers_produce() -> None:
    sunk: list[Event] = []
    c = analyser(match_s=20.0)
    engine = Engine([Results(), c], sunk.append)
    engine.tick(T0)
    c.arrived(T0 + 1)
    engine.feed(T0 + 5)  # a temperature result: sunk, and heard by the coverage analyser
    for s in range(2, 70):
        engine.tick(T0 + s)
    assert [type(e).__name__ for e in sunk] == ["TemperatureEvent", "CoverageEvent"]
    assert totals(sunk) == (1, 0, 0)


def test_the_summary_adds_the_coverage_counts_up_and_keeps_them_across_a_restart() -> None:
    tally = SummaryTally(900, "UTC", T0)
    tally.record(CoverageEvent(T0 + 60, 60.0, 3, 1, 0, None))
    tally.record(CoverageEvent(T0 + 120, 60.0, 2, 0, 1, None))
    state = tally.to_state()
    again = SummaryTally.resume(900, "UTC", T0 + 130, state)
    again.record(CoverageEvent(T0 + 180, 60.0, 0, 2, 0, None))
    closed: list[SummaryEvent] = []
    while (s := again.due(T0 + 86_400 * 2)) is not None:
        closed.append(s)
    slot = next(s for s in closed if s.period != "day")
    assert (slot.arrivals_screened, slot.arrivals_unscreened, slot.scans) == (5, 3, None)
    plain = SummaryTally(900, "UTC", T0)
    summaries: list[SummaryEvent] = []
    while (s := plain.due(T0 + 1000)) is not None:
        summaries.append(s)
    assert summaries
    assert summaries[0].arrivals_screened is None  # no coverage: absent
