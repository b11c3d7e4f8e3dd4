"""The firmware's main loop logic: sample the sensor, frame the reading, write it to the host.

Hardware-free: the caller passes the sensor, a ``write(bytes)`` function and a millisecond clock, so
the same code runs in ``pico/main.py`` (USB CDC serial, ``time.ticks_ms``) and in host tests.
A HELLO frame (firmware version) goes out at start and every ``hello_every_ms`` so a host that
attaches late still learns the firmware version; the first READING after boot carries
``FLAG_RESTARTED`` so the host knows the sequence number restarted.
"""

from firmware_bridge.framing import (
    FLAG_AMBIENT_INVALID,
    FLAG_OBJECT_INVALID,
    FLAG_RESTARTED,
    encode_hello,
    encode_reading,
)
from firmware_bridge.mlx90614 import MLX90614

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

FIRMWARE_VERSION = (1, 0, 0)


class Bridge:
    """One sensor, one serial line, one sequence counter."""

    def __init__(
        self,
        sensor: MLX90614,
        write: "Callable[[bytes], object]",
        sensor_id: int = 0,
        period_ms: int = 100,
        hello_every_ms: int = 10_000,
    ) -> None:
        self.sensor = sensor
        self._write = write
        self.sensor_id = sensor_id
        self.period_ms = period_ms
        self.hello_every_ms = hello_every_ms
        self.seq = 0
        self._last_hello: int | None = None
        self._restarted = True

    def _send(self, frame: bytes) -> None:
        self._write(frame)
        self.seq = (self.seq + 1) & 0xFFFF

    def step(self, now_ms: int) -> None:
        """One sampling period: maybe a HELLO, then one READING."""
        if self._last_hello is None or now_ms - self._last_hello >= self.hello_every_ms:
            self._send(encode_hello(self.seq, FIRMWARE_VERSION, self.sensor_id, self.period_ms))
            self._last_hello = now_ms
        obj, obj_flags = self.sensor.read_object()
        amb, amb_flags = self.sensor.read_ambient()
        flags = obj_flags | amb_flags
        if obj is None:
            flags |= FLAG_OBJECT_INVALID
        if amb is None:
            flags |= FLAG_AMBIENT_INVALID
        if self._restarted:
            flags |= FLAG_RESTARTED
            self._restarted = False
        self._send(
            encode_reading(
                self.seq,
                self.sensor_id,
                flags,
                0 if obj is None else obj,
                0 if amb is None else amb,
            )
        )
