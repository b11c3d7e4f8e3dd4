"""Bridge frame encoder: CRC check value, frame layout, clamping of out-of-range values."""

from __future__ import annotations

import binascii

from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge import framing


def test_crc_check_value() -> None:
    assert framing.crc16_ccitt_false(b"123456789") == 0x29B1


@given(st.binary(max_size=64))
def test_crc_matches_reference(data: bytes) -> None:
    assert framing.crc16_ccitt_false(data) == binascii.crc_hqx(data, 0xFFFF)


def test_reading_layout() -> None:
    frame = framing.encode_reading(0x0102, 7, 0x20, 3650, -1)
    assert len(frame) == framing.FRAME_LEN == 15
    assert frame[:7] == bytes((0xAA, 0x55, 1, 0x01, 0x01, 0x02, 6))
    assert frame[7:13] == bytes((7, 0x20, 0x0E, 0x42, 0xFF, 0xFF))


def test_out_of_range_becomes_no_value() -> None:
    frame = framing.encode_reading(0, 0, 0, 40000, 2300)
    assert frame[9:11] == b"\x80\x00"
