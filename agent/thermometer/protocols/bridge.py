"""The bridge protocol (``firmware_bridge/PROTOCOL.md``) of the project's Pico firmware.

:class:`BridgeDecoder` is written from the spec alone (it does not share code with the firmware);
:class:`BridgeDevice`, the emulator's side, frames readings with the firmware's own encoder
(:mod:`firmware_bridge.framing`). The device streams unasked: no start bytes; USB CDC ignores the
baud rate, so every usual rate is accepted.

Frame (15 bytes): ``AA 55 | VER | TYPE | SEQ u16 BE | LEN=6 | PAYLOAD 6 | CRC-16/CCITT-FALSE BE``
over VER..PAYLOAD. Because every frame has the same length, a false start inside garbage always
fails before a real frame that follows it is complete, so resynchronising (skip one byte, search
again) never loses a valid frame. Sequence numbers reveal lost frames; a HELLO with sequence 0 or a
READING with the RESTARTED flag marks a firmware restart rather than a loss. A READING whose
unflagged value is the 'no reading' code 0x7FFF or outside what the sensor can measure
(:mod:`agent.thermometer.plausibility`) is a dropped frame (``range``), never a temperature; its
sequence number still counts as received.
"""

from __future__ import annotations

import binascii

from agent.thermometer.plausibility import Quantity, raw_problem, signed_centi
from agent.thermometer.protocols.spec import ThermometerProtocol
from agent.thermometer.records import WireFault, WireHello, WireReading, WireRecord
from firmware_bridge import framing
from firmware_bridge.bridge import FIRMWARE_VERSION

SYNC = b"\xaa\x55"
VERSION = 1
FRAME_LEN = 15
PAYLOAD_LEN = 6
TYPE_READING = 0x01
TYPE_HELLO = 0x02
FLAG_OBJECT_INVALID = 0x01
FLAG_AMBIENT_INVALID = 0x02
FLAG_RESTARTED = 0x80


def _temp(hi: int, lo: int, invalid: bool) -> float | None:
    raw = (hi << 8) | lo
    if invalid or raw == 0x8000:
        return None
    return signed_centi(raw)


def _implausible(p: bytes | bytearray, flags: int) -> str | None:
    """Why a READING's unflagged values are not readings (:mod:`..plausibility`), or None."""
    fields: tuple[tuple[Quantity, int, int], ...] = (
        ("object", (p[2] << 8) | p[3], FLAG_OBJECT_INVALID),
        ("ambient", (p[4] << 8) | p[5], FLAG_AMBIENT_INVALID),
    )
    for quantity, raw, flag in fields:
        if flags & flag or raw == 0x8000:
            continue  # flagged by the firmware: a WireReading with None says so
        problem = raw_problem(quantity, raw)
        if problem is not None:
            return f"bridge frame with {problem} dropped"
    return None


class BridgeDecoder:
    """Incremental decoder of bridge frames; never raises."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._last_seq: int | None = None
        self.frames = 0
        self.bad_frames = 0
        self.garbage_bytes = 0
        self.lost_frames = 0

    def _sequence(self, seq: int, restart: bool, out: list[WireRecord]) -> None:
        last = self._last_seq
        self._last_seq = seq
        if last is None or restart:
            return
        gap = (seq - last - 1) & 0xFFFF
        if 0 < gap < 0x8000:
            self.lost_frames += gap
            out.append(WireFault("gap", f"{gap} frame(s) lost before sequence {seq}", lost=gap))

    def _decode(self, f: bytes | bytearray, out: list[WireRecord]) -> None:
        frame_type = f[3]
        seq = (f[4] << 8) | f[5]
        p = f[7:13]
        if frame_type == TYPE_READING:
            flags = p[1]
            self._sequence(seq, bool(flags & FLAG_RESTARTED), out)
            implausible = _implausible(p, flags)
            if implausible is not None:
                self.bad_frames += 1
                out.append(WireFault("range", implausible))
                return
            out.append(
                WireReading(
                    object_c=_temp(p[2], p[3], bool(flags & FLAG_OBJECT_INVALID)),
                    ambient_c=_temp(p[4], p[5], bool(flags & FLAG_AMBIENT_INVALID)),
                    sensor_id=p[0],
                    flags=flags,
                    seq=seq,
                )
            )
        else:
            self._sequence(seq, seq == 0, out)
            out.append(
                WireHello(
                    firmware=f"{p[0]}.{p[1]}.{p[2]}",
                    protocol_version=f[2],
                    sensor_id=p[3],
                    period_ms=(p[4] << 8) | p[5],
                    seq=seq,
                )
            )
        self.frames += 1

    def feed(self, data: bytes) -> list[WireRecord]:
        """Consume bytes; return the completed records."""
        buf = self._buf
        buf += data
        out: list[WireRecord] = []
        i = 0
        n = len(buf)
        while True:
            j = buf.find(SYNC, i)
            if j < 0:
                keep = 1 if n > i and buf[n - 1] == SYNC[0] else 0
                self.garbage_bytes += n - i - keep
                i = n - keep
                break
            self.garbage_bytes += j - i
            i = j
            if n - j < 7:
                break
            if buf[j + 6] != PAYLOAD_LEN:
                self.garbage_bytes += 1
                i = j + 1
                continue
            if n - j < FRAME_LEN:
                break
            frame = buf[j : j + FRAME_LEN]
            crc = (frame[13] << 8) | frame[14]
            if binascii.crc_hqx(frame[2:13], 0xFFFF) != crc:
                self.bad_frames += 1
                out.append(WireFault("checksum", "bridge frame with a bad CRC dropped"))
                i = j + 1
                continue
            if frame[2] != VERSION:
                self.bad_frames += 1
                out.append(
                    WireFault(
                        "version",
                        f"bridge protocol version {frame[2]} not supported (this agent speaks "
                        f"{VERSION}); update the agent or flash matching firmware",
                    )
                )
            elif frame[3] not in (TYPE_READING, TYPE_HELLO):
                self.bad_frames += 1
                out.append(WireFault("type", f"unknown bridge frame type 0x{frame[3]:02x}"))
            else:
                self._decode(frame, out)
            i = j + FRAME_LEN
        del buf[:i]
        return out


class BridgeDevice:
    """The emulator's bridge firmware: READING frames with sequence numbers, HELLO every 10 s."""

    numbered = True
    streaming = True

    def __init__(self) -> None:
        self._seq = 0
        self._restarted = True

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq = (seq + 1) & 0xFFFF
        return seq

    def reading(self, object_c: float | None, ambient_c: float) -> bytes:
        """A READING frame; a failed sensor read is flagged, as the firmware does."""
        flags = framing.FLAG_RESTARTED if self._restarted else 0
        self._restarted = False
        if object_c is None:
            flags |= framing.FLAG_OBJECT_INVALID | framing.FLAG_PEC_ERROR
        obj = 0 if object_c is None else round(object_c * 100)
        return framing.encode_reading(self._next_seq(), 0, flags, obj, round(ambient_c * 100))

    def hello(self, period_ms: int) -> bytes:
        """A HELLO frame with the firmware version."""
        return framing.encode_hello(self._next_seq(), FIRMWARE_VERSION, 0, period_ms)

    def hear(self, data: bytes) -> int:
        """The firmware ignores the host: never a single reading on request."""
        return 0


PROTOCOL = ThermometerProtocol(
    summary="the project's Pico bridge firmware (firmware_bridge/PROTOCOL.md)",
    decoder=BridgeDecoder,
    baudrates=(9600, 19200, 38400, 57600, 115200),
    device=BridgeDevice,
)
