"""The protocol registry: every shipped protocol round-trips through its own encoder and decoder,
config validates names and baud rates against it, and a protocol registered by a test alone (no
shipped file changed) is decoded by the serial source through a real pty and accepted by config."""

from __future__ import annotations

import os
import select
import threading
import time
from pathlib import Path

import pytest

from agent.config import ConfigError, parse_config
from agent.thermometer import build_source, protocols
from agent.thermometer.config import ThermometerConfig
from agent.thermometer.protocols import PROTOCOLS, ThermometerProtocol
from agent.thermometer.reading import ThermoReading
from agent.thermometer.records import WireFault, WireReading, WireRecord
from agent.thermometer.serial_source import SerialThermometer
from firmware_bridge.trace import generate
from tests.conftest import base_config
from tests.thermo_helpers import Collector, wait_for


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_shipped_encoder_and_decoder_agree(name: str) -> None:
    proto = PROTOCOLS[name]
    device = proto.device()
    device.hear(proto.start)
    assert device.streaming
    wire = b"".join(
        frame
        for frame in (device.reading(36.5, 23.0), device.reading(None, 23.0))
        if frame is not None
    )
    readings = [r for r in proto.decoder().feed(wire) if isinstance(r, WireReading)]
    assert readings[0].object_c == 36.5
    assert readings[0].ambient_c == 23.0
    assert all(r.object_c is None for r in readings[1:])  # a failed read never becomes a value
    assert proto.baudrates
    assert 9600 in proto.baudrates


def test_unknown_protocol_names_the_known_ones() -> None:
    with pytest.raises(protocols.UnknownProtocolError, match="known: bridge, gy-mcu90614"):
        protocols.get("modbus")
    with pytest.raises(ValueError, match="modbus"):
        SerialThermometer("loop://", "modbus")


def test_config_checks_baudrate_against_the_protocol(tmp_path: Path) -> None:
    ok = base_config(tmp_path, 1, thermometer={"protocol": "gy-mcu90614", "baudrate": 115200})
    assert parse_config(ok, environ={}).thermometer.baudrate == 115200
    bad = base_config(tmp_path, 1, thermometer={"protocol": "gy-mcu90614", "baudrate": 19200})
    with pytest.raises(ConfigError, match=r"thermometer\.baudrate = 19200: .*9600, 115200"):
        parse_config(bad, environ={})
    unknown = base_config(tmp_path, 1, thermometer={"protocol": "modbus"})
    with pytest.raises(ConfigError, match=r"thermometer\.protocol = 'modbus'"):
        parse_config(unknown, environ={})


# -- a third protocol, registered by this test only ------------------------------------------------
# "TQ" frames: 'T' 'Q' | object cK i16 BE | ambient cK i16 BE | XOR of the 4 value bytes (7 bytes);
# the device streams only after the host sends "GO!".
TQ_START = b"GO!"


def tq_frame(object_c: float, ambient_c: float) -> bytes:
    values = (round(object_c * 100) & 0xFFFF).to_bytes(2, "big") + (
        round(ambient_c * 100) & 0xFFFF
    ).to_bytes(2, "big")
    return b"TQ" + values + bytes([values[0] ^ values[1] ^ values[2] ^ values[3]])


class TqDecoder:
    def __init__(self) -> None:
        self._buf = b""
        self.frames = 0
        self.bad_frames = 0
        self.garbage_bytes = 0

    def feed(self, data: bytes) -> list[WireRecord]:
        self._buf += data
        out: list[WireRecord] = []
        while (i := self._buf.find(b"TQ")) >= 0 and len(self._buf) - i >= 7:
            self.garbage_bytes += i
            f, self._buf = self._buf[i : i + 7], self._buf[i + 7 :]
            if f[2] ^ f[3] ^ f[4] ^ f[5] != f[6]:
                self.bad_frames += 1
                out.append(WireFault("checksum", "bad TQ frame"))
                continue
            self.frames += 1
            obj = int.from_bytes(f[2:4], "big", signed=True) / 100
            amb = int.from_bytes(f[4:6], "big", signed=True) / 100
            out.append(WireReading(object_c=obj, ambient_c=amb))
        return out


class TqDevice:
    numbered = False

    def __init__(self) -> None:
        self.streaming = False

    def reading(self, object_c: float | None, ambient_c: float) -> bytes | None:
        return None if object_c is None else tq_frame(object_c, ambient_c)

    def hello(self, period_ms: int) -> None:
        return None

    def hear(self, data: bytes) -> int:
        self.streaming = self.streaming or TQ_START in data
        return 0


TQ = ThermometerProtocol(
    summary="a test-only protocol",
    decoder=TqDecoder,
    baudrates=(57600,),
    device=TqDevice,
    start=TQ_START,
    keepalive_after_s=1.0,
)


@pytest.fixture
def tq_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register TQ for one test (monkeypatch removes it again): the registry line, nothing else."""
    monkeypatch.setitem(PROTOCOLS, "tq", TQ)


class TqModule:
    """A pty that speaks TQ: silent until it hears the start bytes, then 36.50/23.00 at 20 Hz."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.port = os.ttyname(self.slave)
        self.heard = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                self.heard += os.read(self.master, 64)
            if TQ_START in self.heard:
                os.write(self.master, b"\x00junk" + tq_frame(36.5, 23.0))
                time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master)
        os.close(self.slave)


def test_registered_protocol_is_accepted_by_config(tmp_path: Path, tq_registered: None) -> None:
    raw = base_config(tmp_path, 1, thermometer={"protocol": "tq", "baudrate": 57600})
    assert parse_config(raw, environ={}).thermometer.protocol == "tq"
    wrong = base_config(tmp_path, 1, thermometer={"protocol": "tq", "baudrate": 9600})
    with pytest.raises(ConfigError, match=r"thermometer\.baudrate = 9600: .*57600"):
        parse_config(wrong, environ={})


def test_registered_protocol_decoded_by_serial_source_through_a_pty(tq_registered: None) -> None:
    module = TqModule()
    src = SerialThermometer(module.port, "tq", baudrate=57600, stale_after_s=5.0)
    got = Collector()
    try:
        src.start(got)
        wait_for(lambda: len(got.snapshot()) >= 3, what="three TQ readings")
    finally:
        src.stop()
        module.close()
    readings = [r for r in got.snapshot() if isinstance(r, ThermoReading)]
    assert TQ_START in module.heard  # the registry's start bytes were sent on open
    assert {(r.object_c, r.ambient_c) for r in readings} == {(36.5, 23.0)}
    assert src.heartbeat.snapshot().state == "ok"


def test_registered_protocol_plays_in_the_simulated_port(tq_registered: None) -> None:
    cfg = ThermometerConfig(port="simulated", protocol="tq", baudrate=57600, stale_after_s=5.0)
    src = build_source(cfg)
    got = Collector()
    try:
        src.start(got)
        wait_for(lambda: len(got.snapshot()) >= 5, what="five simulated TQ readings")
    finally:
        src.stop()
    trace = generate(cfg.simulated_scenario, 0)
    truth = {(round(s.object_c, 2), round(s.ambient_c, 2)) for s in trace.samples if s.object_c}
    readings = [r for r in got.snapshot() if isinstance(r, ThermoReading)]
    assert len(readings) >= 5
    assert all((round(r.object_c, 2), round(r.ambient_c, 2)) in truth for r in readings)
