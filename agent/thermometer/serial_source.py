"""The thermometer source: a thread that owns the serial port, decodes frames and emits readings.

The port is opened with :func:`serial.serial_for_url` (:func:`.link.open_port`), so device paths,
ptys, ``loop://`` and ``spy://`` URLs all work. A port missing at start, unplugged while running
or failing in any way is closed and reopened with exponential backoff (``reconnect_min_s`` doubling
up to ``reconnect_max_s``, 5 s by default) and one line is logged when readings flow again. Reads
and writes time out (:mod:`.link`), so the loop turns several times a second whatever the device
does (a device that accepts no bytes is treated as lost); the heartbeat shows ``disconnected`` and
since when, ``stale`` while the port is
open but no valid frame has arrived, ``ok`` once readings flow. Readings the device itself flags
invalid and frames dropped by the decoder (bad checksum; 'no reading' codes and values outside the
sensor's range, :mod:`.plausibility`) count as heartbeat errors, never reach the pipeline.
The protocol comes from the registry (:mod:`.protocols`): its decoder, and its start bytes sent on
every open and repeated while the device stays silent (the GY-MCU90614 forgets its start command on
a power cycle), all through a :class:`.link.Link`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

import serial

from agent.flow.clock import agent_now
from agent.flow.heartbeat import Heartbeat
from agent.flow.ports import Emit
from agent.flow.threaded import Backoff, ThreadedSource
from agent.thermometer import protocols
from agent.thermometer.link import Link, open_port
from agent.thermometer.reading import ThermoReading
from agent.thermometer.records import WireFault, WireHello, WireReading

log = logging.getLogger(__name__)

BAD_FRAME_LOG_EVERY_S = 60.0
"""Bad frames are all counted (health ``rejected``), but logged at most once a minute: bad frames
(checksum, version, type) and impossible readings (:mod:`.plausibility`) each have their own line."""


class PortProvider(Protocol):
    """Something that makes the port exist (the built-in emulator for ``port = 'simulated'``)."""

    def start(self) -> str:
        """Bring the device up; return the port path to open."""

    def stop(self) -> None:
        """Tear the device down."""


class SerialThermometer(ThreadedSource):
    """A :class:`agent.flow.ports.Source` for an IR thermometer on a serial line."""

    def __init__(
        self,
        port: str,
        protocol: str,
        baudrate: int = 9600,
        reconnect_min_s: float = 1.0,
        reconnect_max_s: float = 5.0,
        stale_after_s: float = 10.0,
        name: str = "thermometer",
        provider: PortProvider | None = None,
        clock: Callable[[], float] = agent_now,
    ) -> None:
        self._protocol = protocols.get(protocol)  # fails early on an unknown name
        super().__init__(name, Heartbeat(name, stale_after_s), f"source-{name}")
        self.port = port
        self.protocol = protocol
        self.baudrate = baudrate
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.provider = provider
        self._clock = clock
        self._serial: serial.Serial | None = None
        self.firmware: str | None = None
        """Firmware version from the bridge HELLO, once seen."""
        self.opens = 0
        self.lost_frames = 0
        self.bad_frames = 0
        """Frames dropped by the decoder: bad checksum, version, type, and :attr:`impossible`."""
        self.impossible = 0
        """Of those, frames whose value is no reading (0x7FFF) or outside the sensor's range."""
        self._logged: dict[bool, float] = {
            False: -BAD_FRAME_LOG_EVERY_S,
            True: -BAD_FRAME_LOG_EVERY_S,
        }
        self._since_log: dict[bool, int] = {False: 0, True: 0}
        self.device_errors = 0

    def start(self, emit: Emit | None = None) -> None:
        """Bring up the provided device (if any) and start the reader thread; returns at once."""
        if self.provider is not None and self._thread is None:
            self.port = self.provider.start()
        super().start(emit)

    def stop(self) -> None:
        """Stop reading, close the port; returns once the thread has ended (bounded wait)."""
        super().stop()
        if self.provider is not None:
            self.provider.stop()

    def run(self, emit: Emit) -> None:
        """Open the port, read until it fails, reopen with backoff; until stopped."""
        backoff = Backoff(self.reconnect_min_s, self.reconnect_max_s)
        warned = False
        while not self.stopping:
            self.loop.turn()
            try:
                ser = open_port(self.port, self.baudrate)
            except (serial.SerialException, OSError, ValueError) as exc:
                self.went_down()
                delay = backoff.next_delay()
                msg = f"cannot open thermometer port {self.port}: {exc}; retrying in {delay:.0f} s"
                self.heartbeat.set_state("disconnected", msg)
                if not warned:
                    log.warning("%s (check the cable and thermometer.port)", msg)
                    warned = True
                self.wait(delay)
                continue
            self.opens += 1
            log.info(
                "thermometer port %s open (%s, %d baud)", self.port, self.protocol, self.baudrate
            )
            self.heartbeat.set_state("stale")
            try:
                if self._pump(ser, emit):
                    backoff.reset()
                    warned = False
            except (serial.SerialException, OSError) as exc:
                self.went_down()
                msg = f"thermometer port {self.port} lost: {exc}; reconnecting"
                self.heartbeat.set_state("disconnected", msg)
                log.warning(msg)
                warned = True
            finally:
                with contextlib.suppress(serial.SerialException, OSError):
                    ser.close()
            if not self.stopping:
                self.wait(backoff.next_delay())

    def _pump(self, ser: serial.Serial, emit: Emit) -> bool:
        """Read until stopped or the port fails; True if any valid reading arrived."""
        link = Link(ser, self._protocol)
        got_data = False
        while not self.stopping:
            self.loop.turn()
            records = link.poll()
            if not records:
                continue
            at = self._clock()
            for rec in records:
                if isinstance(rec, WireReading):
                    if rec.object_c is None or rec.ambient_c is None:
                        self.device_errors += 1
                        self.heartbeat.error(
                            f"thermometer flagged a bad reading (flags 0x{rec.flags:02x})"
                        )
                        continue
                    if not got_data:
                        self.came_back(f"thermometer: readings from {self.port} again")
                    got_data = True
                    self.heartbeat.beat(at)
                    emit(
                        ThermoReading(
                            at=at,
                            object_c=rec.object_c,
                            ambient_c=rec.ambient_c,
                            sensor_id=rec.sensor_id,
                            seq=rec.seq,
                        )
                    )
                elif isinstance(rec, WireHello):
                    if rec.firmware != self.firmware:
                        log.info(
                            "thermometer bridge firmware %s (protocol v%d, sensor %d, %d ms)",
                            rec.firmware,
                            rec.protocol_version,
                            rec.sensor_id,
                            rec.period_ms,
                        )
                    self.firmware = rec.firmware
                elif isinstance(rec, WireFault):
                    self._wire_fault(rec)
        return got_data

    def _wire_fault(self, rec: WireFault) -> None:
        if rec.kind == "gap":
            self.lost_frames += rec.lost
            log.debug("thermometer: %s", rec.detail)
            return
        self.bad_frames += 1
        impossible = rec.kind == "range"
        if impossible:
            self.impossible += 1
        self.heartbeat.error(rec.detail)
        # One rate limit per family, so a stream of bad checksums does not hide impossible values.
        now = time.monotonic()
        self._since_log[impossible] += 1
        if now - self._logged[impossible] < BAD_FRAME_LOG_EVERY_S:
            return
        count, total = (
            (f"{self._since_log[True]} impossible reading(s)", self.impossible)
            if impossible
            else (f"{self._since_log[False]} bad frame(s)", self.bad_frames - self.impossible)
        )
        log.warning(
            "thermometer: %s (%s since the last such line, %d in all; at most one line a minute)",
            rec.detail,
            count,
            total,
        )
        self._logged[impossible] = now
        self._since_log[impossible] = 0
