"""Tests of agent.thermometer.link: opening a port and reading one registered protocol through it.

The port is a real pseudo-terminal opened by path, as ``/dev/ttyACM0`` would be; the test holds the
master side and plays the device with the protocol's own emulator encoder (the real wire bytes).
Covered: :func:`open_port` (timeouts, a pyserial URL, a missing device, an unknown URL scheme); a
:class:`Link` sends the protocol's start bytes on open (GY-MCU90614) or nothing (the bridge),
drops bytes that arrived before it, decodes frames split across reads and amid garbage, counts the
bytes, re-sends the start bytes only after ``keepalive_after_s`` without a reading (and not again
sooner), never for a protocol without keep-alive, and raises when the device vanishes.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from agent.thermometer import protocols
from agent.thermometer.link import READ_TIMEOUT_S, WRITE_TIMEOUT_S, Link, open_port
from agent.thermometer.protocols.bridge import BridgeDevice
from agent.thermometer.protocols.gy_mcu90614 import START_CONTINUOUS, GyModule
from agent.thermometer.records import WireHello, WireReading

GY = protocols.get("gy-mcu90614")
BRIDGE = protocols.get("bridge")


class Device:
    """The device end of a pty: what the host sent, and bytes to send it."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        self.path = os.ttyname(self._slave)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def heard(self, seconds: float = 0.3) -> bytes:
        out = b""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                out += os.read(self.master, 1024)
        return out

    def vanish(self) -> None:
        os.close(self.master)
        self.master = -1

    def close(self) -> None:
        for fd in (self.master, self._slave):
            if fd >= 0:
                os.close(fd)


@pytest.fixture
def device() -> Iterator[Device]:
    d = Device()
    yield d
    d.close()


@pytest.fixture
def port(device: Device) -> Iterator[serial.Serial]:
    ser = open_port(device.path, 9600)
    yield ser
    ser.close()


def poll_until(link: Link, n: int, seconds: float = 3.0) -> list[object]:
    records: list[object] = []
    deadline = time.monotonic() + seconds
    while len(records) < n and time.monotonic() < deadline:
        records.extend(link.poll())
    return records


def test_open_port_opens_a_device_path_with_the_read_and_write_timeouts(device: Device) -> None:
    ser = open_port(device.path, 115200)
    try:
        assert ser.is_open
        assert (ser.port, ser.baudrate) == (device.path, 115200)
        assert (ser.timeout, ser.write_timeout) == (READ_TIMEOUT_S, WRITE_TIMEOUT_S)
    finally:
        ser.close()


def test_open_port_takes_a_pyserial_url() -> None:
    ser = open_port("loop://", 9600)
    try:
        ser.write(b"echo")
        assert ser.read(4) == b"echo"
    finally:
        ser.close()


def test_open_port_raises_for_a_missing_device_or_an_unknown_url(
    tmp_path: Path,
) -> None:
    with pytest.raises(serial.SerialException, match="could not open port"):
        open_port(f"{tmp_path}/ttyACM9", 9600)
    with pytest.raises(ValueError, match="protocol 'nope' not known"):
        open_port("nope://x", 9600)


def test_gy_link_sends_its_start_bytes_on_open_and_decodes_the_stream(
    device: Device, port: serial.Serial
) -> None:
    module = GyModule()
    link = Link(port, GY)
    assert device.heard() == START_CONTINUOUS
    assert module.hear(START_CONTINUOUS) == 0
    assert module.streaming  # the real module would stream now
    frames = [module.reading(t, 24.5) for t in (36.52, 36.54, 37.9)]
    device.send(b"".join(f for f in frames if f is not None))
    records = poll_until(link, 3)
    assert [(r.object_c, r.ambient_c) for r in records if isinstance(r, WireReading)] == [
        (36.52, 24.5),
        (36.54, 24.5),
        (37.9, 24.5),
    ]
    assert link.bytes_received == sum(len(f) for f in frames if f is not None)
    assert link.decoder.frames == 3


def test_bridge_link_sends_nothing_and_decodes_hello_and_readings(
    device: Device, port: serial.Serial
) -> None:
    bridge = BridgeDevice()
    link = Link(port, BRIDGE)
    assert device.heard() == b""
    hello, reading = bridge.hello(100), bridge.reading(36.6, 23.0)
    assert hello is not None
    assert reading is not None
    device.send(b"\x00\xff\x13" + hello + reading)  # garbage first, as after a reset
    records = poll_until(link, 2)
    assert isinstance(records[0], WireHello)
    assert records[0].period_ms == 100
    assert isinstance(records[1], WireReading)
    assert (records[1].object_c, records[1].ambient_c) == (36.6, 23.0)
    assert link.decoder.garbage_bytes == 3
    assert link.bytes_received == 3 + len(hello) + len(reading)


def test_bytes_that_arrived_before_the_link_are_dropped(
    device: Device, port: serial.Serial
) -> None:
    bridge = BridgeDevice()
    stale = bridge.reading(30.0, 20.0)
    fresh = bridge.reading(36.6, 23.0)
    assert stale is not None
    assert fresh is not None
    device.send(stale)
    time.sleep(0.1)
    link = Link(port, BRIDGE)
    device.send(fresh)
    records = poll_until(link, 1)
    assert [r.object_c for r in records if isinstance(r, WireReading)] == [36.6]
    assert link.bytes_received == len(fresh)


def test_a_frame_split_across_reads_is_decoded_once_whole(
    device: Device, port: serial.Serial
) -> None:
    frame = GyModule().reading(36.8, 25.0)
    assert frame is not None
    link = Link(port, GY)
    device.send(frame[:4])
    assert poll_until(link, 1, seconds=0.5) == []
    assert link.bytes_received == 4
    device.send(frame[4:])
    [record] = poll_until(link, 1)
    assert isinstance(record, WireReading)
    assert record.object_c == 36.8


def test_poll_waits_the_read_timeout_when_the_device_is_silent(
    device: Device, port: serial.Serial
) -> None:
    link = Link(port, BRIDGE)
    started = time.monotonic()
    assert link.poll() == []
    assert READ_TIMEOUT_S * 0.8 <= time.monotonic() - started < READ_TIMEOUT_S + 1.0
    assert link.bytes_received == 0


def test_gy_keepalive_after_silence_and_not_again_sooner(
    device: Device, port: serial.Serial
) -> None:
    assert GY.keepalive_after_s == 2.0
    now = [100.0]
    link = Link(port, GY, clock=lambda: now[0])
    assert device.heard() == START_CONTINUOUS
    sent = []
    for at in (101.0, 102.0, 102.5, 103.0, 104.4):
        now[0] = at
        link.poll()
        sent.append(device.heard(0.05))
    # 102.0 is not *more* than 2 s after the open; 102.5 is; 103.0 and 104.4 are within 2 s of it
    assert sent == [b"", b"", START_CONTINUOUS, b"", b""]
    frame = GyModule().reading(36.6, 24.0)
    assert frame is not None
    device.send(frame)
    now[0] = 104.6  # a reading arrives: its time is the last frame's
    assert len(poll_until(link, 1)) == 1
    assert device.heard(0.05) == START_CONTINUOUS  # silence since 102.5 was checked first
    for at, expect in ((105.0, b""), (106.6, b""), (106.7, START_CONTINUOUS)):
        now[0] = at
        link.poll()
        assert device.heard(0.05) == expect, at


def test_no_keepalive_for_a_protocol_without_one(device: Device, port: serial.Serial) -> None:
    assert BRIDGE.keepalive_after_s is None
    now = [0.0]
    link = Link(port, BRIDGE, clock=lambda: now[0])
    for at in (10.0, 1000.0, 100_000.0):
        now[0] = at
        link.poll()
    assert device.heard(0.1) == b""


def test_a_vanished_device_raises(device: Device, port: serial.Serial) -> None:
    link = Link(port, BRIDGE)
    device.vanish()
    with pytest.raises((serial.SerialException, OSError)):
        link.poll()  # the pty reports EIO at once: the port is lost, not silent
