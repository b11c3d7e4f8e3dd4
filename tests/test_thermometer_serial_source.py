"""The serial source with real bytes through a pty: both protocols, end to end to screening
results, pyserial URLs, a port missing at start, unplugged and plugged back."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.flow.events import Event, TemperatureEvent
from agent.thermometer.config import ScreeningConfig
from agent.thermometer.reading import ThermoReading
from agent.thermometer.screening import ScreeningAnalyser
from agent.thermometer.serial_source import SerialThermometer
from agent.thermometer.simulated_port import emulator
from firmware_bridge.trace import generate
from tests.thermo_helpers import Collector, wait_for

SPEED = 2.0


def _source(port: str, protocol: str) -> SerialThermometer:
    return SerialThermometer(
        port, protocol, reconnect_min_s=0.05, reconnect_max_s=0.4, stale_after_s=5.0
    )


@pytest.mark.parametrize("protocol", ["bridge", "gy-mcu90614"])
def test_pty_end_to_end_to_screening_result(protocol: str) -> None:
    trace = generate("fever", seed=5)
    emu = emulator(protocol, trace, speed=SPEED)
    path = emu.start()
    src = _source(path, protocol)
    got = Collector()
    try:
        src.start(got)
        wait_for(emu.finished.is_set, timeout=trace.duration_s / SPEED + 10, what="trace end")
        wait_for(lambda: src.heartbeat.snapshot().state == "ok", what="heartbeat ok")
    finally:
        src.stop()
        emu.stop()
    readings = [r for r in got.snapshot() if isinstance(r, ThermoReading)]
    valid = sum(s.object_c is not None for s in trace.samples)
    # The emulator injects wire faults (~1 % corrupted, ~0.5 % lost); everything else arrives.
    assert 0.9 * valid <= len(readings) <= valid
    # Speed 2: the plateau window in wall-clock time is half the default.
    analyser = ScreeningAnalyser(ScreeningConfig(plateau_window_s=0.5))
    events: list[Event] = []
    for r in readings:
        events += analyser.feed(r)
    events += analyser.tick(readings[-1].at + 10)
    temps = [e for e in events if isinstance(e, TemperatureEvent)]
    assert len(temps) == 1
    assert temps[0].result == "fever"
    assert temps[0].object_c == pytest.approx(trace.presentations[0].plateau_c, abs=0.1)
    if protocol == "bridge":
        assert src.firmware == "1.0.0"


def test_spy_url_works(tmp_path: Path) -> None:
    emu = emulator("bridge", generate("idle", 1), wire_faults=False)
    path = emu.start()
    src = _source(f"spy://{path}?file={tmp_path / 'spy.txt'}", "bridge")
    got = Collector()
    try:
        src.start(got)
        wait_for(lambda: len(got.snapshot()) >= 5, what="5 readings via spy://")
    finally:
        src.stop()
        emu.stop()
    assert "RX" in (tmp_path / "spy.txt").read_text()


def test_gy_needs_start_command_and_source_sends_it() -> None:
    emu = emulator("gy-mcu90614", generate("idle", 2), wire_faults=False)
    path = emu.start()
    src = _source(path, "gy-mcu90614")
    got = Collector()
    try:
        src.start(got)
        wait_for(lambda: len(got.snapshot()) >= 5, what="GY readings after A5 45 EA")
    finally:
        src.stop()
        emu.stop()
    r = got.snapshot()[0]
    assert isinstance(r, ThermoReading)
    assert r.seq is None
    assert 20.0 < r.ambient_c < 27.0


def test_missing_port_then_plugged_in(tmp_path: Path) -> None:
    link = tmp_path / "triage-thermometer"
    src = _source(str(link), "bridge")
    got = Collector()
    emu = emulator("bridge", generate("idle", 3), loop=True, wire_faults=False)
    try:
        src.start(got)
        wait_for(lambda: src.heartbeat.snapshot().state == "disconnected", what="disconnected")
        assert src.heartbeat.last_error is not None
        assert str(link) in src.heartbeat.last_error
        link.symlink_to(emu.start())
        wait_for(lambda: len(got.snapshot()) >= 3, what="readings after plug-in")
        assert src.heartbeat.snapshot().state == "ok"
    finally:
        src.stop()
        emu.stop()


def test_unplug_and_replug_reconnects(tmp_path: Path) -> None:
    link = tmp_path / "triage-thermometer"
    first = emulator("bridge", generate("idle", 4), loop=True, wire_faults=False)
    link.symlink_to(first.start())
    src = _source(str(link), "bridge")
    got = Collector()
    second = emulator("bridge", generate("idle", 5), loop=True, wire_faults=False)
    try:
        src.start(got)
        wait_for(lambda: len(got.snapshot()) >= 3, what="readings from the first device")
        first.stop()  # unplugged: the pty vanishes under the open port
        link.unlink()
        wait_for(lambda: src.heartbeat.snapshot().state == "disconnected", what="disconnected")
        down = src.heartbeat.snapshot()
        n_before = len(got.snapshot())
        link.symlink_to(second.start())  # plugged back (a new pty, like a new ttyACM)
        wait_for(lambda: len(got.snapshot()) >= n_before + 3, what="readings after replug")
        up = src.heartbeat.snapshot()
        assert up.state == "ok"
        assert up.since >= down.since
        assert src.opens >= 2
    finally:
        src.stop()
        second.stop()


def test_garbage_only_port_never_crashes(tmp_path: Path) -> None:
    src = _source("loop://", "gy-mcu90614")  # loop:// echoes the start command back: garbage
    got = Collector()
    try:
        src.start(got)
        wait_for(lambda: src.opens == 1, what="loop:// open")
        assert src.heartbeat.snapshot().state == "stale"
    finally:
        src.stop()
    assert got.snapshot() == []


def test_simulated_port_streams_through_the_same_source() -> None:
    from agent.config import parse_config
    from agent.thermometer import build_source

    src = build_source(
        parse_config({"thermometer": {"port": "simulated", "protocol": "gy-mcu90614"}}).thermometer
    )
    got = Collector()
    try:
        src.start(got)
        assert src.port.startswith("/dev/pts/")
        wait_for(lambda: len(got.snapshot()) >= 5, what="readings from the simulated port")
    finally:
        src.stop()


def test_bad_frames_are_counted_all_and_logged_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Real bytes through a pty: 0x7FFF frames and bad checksums, hundreds of them."""
    import logging
    import os
    import time

    from agent.thermometer.protocols.gy_mcu90614 import gy_frame

    no_reading = bytearray(gy_frame(36.5, 23.0))
    no_reading[4:6] = b"\x7f\xff"
    no_reading[8] = sum(no_reading[:8]) & 0xFF
    bad_sum = bytearray(gy_frame(36.5, 23.0))
    bad_sum[8] ^= 0xFF
    master, slave = os.openpty()
    src = _source(os.ttyname(slave), "gy-mcu90614")
    got = Collector()
    caplog.set_level(logging.INFO, logger="agent.thermometer.serial_source")
    try:
        src.start(got)
        wait_for(lambda: src.opens == 1, what="pty open")
        for _ in range(150):
            os.write(master, bytes(no_reading) + bytes(bad_sum) + gy_frame(36.6, 23.0))
            time.sleep(0.002)
        wait_for(lambda: src.bad_frames >= 300, what="every bad frame counted")
    finally:
        src.stop()
        os.close(master)
        os.close(slave)
    readings = [r for r in got.snapshot() if isinstance(r, ThermoReading)]
    assert readings, "the good frames between the bad ones still arrive"
    assert all(r.object_c == 36.6 for r in readings), "0x7FFF never becomes 327.67 °C"
    lines = [r for r in caplog.records if "bad frame" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert src.heartbeat.snapshot().errors >= 300
