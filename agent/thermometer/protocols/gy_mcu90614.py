"""The GY-MCU90614 / GY-MCU90615 UART module, per the module's datasheet.

Frame (9 bytes): ``5A 5A 45 04 TOH TOL TAH TAL SUM``: object = (TOH<<8|TOL)/100 °C, ambient =
(TAH<<8|TAL)/100 °C (read as signed 16 bit so sub-zero ambients decode), SUM = low 8 bits of the
sum of the first eight bytes. After garbage or a bad checksum the decoder skips one byte and
searches for ``5A 5A 45 04`` again; frames have a fixed length, so no valid frame is lost to a false
start. Host commands (``A5 45 EA`` continuous, ``A5 15 BA`` one reading) are in
:data:`START_CONTINUOUS` and :data:`QUERY_ONCE`. The module stays silent until told
``START_CONTINUOUS`` and forgets it on a power cycle, so the agent sends it on every open and again
while the module is silent (:data:`PROTOCOL`). :class:`GyModule` is the emulator's side.
"""

from __future__ import annotations

from agent.thermometer.plausibility import Quantity, raw_problem, signed_centi
from agent.thermometer.protocols.spec import ThermometerProtocol
from agent.thermometer.records import WireFault, WireReading, WireRecord

HEADER = b"\x5a\x5a\x45\x04"
FRAME_LEN = 9
START_CONTINUOUS = b"\xa5\x45\xea"
QUERY_ONCE = b"\xa5\x15\xba"


def _plausible(f: bytes | bytearray) -> str | None:
    """Why a checksum-valid frame is still not a reading (:mod:`..plausibility`), or None."""
    fields: tuple[tuple[Quantity, int], ...] = (
        ("object", (f[4] << 8) | f[5]),
        ("ambient", (f[6] << 8) | f[7]),
    )
    for quantity, raw in fields:
        problem = raw_problem(quantity, raw)
        if problem is not None:
            return f"GY-MCU90614 frame with {problem} dropped"
    return None


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
                out.append(WireFault("checksum", "GY-MCU90614 frame with a bad checksum dropped"))
                self.garbage_bytes += 1
                i = j + 1
                continue
            i = j + FRAME_LEN
            implausible = _plausible(f)
            if implausible is not None:
                self.bad_frames += 1
                out.append(WireFault("range", implausible))
                continue
            out.append(
                WireReading(
                    object_c=signed_centi((f[4] << 8) | f[5]),
                    ambient_c=signed_centi((f[6] << 8) | f[7]),
                )
            )
            self.frames += 1
        del buf[:i]
        return out


def gy_frame(object_c: float, ambient_c: float) -> bytes:
    """One GY-MCU90614 temperature frame: ``5A 5A 45 04 TOH TOL TAH TAL SUM``."""
    to = round(object_c * 100) & 0xFFFF
    ta = round(ambient_c * 100) & 0xFFFF
    body = HEADER + bytes((to >> 8, to & 0xFF, ta >> 8, ta & 0xFF))
    return body + bytes((sum(body) & 0xFF,))


class GyModule:
    """The emulator's module: silent until ``A5 45 EA``, one frame per ``A5 15 BA``."""

    numbered = False

    def __init__(self) -> None:
        self._streaming = False
        self._pending = b""

    @property
    def streaming(self) -> bool:
        """True once the host sent :data:`START_CONTINUOUS`."""
        return self._streaming

    def reading(self, object_c: float | None, ambient_c: float) -> bytes | None:
        """A frame; nothing when the sensor read failed (the module sends nothing then)."""
        return None if object_c is None else gy_frame(object_c, ambient_c)

    def hello(self, period_ms: int) -> None:
        """The module never introduces itself."""
        return

    def hear(self, data: bytes) -> int:
        """Parse host commands; returns how many single readings they asked for."""
        self._pending = (self._pending + data)[-64:]
        once = 0
        while True:
            i_start = self._pending.find(START_CONTINUOUS)
            i_once = self._pending.find(QUERY_ONCE)
            hits = [i for i in (i_start, i_once) if i >= 0]
            if not hits:
                return once
            first = min(hits)
            if first == i_start:
                self._streaming = True
            else:
                once += 1
            self._pending = self._pending[first + 3 :]


PROTOCOL = ThermometerProtocol(
    summary="a GY-MCU90614 / GY-MCU90615 UART module (9600 or 115200 baud)",
    decoder=GyDecoder,
    baudrates=(9600, 115200),
    device=GyModule,
    start=START_CONTINUOUS,
    keepalive_after_s=2.0,
)
