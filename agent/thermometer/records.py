"""What the wire decoders produce: frozen records, and the decoder protocol they share.

A decoder turns raw serial bytes into :class:`WireReading`, :class:`WireHello` or
:class:`WireFault` records. Nothing past the serial source sees bytes; nothing past the decoders sees
wire details such as checksums or sync patterns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

WireFaultKind = Literal["checksum", "version", "type", "gap", "range"]
"""``range``: a well-formed frame whose value the sensor uses for 'no reading' (0x7FFF) or that
lies outside what the sensor can measure."""


@dataclass(frozen=True, slots=True)
class WireReading:
    """One temperature frame; a temperature is None when the device flagged it invalid."""

    object_c: float | None
    ambient_c: float | None
    sensor_id: int = 0
    flags: int = 0
    """Bridge status flags (PROTOCOL.md); always 0 for the GY-MCU90614."""
    seq: int | None = None
    """Bridge sequence number; None for protocols without one."""


@dataclass(frozen=True, slots=True)
class WireHello:
    """The bridge firmware introduced itself (at boot and every few seconds)."""

    firmware: str
    """Firmware version, 'major.minor.patch'."""
    protocol_version: int
    sensor_id: int
    period_ms: int
    seq: int


@dataclass(frozen=True, slots=True)
class WireFault:
    """A frame that was dropped (bad checksum, unsupported version/type) or frames lost (gap)."""

    kind: WireFaultKind
    detail: str
    lost: int = 0
    """Frames lost, for ``gap``."""


WireRecord = WireReading | WireHello | WireFault


class Decoder(Protocol):
    """Incremental byte-stream decoder: never raises, resynchronises after garbage."""

    frames: int
    """Valid frames decoded."""
    bad_frames: int
    """Frames dropped for a bad checksum, unsupported version or type."""
    garbage_bytes: int
    """Bytes skipped while looking for a frame start."""

    def feed(self, data: bytes) -> list[WireRecord]:
        """Consume ``data``; return the records completed by it, in order."""
