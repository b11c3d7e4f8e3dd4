"""The registration scanner (agent/scanner): scans counted, never read or stored. A fake serial
scanner through a pty (real bytes), a virtual USB keyboard through uinput (HID), the counts
reaching the ``coverage`` event; nothing of what was scanned in an observation, an event or a log."""

from __future__ import annotations

import logging
import os
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config import parse_config
from agent.flow.clock import agent_now
from agent.flow.coverage import CoverageAnalyser, Scanned
from agent.flow.engine import Engine
from agent.flow.events import CoverageEvent, Event
from agent.scanner import build
from agent.scanner.source import HidScanner, SerialScanner, count_terminators
from agent.wire.contract import Identity, encode

SECRET = b"PATIENT-ID-4711-0042"
"""What a registration card might hold: it must never leave the driver."""


@pytest.mark.parametrize(
    ("chunks", "scans"),
    [
        ([b"ABC\r\n"], 1),
        ([b"ABC\r", b"\nDEF\r\n"], 2),  # a CR LF pair split across two reads
        ([b"A\rB\rC\r"], 3),
        ([b"A\nB\n"], 2),
        ([b"no terminator yet"], 0),
        ([b"\r\n\r\n"], 2),
    ],
)
def test_terminators_are_counted(chunks: list[bytes], scans: int) -> None:
    total, after_cr = 0, False
    for chunk in chunks:
        n, after_cr = count_terminators(chunk, after_cr)
        total += n
    assert total == scans


def test_absent_by_default_and_declared_once() -> None:
    cfg = parse_config({})
    assert cfg.scanner.enabled is False
    assert build(cfg.scanner) == []
    on = parse_config({"scanner": {"enabled": True, "port": "/dev/ttyUSB7"}})
    [source] = build(on.scanner)
    assert isinstance(source, SerialScanner)
    hid = parse_config({"scanner": {"enabled": True, "kind": "hid", "port": "/dev/input/event3"}})
    assert isinstance(build(hid.scanner)[0], HidScanner)


@pytest.fixture
def pty_scanner() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    tty.setraw(slave)
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def wait_for(observed: list[object], n: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while sum(o.count for o in observed if isinstance(o, Scanned)) < n:
        assert time.monotonic() < deadline, observed
        time.sleep(0.02)


def test_a_serial_scanner_through_a_pty_is_counted_never_read(
    pty_scanner: tuple[int, str], caplog: pytest.LogCaptureFixture
) -> None:
    master, path = pty_scanner
    caplog.set_level(logging.DEBUG)
    observed: list[object] = []
    scanner = SerialScanner(path, reconnect_s=0.2)
    scanner.start(observed.append)
    try:
        time.sleep(0.3)
        os.write(master, SECRET + b"\r\n")
        os.write(master, SECRET + b"-2\r")
        os.write(master, b"\n" + SECRET[:7])  # the end of the second, the start of a third
        wait_for(observed, 2)
        os.write(master, SECRET[7:] + b"\r\n")
        wait_for(observed, 3)
    finally:
        scanner.stop()
    assert all(type(o) is Scanned for o in observed)
    assert sum(o.count for o in observed if isinstance(o, Scanned)) == scanner.scans == 3
    assert scanner.heartbeat.snapshot().state == "ok"
    text = caplog.text.encode() + repr(observed).encode() + repr(vars(scanner)).encode()
    assert b"4711" not in text
    assert b"PATIENT" not in text


def test_scans_reach_the_coverage_event_and_the_wire_without_content(
    pty_scanner: tuple[int, str],
) -> None:
    master, path = pty_scanner
    sunk: list[Event] = []
    coverage = CoverageAnalyser(
        period_s=1.0,
        match_s=120.0,
        before_s=30.0,
        skipped_after=3,
        skipped_within_s=600.0,
        screening=False,
        scanner=True,
    )
    engine = Engine([coverage], sunk.append)
    scanner = SerialScanner(path, reconnect_s=0.2)
    scanner.start(engine.offer)
    try:
        time.sleep(0.3)
        for k in range(5):
            os.write(master, SECRET + str(k).encode() + b"\r\n")
        deadline = time.monotonic() + 10
        while sum(e.scans or 0 for e in sunk if isinstance(e, CoverageEvent)) < 5:
            assert time.monotonic() < deadline, sunk
            engine.step(0.1)
            engine.tick(agent_now())  # agent time, as in the service
    finally:
        scanner.stop()
    events = [e for e in sunk if isinstance(e, CoverageEvent)]
    assert sum(e.scans or 0 for e in events) == 5
    assert all(e.arrivals_screened is None for e in events)  # no camera, no thermometer here
    payload = encode(events[0], Identity("triage/v1", "s", "d", "s-d"), 1).payload
    assert b"PATIENT" not in payload
    assert b'"scans":' in payload


UINPUT = Path("/dev/uinput")


@pytest.mark.skipif(
    not UINPUT.exists() or not os.access(UINPUT, os.W_OK),
    reason="no writable /dev/uinput: this kernel has no uinput module (CONFIG_INPUT_UINPUT) "
    "loaded or the device is not accessible, so no virtual USB keyboard can be made",
)
def test_a_usb_hid_scanner_through_uinput_counts_enter_key_ups() -> None:
    evdev = pytest.importorskip("evdev")
    ecodes = evdev.ecodes
    keys = [ecodes.KEY_1, ecodes.KEY_2, ecodes.KEY_A, ecodes.KEY_ENTER, ecodes.KEY_KPENTER]
    fake = evdev.UInput({ecodes.EV_KEY: keys}, name="fake registration scanner")
    observed: list[object] = []
    try:
        time.sleep(0.5)  # udev creates the event node
        scanner = HidScanner(fake.device.path, reconnect_s=0.2)
        scanner.start(observed.append)
        time.sleep(0.5)
        for enter in (ecodes.KEY_ENTER, ecodes.KEY_KPENTER, ecodes.KEY_ENTER):
            for key in (ecodes.KEY_1, ecodes.KEY_2, ecodes.KEY_A, enter):
                fake.write(ecodes.EV_KEY, key, 1)
                fake.write(ecodes.EV_KEY, key, 0)
                fake.syn()
        wait_for(observed, 3)
        scanner.stop()
    finally:
        fake.close()
    assert scanner.scans == 3
    assert all(type(o) is Scanned for o in observed)
