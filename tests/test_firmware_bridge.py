"""Firmware main-loop logic on the host: fake sensor in, frames out, decoded by the agent."""

from __future__ import annotations

from agent.thermometer.protocols.bridge import BridgeDecoder
from agent.thermometer.records import WireHello, WireReading
from firmware_bridge import framing
from firmware_bridge.bridge import FIRMWARE_VERSION, Bridge
from firmware_bridge.mlx90614 import MLX90614
from tests.fake_mlx90614 import FakeMLX90614Bus


def _run(bus: FakeMLX90614Bus, steps: int, period_ms: int = 100) -> list[object]:
    out = bytearray()
    bridge = Bridge(MLX90614(bus, retries=0), out.extend, sensor_id=2, period_ms=period_ms)
    for k in range(steps):
        bridge.step(k * period_ms)
    return list(BridgeDecoder().feed(bytes(out)))


def test_hello_then_readings_with_sequence() -> None:
    records = _run(FakeMLX90614Bus(ambient_cc=2301, object_cc=3651), steps=3)
    assert isinstance(records[0], WireHello)
    assert records[0].firmware == ".".join(map(str, FIRMWARE_VERSION))
    assert records[0].period_ms == 100
    readings = [r for r in records if isinstance(r, WireReading)]
    assert [r.seq for r in readings] == [1, 2, 3]
    assert readings[0].flags == framing.FLAG_RESTARTED
    assert all(r.sensor_id == 2 for r in readings)
    assert readings[1].object_c == 36.51
    assert readings[1].ambient_c == 23.01


def test_hello_repeats() -> None:
    records = _run(FakeMLX90614Bus(), steps=250)  # 25 s at 100 ms
    assert sum(isinstance(r, WireHello) for r in records) == 3


def test_sensor_fault_sets_flags_and_keeps_streaming() -> None:
    bus = FakeMLX90614Bus()
    bus.faults = ["", "", "nack"]  # step 1: both ok; step 2: object read NACKed
    records = [r for r in _run(bus, steps=3) if isinstance(r, WireReading)]
    assert records[1].object_c is None
    assert records[1].flags & framing.FLAG_OBJECT_INVALID
    assert records[1].flags & framing.FLAG_BUS_ERROR
    assert records[2].object_c == 36.51
