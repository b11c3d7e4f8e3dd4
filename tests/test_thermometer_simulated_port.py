"""Tests of agent.thermometer.simulated_port: ``thermometer.port = "simulated"``.

:func:`emulator` takes the device encoder from the protocol registry (an unknown name fails with the
known ones) and passes speed, loop and wire faults through; :class:`SimulatedPort` plays its
scenario's trace on a real pty that the agent's own :func:`open_port` and :class:`Link` read: the
bridge streams the trace's samples in order unasked, the GY-MCU90614 module stays silent until the
link's start bytes, a looped trace keeps playing, and stopping makes the port fail as an unplugged
device does. tests/test_firmware_emulator.py covers the emulator's command handling and CLI.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import get_args

import pytest
import serial

from agent.thermometer import protocols
from agent.thermometer.config import ThermometerConfig
from agent.thermometer.link import Link, open_port
from agent.thermometer.protocols.bridge import BridgeDevice
from agent.thermometer.protocols.gy_mcu90614 import GyModule
from agent.thermometer.records import WireReading
from agent.thermometer.simulated_port import SimulatedPort, emulator
from firmware_bridge.trace import SCENARIOS, generate


def readings(link: Link, n: int, seconds: float) -> list[WireReading]:
    out: list[WireReading] = []
    deadline = time.monotonic() + seconds
    while len(out) < n and time.monotonic() < deadline:
        out.extend(r for r in link.poll() if isinstance(r, WireReading))
    return out


def lost(link: Link) -> BaseException | None:
    """What the link raises once the device is gone (bytes already buffered may come first)."""
    for _ in range(20):
        try:
            link.poll()
        except (serial.SerialException, OSError) as exc:
            return exc
    return None


@pytest.fixture
def simulated() -> Iterator[list[SimulatedPort]]:
    started: list[SimulatedPort] = []
    yield started
    for p in started:
        p.stop()


def test_the_encoder_comes_from_the_registry_with_the_options_passed_through() -> None:
    trace = generate("normal", 2)
    bridge = emulator("bridge", trace, speed=3.0, loop=True, wire_faults=False)
    assert isinstance(bridge.device, BridgeDevice)
    assert (bridge.trace, bridge.speed, bridge.loop, bridge.wire_faults) == (
        trace,
        3.0,
        True,
        False,
    )
    gy = emulator("gy-mcu90614", trace)
    assert isinstance(gy.device, GyModule)
    assert (gy.speed, gy.loop, gy.wire_faults) == (1.0, False, True)
    assert emulator("bridge", trace).device is not bridge.device  # a fresh device per emulator


def test_an_unknown_protocol_names_the_known_ones() -> None:
    with pytest.raises(protocols.UnknownProtocolError, match="known: bridge, gy-mcu90614"):
        emulator("mlx-usb", generate("idle", 0))
    with pytest.raises(protocols.UnknownProtocolError):
        SimulatedPort("mlx-usb")


def test_the_port_plays_the_scenario_seeded_and_looped() -> None:
    port = SimulatedPort("bridge", scenario="fever", seed=7)
    assert port.emulator.trace == generate("fever", 7)
    assert port.emulator.loop is True
    assert SimulatedPort("bridge").emulator.trace == generate("queue", 0)
    with pytest.raises(ValueError, match="unknown scenario"):
        SimulatedPort("bridge", scenario="riot")


def test_the_bridge_streams_the_trace_in_order_to_the_agents_link(
    simulated: list[SimulatedPort],
) -> None:
    port = SimulatedPort("bridge", scenario="normal", seed=4)
    simulated.append(port)
    path = port.start()
    assert path.startswith("/dev/pts/")
    ser = open_port(path, 115200)
    try:
        got = readings(Link(ser, protocols.get("bridge")), 8, seconds=5.0)
    finally:
        ser.close()
    assert len(got) >= 8
    played: list[tuple[float | None, float | None]] = [
        (s.object_c, s.ambient_c) for s in port.emulator.trace.samples
    ]
    # the trace's samples in order; a frame lost or corrupted on the wire (the emulator's faults)
    # or a hello between them leaves a gap in ``seq`` at least as wide as the samples skipped
    at = played.index((got[0].object_c, got[0].ambient_c))
    for before, after in itertools.pairwise(got):
        assert before.seq is not None
        assert after.seq is not None
        nxt = played.index((after.object_c, after.ambient_c), at + 1)
        assert 1 <= nxt - at <= after.seq - before.seq
        at = nxt


def test_the_gy_module_is_silent_until_the_link_starts_it(
    simulated: list[SimulatedPort],
) -> None:
    port = SimulatedPort("gy-mcu90614", scenario="idle", seed=1)
    simulated.append(port)
    ser = open_port(port.start(), 9600)
    try:
        time.sleep(0.5)
        assert ser.in_waiting == 0  # the module waits for START_CONTINUOUS
        link = Link(ser, protocols.get("gy-mcu90614"))
        got = readings(link, 5, seconds=5.0)
    finally:
        ser.close()
    assert len(got) == 5
    samples = {(s.object_c, s.ambient_c) for s in port.emulator.trace.samples}
    assert all((r.object_c, r.ambient_c) in samples for r in got)


def test_a_looped_trace_keeps_playing_past_its_end() -> None:
    trace = generate("normal", 1)
    once = emulator("bridge", trace, speed=50.0, wire_faults=False)
    looped = emulator("bridge", trace, speed=50.0, loop=True, wire_faults=False)
    once.start()
    looped.start()
    try:
        assert once.finished.wait(10)
        time.sleep(trace.duration_s / 50.0)
        assert once.frames_sent == len(trace.samples)
        assert looped.frames_sent > len(trace.samples)
        assert not looped.finished.is_set()
    finally:
        once.stop()
        looped.stop()


def test_stopping_the_port_is_an_unplugged_device() -> None:
    port = SimulatedPort("bridge", scenario="idle")
    ser = open_port(port.start(), 115200)
    try:
        link = Link(ser, protocols.get("bridge"))
        assert readings(link, 1, seconds=5.0)
        port.stop()
        assert isinstance(lost(link), serial.SerialException | OSError)
    finally:
        ser.close()


def test_the_config_offers_exactly_the_emulator_scenarios() -> None:
    """``thermometer.simulated_scenario``'s choices are firmware_bridge.trace's scenarios, no more,
    no fewer (the config's Literal is written out for mypy; this keeps the two one list)."""
    annotation = ThermometerConfig.model_fields["simulated_scenario"].annotation
    assert get_args(annotation) == SCENARIOS
