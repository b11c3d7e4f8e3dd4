"""One open serial port speaking one registered protocol: open, start/keep-alive bytes, decoding.

The serial source reads through a :class:`Link` for as long as the port stays open, and ``diag``
listens through one for a few seconds, so both send the protocol's start bytes and decode exactly
alike. Nothing here knows a protocol by name: the :class:`~.protocols.spec.ThermometerProtocol`
says what to send and how to decode.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import serial

from agent.thermometer.protocols.spec import ThermometerProtocol
from agent.thermometer.records import Decoder, WireReading, WireRecord

READ_TIMEOUT_S = 0.2
WRITE_TIMEOUT_S = 1.0
"""A device that accepts no bytes for this long fails the write (the port is then treated as lost)."""


def open_port(port: str, baudrate: int) -> serial.Serial:
    """Open a device path, pty or pyserial URL (``loop://``, ``spy://``, ``rfc2217://``).

    Raises :class:`serial.SerialException`, :class:`OSError` or :class:`ValueError`.
    """
    return serial.serial_for_url(
        port, baudrate=baudrate, timeout=READ_TIMEOUT_S, write_timeout=WRITE_TIMEOUT_S
    )


class Link:
    """Reads records from an open port; sends the start bytes now and again while silent."""

    def __init__(
        self,
        ser: serial.Serial,
        protocol: ThermometerProtocol,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ser = ser
        self._protocol = protocol
        self._clock = clock
        self.decoder: Decoder = protocol.decoder()
        self.bytes_received = 0
        ser.reset_input_buffer()
        self._last_frame = self._last_start = clock()
        if protocol.start:
            ser.write(protocol.start)

    def poll(self) -> list[WireRecord]:
        """Wait up to the read timeout for bytes; return the records they complete.

        Raises :class:`serial.SerialException` or :class:`OSError` when the port fails.
        """
        data = self._ser.read(max(1, self._ser.in_waiting))
        now = self._clock()
        after = self._protocol.keepalive_after_s
        if after is not None and now - self._last_frame > after and now - self._last_start > after:
            self._ser.write(self._protocol.start)
            self._last_start = now
        if not data:
            return []
        self.bytes_received += len(data)
        records = self.decoder.feed(data)
        if any(isinstance(r, WireReading) for r in records):
            self._last_frame = now
        return records
