"""Impossible temperatures are never results (agent/thermometer/plausibility.py, one rule).

Sensor level: 'no reading' (0x7FFF) and values outside what an MLX90614 can measure are dropped
frames in every protocol decoder, counted and logged. Body level: a screening estimate outside
25-45 °C is no result at all (not even ``invalid``), counted once per presentation; plausible but
unstable or low readings keep their ``invalid`` (re-measure). Real bytes through a pty for both
protocols, and end to end through ``triage-agent run`` to a real mosquitto.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.cli.status import StatusClientError, fetch_status
from agent.flow.events import AlertEvent, Event, TemperatureEvent
from agent.thermometer import plausibility, protocols
from agent.thermometer.config import ScreeningConfig
from agent.thermometer.reading import ThermoReading
from agent.thermometer.records import WireFault, WireReading
from agent.thermometer.screening import ScreeningAnalyser
from agent.thermometer.serial_source import SerialThermometer
from agent.thermometer.simulated_port import emulator
from firmware_bridge.trace import Sample, Trace
from tests.broker import Broker, Collector
from tests.conftest import AgentProcess, base_config, validate_message, write_config
from tests.thermo_helpers import Collector as Emitted
from tests.thermo_helpers import wait_for

T0 = 1_700_000_000.0
AMBIENT = 23.0
PERIOD_S = 0.1

DECODER_BAD: list[tuple[float, float]] = [(327.67, AMBIENT), (-80.0, AMBIENT), (36.6, 150.0)]
"""(object, ambient) no decoder lets through: object 0x7FFF, object below -70 °C, ambient 150 °C."""
NOT_A_BODY = [327.0, 250.0, 181.8, 100.0]
"""Within the sensor's range but no body temperature: what was published as 'invalid' before."""


# -- the rule ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("quantity", "raw", "bad"),
    [
        ("object", 0x7FFF, True),
        ("object", 32766, False),  # 327.66 °C: in range (screening's body window catches it)
        ("object", -7000, False),
        ("object", -7001 & 0xFFFF, True),
        ("ambient", 12500, False),
        ("ambient", 12501, True),
        ("ambient", -4001 & 0xFFFF, True),
        ("ambient", 0x7FFF, True),
    ],
)
def test_sensor_rule(quantity: plausibility.Quantity, raw: int, bad: bool) -> None:
    assert (plausibility.raw_problem(quantity, raw) is not None) == bad


@pytest.mark.parametrize(("estimate", "bad"), [(24.99, True), (25.0, False), (45.0, False)])
def test_body_rule(estimate: float, bad: bool) -> None:
    assert (plausibility.body_problem(estimate) is not None) == bad
    assert plausibility.body_problem(45.01) is not None


@pytest.mark.parametrize("name", sorted(protocols.PROTOCOLS))
@pytest.mark.parametrize(("obj", "amb"), DECODER_BAD)
def test_every_decoder_drops_impossible_values(name: str, obj: float, amb: float) -> None:
    """The registry's own encoder (the device side) and decoder: one frame each, then a good one."""
    device = protocols.get(name).device()
    decoder = protocols.get(name).decoder()
    data = device.reading(obj, amb) or b""
    data += device.reading(36.6, AMBIENT) or b""
    out = decoder.feed(data)
    errors = [r for r in out if isinstance(r, WireFault)]
    readings = [r for r in out if isinstance(r, WireReading)]
    assert [e.kind for e in errors] == ["range"]
    assert "0x7FFF" in errors[0].detail or "outside the sensor's range" in errors[0].detail
    assert [(r.object_c, r.ambient_c) for r in readings] == [(36.6, AMBIENT)]
    assert decoder.bad_frames == 1


# -- screening's body window -----------------------------------------------------------------------
def _readings(values: list[float], start: float, ambient: float = AMBIENT) -> list[ThermoReading]:
    return [
        ThermoReading(at=start + i * PERIOD_S, object_c=v, ambient_c=ambient)
        for i, v in enumerate(values)
    ]


def _feed(a: ScreeningAnalyser, readings: list[ThermoReading]) -> list[Event]:
    events: list[Event] = []
    for r in readings:
        events += a.feed(r)
    return events


def test_not_a_body_is_no_result_counted_once_and_the_next_person_is() -> None:
    told: list[str] = []
    a = ScreeningAnalyser(ScreeningConfig(), rejected=told.append)
    events: list[Event] = []
    t = T0
    for value in NOT_A_BODY:
        events += _feed(a, _readings([value] * 30 + [AMBIENT] * 10, t))
        t += 5
    assert events == []
    assert a.not_a_body == len(NOT_A_BODY)
    assert len(told) == len(NOT_A_BODY)
    assert "not a body temperature" in told[0]
    events += _feed(a, _readings([36.6] * 30 + [AMBIENT] * 10, t))
    temps = [e for e in events if isinstance(e, TemperatureEvent)]
    assert [(e.result, e.object_c) for e in temps] == [("normal", 36.6)]


def test_window_applies_after_the_offset() -> None:
    # raw 44.0 + offset 1.5 = 45.5: not a body; raw 43.0 + 1.5 = 44.5: a badly measured person.
    a = ScreeningAnalyser(ScreeningConfig(), offset_c=1.5)
    assert _feed(a, _readings([44.0] * 30 + [AMBIENT] * 10, T0)) == []
    assert a.not_a_body == 1
    temps = _feed(a, _readings([43.0] * 30 + [AMBIENT] * 10, T0 + 10))
    assert [e.result for e in temps if isinstance(e, TemperatureEvent)] == ["invalid"]


def test_low_readings_keep_their_meaning() -> None:
    """Empty desk: nothing. Cold forehead (32 °C): invalid. Warm object in a cold room (24 °C,
    ambient 18 °C, above the presence delta): no result."""
    a = ScreeningAnalyser(ScreeningConfig())
    assert _feed(a, _readings([AMBIENT + 0.4] * 50, T0)) == []
    cold = _feed(a, _readings([32.0] * 30 + [AMBIENT] * 10, T0 + 10))
    assert [e.result for e in cold if isinstance(e, TemperatureEvent)] == ["invalid"]
    assert _feed(a, _readings([24.0] * 30 + [18.0] * 10, T0 + 20, ambient=18.0)) == []
    assert a.not_a_body == 1


def test_unstable_plausible_reading_is_still_invalid_remeasure() -> None:
    a = ScreeningAnalyser(ScreeningConfig(presentation_timeout_s=2.0))
    wobble = [34.0 + (i % 2) * 1.5 for i in range(60)]
    events = _feed(a, _readings(wobble + [AMBIENT] * 5, T0))
    assert [e.result for e in events if isinstance(e, TemperatureEvent)] == ["invalid"]
    assert a.not_a_body == 0


def test_a_hot_object_then_a_person_without_leaving_gives_the_person_s_result() -> None:
    a = ScreeningAnalyser(ScreeningConfig())
    events = _feed(a, _readings([60.0] * 40 + [38.2] * 30 + [AMBIENT] * 10, T0))
    temps = [e for e in events if isinstance(e, TemperatureEvent)]
    assert [(e.result, e.object_c) for e in temps] == [("fever", 38.2)]
    assert [e.state for e in events if isinstance(e, AlertEvent)] == ["raised", "cleared"]
    assert a.not_a_body == 1


def test_a_hot_object_that_stays_is_never_a_result_nor_a_timeout() -> None:
    a = ScreeningAnalyser(ScreeningConfig(presentation_timeout_s=2.0))
    assert _feed(a, _readings([100.0] * 300, T0)) == []
    assert a.tick(T0 + 60) == []  # the sensor went quiet: the presentation ends, still no result
    assert a.not_a_body == 1


def test_not_a_body_logged_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="agent.thermometer.screening")
    a = ScreeningAnalyser(ScreeningConfig())
    for k in range(20):
        _feed(a, _readings([100.0] * 20 + [AMBIENT] * 5, T0 + 5 * k))
    assert a.not_a_body == 20
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1, lines
    assert "not a screening result" in lines[0]


# -- real bytes through a pty ----------------------------------------------------------------------
def bad_values_trace() -> tuple[Trace, int]:
    """Idle, each impossible value held 2 s (idle between), then a person at 36.6 °C.

    Returns the trace and how many of its frames no decoder may let through.
    """
    samples: list[Sample] = []

    def hold(obj: float, amb: float, seconds: float) -> None:
        for _ in range(round(seconds / PERIOD_S)):
            samples.append(Sample(round(len(samples) * PERIOD_S, 4), obj, amb))

    hold(AMBIENT + 0.4, AMBIENT, 2.0)
    dropped = 0
    for obj, amb in DECODER_BAD:
        hold(obj, amb, 2.0)
        dropped += round(2.0 / PERIOD_S)
        hold(AMBIENT + 0.4, AMBIENT, 1.0)
    for obj in NOT_A_BODY:
        hold(obj, AMBIENT, 2.0)
        hold(AMBIENT + 0.4, AMBIENT, 1.0)
    hold(36.6, AMBIENT, 3.0)
    hold(AMBIENT + 0.4, AMBIENT, 2.0)
    return Trace("impossible", 0, PERIOD_S, tuple(samples), ()), dropped


@pytest.mark.slow
@pytest.mark.parametrize("protocol", sorted(protocols.PROTOCOLS))
def test_pty_bytes_impossible_values_counted_never_results(
    protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    trace, dropped = bad_values_trace()
    speed = 2.0
    emu = emulator(protocol, trace, speed=speed, wire_faults=False)
    src = SerialThermometer(emu.start(), protocol, reconnect_min_s=0.05, stale_after_s=5.0)
    got = Emitted()
    try:
        src.start(got)
        wait_for(emu.finished.is_set, timeout=trace.duration_s / speed + 10, what="trace end")
        wait_for(lambda: src.impossible >= dropped, timeout=5, what="every impossible frame")
        time.sleep(0.3)
    finally:
        src.stop()
        emu.stop()
    assert src.impossible == dropped  # each one counted, none lost, none let through
    readings = [r for r in got.snapshot() if isinstance(r, ThermoReading)]
    assert not [r for r in readings if r.object_c in (327.67, -80.0) or r.ambient_c == 150.0]
    # Speed 2: the plateau window in wall-clock time is half the default.
    analyser = ScreeningAnalyser(
        ScreeningConfig(plateau_window_s=0.5), rejected=src.heartbeat.error
    )
    events: list[Event] = []
    for r in readings:
        events += analyser.feed(r)
    events += analyser.tick(readings[-1].at + 10)
    temps = [e for e in events if isinstance(e, TemperatureEvent)]
    assert [(e.result, e.object_c) for e in temps] == [("normal", 36.6)]
    assert analyser.not_a_body == len(NOT_A_BODY)
    assert src.heartbeat.snapshot().errors == dropped + len(NOT_A_BODY)
    impossible_lines = [
        r.getMessage() for r in caplog.records if "impossible reading" in r.getMessage()
    ]
    assert len(impossible_lines) == 1, impossible_lines  # rate-limited: one line a minute


# -- end to end: the agent, its status, the broker ---------------------------------------------------
def _thermometer(sock: Path) -> dict[str, Any]:
    with contextlib.suppress(StatusClientError, OSError):
        return dict(fetch_status(sock)["sources"]["thermometer"])
    return {}


@pytest.mark.slow
@pytest.mark.broker
@pytest.mark.parametrize("protocol", sorted(protocols.PROTOCOLS))
def test_agent_publishes_no_impossible_temperature(
    tmp_path: Path,
    protocol: str,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    trace, dropped = bad_values_trace()
    emu = emulator(protocol, trace, wire_faults=False)
    try:
        raw = base_config(
            tmp_path,
            mosquitto.port,
            thermometer={"enabled": True, "port": emu.start(), "protocol": protocol},
        )
        got = collector_factory(mosquitto.port)
        agent = agent_process(write_config(tmp_path / "config.toml", raw))
        msgs = got.wait_for(
            lambda ms: any(m.topic.endswith("/temperature") for m in ms),
            timeout=trace.duration_s + 20,
        )
        sock = tmp_path / "run" / "status.sock"
        wait_for(
            lambda: _thermometer(sock).get("errors", 0) >= dropped + len(NOT_A_BODY),
            timeout=10,
            what="counters",
        )
        errors = _thermometer(sock)["errors"]
        msgs = got.settle(quiet_s=3.0)
        assert agent.proc.poll() is None, agent.output()
        temps = [validate_message(m) for m in msgs if m.topic.endswith("/temperature")]
        assert [(t["result"], t["object_c"]) for t in temps] == [("normal", 36.6)]
        health = [validate_message(m) for m in msgs if m.topic.endswith("/health")]
        assert dropped <= health[-1]["rejected"] <= errors
        assert errors == dropped + len(NOT_A_BODY)  # every frame dropped, every non-body
        assert "impossible reading" in agent.output()
        assert "not a screening result" in agent.output()
        assert agent.stop() == 0, agent.output()
    finally:
        emu.stop()
