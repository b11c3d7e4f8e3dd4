"""Decoder of the GY-MCU90614 / GY-MCU90615 UART module output, per the module's datasheet.

Frame (9 bytes): ``5A 5A 45 04 TOH TOL TAH TAL SUM``: object = (TOH<<8|TOL)/100 °C, ambient =
(TAH<<8|TAL)/100 °C (read as signed 16 bit so sub-zero ambients decode), SUM = low 8 bits of the
sum of the first eight bytes. After garbage or a bad checksum the decoder skips one byte and
searches for ``5A 5A 45 04`` again; frames have a fixed length, so no valid frame is lost to a false
start. Host commands (``A5 45 EA`` continuous, ``A5 15 BA`` one reading) are in
:data:`START_CONTINUOUS` and :data:`QUERY_ONCE`.
"""

from __future__ import annotations

from agent.thermometer.records import WireError, WireReading, WireRecord

HEADER = b"\x5a\x5a\x45\x04"
FRAME_LEN = 9
START_CONTINUOUS = b"\xa5\x45\xea"
QUERY_ONCE = b"\xa5\x15\xba"


def _signed(hi: int, lo: int) -> float:
    raw = (hi << 8) | lo
    if raw & 0x8000:
        raw -= 0x10000
    return raw / 100.0


class GyDecoder:
    """Incremental decoder of GY-MCU90614 frames; never raises."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.frames = 0
        self.bad_frames = 0
        self.garbage_bytes = 0

    def feed(self, data: bytes) -> list[WireRecord]:
        """Consume bytes; return the completed records."""
        buf = self._buf
        buf += data
        out: list[WireRecord] = []
        n = len(buf)
        i = 0
        while True:
            j = buf.find(HEADER, i)
            if j < 0:
                # Keep a possible partial header at the end.
                keep = 0
                for k in (3, 2, 1):
                    if n - i >= k and buf[n - k :] == HEADER[:k]:
                        keep = k
                        break
                self.garbage_bytes += n - i - keep
                i = n - keep
                break
            self.garbage_bytes += j - i
            i = j
            if n - j < FRAME_LEN:
                break
            f = buf[j : j + FRAME_LEN]
            if sum(f[:8]) & 0xFF != f[8]:
                self.bad_frames += 1
                out.append(WireError("checksum", "GY-MCU90614 frame with a bad checksum dropped"))
                self.garbage_bytes += 1
                i = j + 1
                continue
            out.append(WireReading(object_c=_signed(f[4], f[5]), ambient_c=_signed(f[6], f[7])))
            self.frames += 1
            i = j + FRAME_LEN
        del buf[:i]
        return out
