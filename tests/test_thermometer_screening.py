"""Screening on emulator traces with known truth, plus the classification and alert rules."""

from __future__ import annotations

import re

import pytest

from agent.flow.events import AlertEvent, Event, TemperatureEvent
from agent.thermometer.config import ScreeningConfig
from agent.thermometer.reading import ThermoReading
from agent.thermometer.screening import ScreeningAnalyser
from firmware_bridge.trace import Trace, generate

T0 = 1_700_000_000.0


def play(trace: Trace, analyser: ScreeningAnalyser) -> list[Event]:
    events: list[Event] = []
    for s in trace.samples:
        if s.object_c is None:  # the source drops readings the device flags invalid
            continue
        events += analyser.feed(
            ThermoReading(at=T0 + s.t, object_c=s.object_c, ambient_c=s.ambient_c)
        )
        events += analyser.tick(T0 + s.t)
    events += analyser.tick(T0 + trace.duration_s + 10)
    return events


@pytest.mark.parametrize("scenario", ["normal", "fever", "mixed", "glitch", "queue", "clinic"])
@pytest.mark.parametrize("seed", range(8))
def test_one_event_per_presentation_within_a_tenth(scenario: str, seed: int) -> None:
    trace = generate(scenario, seed)
    events = play(trace, ScreeningAnalyser(ScreeningConfig()))
    temps = [e for e in events if isinstance(e, TemperatureEvent)]
    assert len(temps) == len(trace.presentations)
    for ev, pres in zip(temps, trace.presentations, strict=True):
        assert T0 + pres.start <= ev.at <= T0 + pres.end
        assert ev.result == pres.label
        assert ev.object_c == pytest.approx(pres.plateau_c, abs=0.1)
        assert ev.estimate_c == ev.object_c  # compensation off
        assert ev.plateau_s >= 0.8
        assert ev.samples >= 5


def test_the_clinic_trace_is_a_believable_desk() -> None:
    """``make central``'s live desk: about a person a minute, fevers a few in a hundred (the
    ``queue`` trace's line, a person every ~7 s and 3 in 10 fevers, looked like an epidemic)."""
    trace = generate("clinic", 0)
    temps = [e for e in play(trace, ScreeningAnalyser(ScreeningConfig()))
             if isinstance(e, TemperatureEvent)]  # fmt: skip
    per_minute = len(temps) / (trace.duration_s / 60)
    assert 0.8 <= per_minute <= 2.0, per_minute
    fevers = sum(e.result == "fever" for e in temps)
    assert 1 <= fevers <= 0.1 * len(temps)


def test_idle_trace_yields_nothing() -> None:
    assert play(generate("idle", 3), ScreeningAnalyser(ScreeningConfig())) == []


def test_fever_alert_raised_then_cleared() -> None:
    events = play(generate("fever", 1), ScreeningAnalyser(ScreeningConfig()))
    alerts = [e for e in events if isinstance(e, AlertEvent)]
    assert [a.state for a in alerts] == ["raised", "cleared"]
    assert alerts[0].alert_id == alerts[1].alert_id
    assert re.fullmatch(r"[0-9a-f]{8,32}", alerts[0].alert_id)
    assert "clinical thermometer must confirm" in alerts[0].message
    temp = next(e for e in events if isinstance(e, TemperatureEvent))
    assert alerts[0].value == temp.estimate_c
    assert events.index(alerts[0]) == events.index(temp) + 1


def test_normal_raises_no_alert() -> None:
    events = play(generate("normal", 2), ScreeningAnalyser(ScreeningConfig()))
    assert not any(isinstance(e, AlertEvent) for e in events)


def test_offset_shifts_estimate_and_classification() -> None:
    trace = generate("normal", 4)
    plateau = trace.presentations[0].plateau_c
    offset = round(37.6 - plateau, 2)
    temp = next(
        e
        for e in play(trace, ScreeningAnalyser(ScreeningConfig(), offset_c=offset))
        if isinstance(e, TemperatureEvent)
    )
    assert temp.estimate_c == pytest.approx(temp.object_c + offset, abs=0.011)
    assert temp.offset_c == offset
    assert temp.result == "fever"


def test_ambient_correction_formula() -> None:
    cfg = ScreeningConfig(
        ambient_correction=True, ambient_reference_c=24.0, ambient_coefficient=0.1
    )
    a = ScreeningAnalyser(cfg, offset_c=0.5)
    assert a.estimate(35.0, 24.0) == pytest.approx(35.5)
    assert a.estimate(35.0, 18.0) == pytest.approx(35.5 + 0.6)
    assert a.estimate(35.0, 30.0) == pytest.approx(35.5 - 0.6)


@pytest.mark.parametrize(
    ("estimate", "expected"),
    [(33.99, "invalid"), (34.0, "normal"), (37.29, "normal"), (37.3, "fever"), (43.01, "invalid")],
)
def test_classification_boundaries(estimate: float, expected: str) -> None:
    assert ScreeningAnalyser(ScreeningConfig()).classify(estimate) == expected


def _readings(values: list[float], start: float, period: float = 0.1) -> list[ThermoReading]:
    return [
        ThermoReading(at=start + i * period, object_c=v, ambient_c=23.0)
        for i, v in enumerate(values)
    ]


def test_leaving_before_plateau_gives_one_invalid() -> None:
    a = ScreeningAnalyser(ScreeningConfig())
    events: list[Event] = []
    rising = [30.0, 31.5, 33.0, 34.5, 36.0]  # never stable
    for r in _readings(rising + [23.5] * 5, T0):
        events += a.feed(r)
    temps = [e for e in events if isinstance(e, TemperatureEvent)]
    assert len(temps) == 1
    assert temps[0].result == "invalid"
    assert temps[0].plateau_s == 0.0


def test_no_plateau_within_timeout_gives_invalid_once() -> None:
    cfg = ScreeningConfig(presentation_timeout_s=2.0)
    a = ScreeningAnalyser(cfg)
    wobble = [34.0 + (i % 2) * 1.5 for i in range(60)]  # a person who never holds still
    events: list[Event] = []
    for r in _readings(wobble + [23.0] * 5, T0):
        events += a.feed(r)
    temps = [e for e in events if isinstance(e, TemperatureEvent)]
    assert [t.result for t in temps] == ["invalid"]
    assert temps[0].at == pytest.approx(T0 + 2.0, abs=0.11)


def test_sensor_lost_mid_presentation_ends_it() -> None:
    a = ScreeningAnalyser(ScreeningConfig())
    events: list[Event] = []
    for r in _readings([36.0, 36.1, 36.0], T0):
        events += a.feed(r)
    assert events == []
    events += a.tick(T0 + 10)
    assert [type(e) for e in events] == [TemperatureEvent]
    assert a.tick(T0 + 20) == []


def test_single_spike_is_not_a_presentation() -> None:
    a = ScreeningAnalyser(ScreeningConfig())
    events: list[Event] = []
    for r in _readings([23.5, 23.5, 32.0, 23.5, 23.5, 35.0, 35.0, 23.5] * 3, T0):
        events += a.feed(r)
    assert events == []


def test_other_observations_are_ignored() -> None:
    a = ScreeningAnalyser(ScreeningConfig())
    assert a.feed(object()) == []
    assert a.tick(T0) == []
