"""Scanner sources: count scan terminators, discard everything else in the driver.

:func:`count_terminators` is the whole of what is done with a serial read: the number of scans it
ends (a CR, an LF, or a CR LF pair counted once), and whether the read ended inside a CRLF pair;
the bytes themselves are dropped with the read buffer. The HID source counts the key-up events of
Enter (``KEY_ENTER``, ``KEY_KPENTER``) and looks at no other key code.
"""

from __future__ import annotations

import logging
import select
from importlib import import_module
from typing import Any

import serial

from agent.flow.clock import agent_now
from agent.flow.coverage import Scanned
from agent.flow.heartbeat import Heartbeat
from agent.flow.ports import Emit
from agent.flow.threaded import ThreadedSource

log = logging.getLogger(__name__)

STALE_AFTER_S = 31_536_000.0
"""A scanner is silent most of the day: it is never "stale" for lack of scans."""
READ_TIMEOUT_S = 0.2


def count_terminators(data: bytes, after_cr: bool = False) -> tuple[int, bool]:
    """Scans ended in ``data``: each CR or LF, a CR LF pair once (``after_cr``: the previous read
    ended with CR). Returns (scans, this read ended with CR). Looks at no other byte."""
    scans = 0
    for b in data:
        if b == 0x0D:
            scans += 1
            after_cr = True
            continue
        if b == 0x0A and not after_cr:
            scans += 1
        after_cr = False
    return scans, after_cr


class SerialScanner(ThreadedSource):
    """A serial scanner: terminators counted per read, the read buffer dropped."""

    def __init__(self, port: str, baudrate: int = 9600, reconnect_s: float = 5.0) -> None:
        super().__init__("scanner", Heartbeat("scanner", STALE_AFTER_S), "scanner-reader")
        self.port = port
        self.baudrate = baudrate
        self.reconnect_s = reconnect_s
        self.scans = 0

    def run(self, emit: Emit) -> None:
        while not self.stopping:
            self.loop.turn()
            try:
                link = serial.serial_for_url(
                    self.port, baudrate=self.baudrate, timeout=READ_TIMEOUT_S
                )
            except (serial.SerialException, OSError, ValueError) as exc:
                self.heartbeat.set_state("disconnected", type(exc).__name__)
                self.went_down()
                if self.wait(self.reconnect_s):
                    return
                continue
            self.heartbeat.set_state("ok")
            self.came_back(f"scanner: {self.port} is back")
            try:
                self._read(link, emit)
            except (serial.SerialException, OSError) as exc:
                self.heartbeat.set_state("disconnected", type(exc).__name__)
                self.went_down()
            finally:
                link.close()

    def _read(self, link: Any, emit: Emit) -> None:
        after_cr = False
        while not self.stopping:
            self.loop.turn()
            n, after_cr = count_terminators(link.read(256), after_cr)  # the bytes end here
            if n:
                self.scans += n
                self.heartbeat.beat()
                emit(Scanned(agent_now(), n))


ENTER_KEYS = frozenset({28, 96})
"""``KEY_ENTER`` and ``KEY_KPENTER`` (linux/input-event-codes.h)."""
KEY_UP = 0
EV_KEY = 1


class HidScanner(ThreadedSource):
    """A USB keyboard-type scanner through evdev: one scan per Enter key-up. The device is grabbed
    (its keys reach nothing else); no other key code is looked at."""

    def __init__(self, path: str, reconnect_s: float = 5.0) -> None:
        super().__init__("scanner", Heartbeat("scanner", STALE_AFTER_S), "scanner-reader")
        self.path = path
        self.reconnect_s = reconnect_s
        self.scans = 0

    def run(self, emit: Emit) -> None:
        try:
            evdev = import_module("evdev")  # optional: only for kind = "hid"
        except ImportError:
            self.heartbeat.set_state("error", "python-evdev is not installed")
            log.error("scanner: kind 'hid' needs python-evdev (pip install evdev)")
            return
        while not self.stopping:
            self.loop.turn()
            try:
                device = evdev.InputDevice(self.path)
                device.grab()
            except OSError as exc:
                self.heartbeat.set_state("disconnected", type(exc).__name__)
                self.went_down()
                if self.wait(self.reconnect_s):
                    return
                continue
            self.heartbeat.set_state("ok")
            self.came_back(f"scanner: {self.path} is back")
            try:
                self._read(device, emit)
            except OSError as exc:
                self.heartbeat.set_state("disconnected", type(exc).__name__)
                self.went_down()
            finally:
                device.close()

    def _read(self, device: Any, emit: Emit) -> None:
        while not self.stopping:
            self.loop.turn()
            ready, _, _ = select.select([device.fd], [], [], READ_TIMEOUT_S)
            if not ready:
                continue
            n = sum(
                1
                for e in device.read()
                if e.type == EV_KEY and e.value == KEY_UP and e.code in ENTER_KEYS
            )
            if n:
                self.scans += n
                self.heartbeat.beat()
                emit(Scanned(agent_now(), n))
