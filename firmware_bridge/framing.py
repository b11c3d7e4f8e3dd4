"""Encoder of the bridge wire protocol (``PROTOCOL.md``), shared by the Pico firmware and emulator.

Runs under MicroPython: no typing imports, no dataclasses, no ``from __future__``. Every frame is
15 bytes: ``AA 55 | VER | TYPE | SEQ(u16 BE) | LEN=6 | PAYLOAD(6) | CRC16(BE)``; the CRC is
CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over VER..PAYLOAD.
"""

SYNC = b"\xaa\x55"
VERSION = 1
PAYLOAD_LEN = 6
FRAME_LEN = 2 + 5 + PAYLOAD_LEN + 2

TYPE_READING = 0x01
TYPE_HELLO = 0x02

# Status flags of a reading (PROTOCOL.md, "Status flags").
FLAG_OBJECT_INVALID = 0x01
FLAG_AMBIENT_INVALID = 0x02
FLAG_SENSOR_ERROR = 0x04
FLAG_PEC_ERROR = 0x08
FLAG_BUS_ERROR = 0x10
FLAG_RESTARTED = 0x80

NO_VALUE = -32768
"""Temperature field value (0x8000) sent when the matching *_INVALID flag is set."""


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE, bitwise (no table: small RAM on the device)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def _i16(value: int) -> bytes:
    if value < -32768 or value > 32767:
        value = NO_VALUE
    value &= 0xFFFF
    return bytes(((value >> 8) & 0xFF, value & 0xFF))


def _frame(frame_type: int, seq: int, payload: bytes) -> bytes:
    body = bytes((VERSION, frame_type, (seq >> 8) & 0xFF, seq & 0xFF, len(payload))) + payload
    crc = crc16_ccitt_false(body)
    return SYNC + body + bytes(((crc >> 8) & 0xFF, crc & 0xFF))


def encode_reading(seq: int, sensor_id: int, flags: int, object_cc: int, ambient_cc: int) -> bytes:
    """A READING frame; temperatures in centi-degrees Celsius (signed 16 bit)."""
    if flags & FLAG_OBJECT_INVALID:
        object_cc = NO_VALUE
    if flags & FLAG_AMBIENT_INVALID:
        ambient_cc = NO_VALUE
    payload = bytes((sensor_id & 0xFF, flags & 0xFF)) + _i16(object_cc) + _i16(ambient_cc)
    return _frame(TYPE_READING, seq & 0xFFFF, payload)


def encode_hello(seq: int, version: tuple[int, int, int], sensor_id: int, period_ms: int) -> bytes:
    """A HELLO frame: firmware version (major, minor, patch), sensor id, sampling period."""
    major, minor, patch = version
    period_ms = max(0, min(0xFFFF, period_ms))
    payload = bytes(
        (
            major & 0xFF,
            minor & 0xFF,
            patch & 0xFF,
            sensor_id & 0xFF,
            period_ms >> 8,
            period_ms & 0xFF,
        )
    )
    return _frame(TYPE_HELLO, seq & 0xFFFF, payload)
