"""Bridge decoder: cross-checked against the firmware's own encoder, fuzzed, property-tested."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.thermometer.protocols.bridge import BridgeDecoder
from agent.thermometer.records import WireFault, WireHello, WireReading
from firmware_bridge import framing

# What the sensor can measure (object -70..380 °C, ambient -40..125 °C), without 0x7FFF (no
# reading): agent/thermometer/plausibility.py. Values outside are dropped frames (tested below).
objects_cc = st.integers(min_value=-7000, max_value=32766)
ambients_cc = st.integers(min_value=-4000, max_value=12500)
readings = st.tuples(
    st.integers(0, 255), st.integers(0, 0x7F), objects_cc, ambients_cc
)  # sensor id, flags (no RESTARTED), object, ambient


def _decode_all(data: bytes, chunk: int = 7) -> tuple[BridgeDecoder, list[object]]:
    dec = BridgeDecoder()
    out: list[object] = []
    for i in range(0, len(data), chunk):
        out += dec.feed(data[i : i + chunk])
    return dec, out


def test_reading_round_trip() -> None:
    frame = framing.encode_reading(7, 3, 0, 3651, 2312)
    dec, out = _decode_all(frame, chunk=1)
    assert out == [WireReading(object_c=36.51, ambient_c=23.12, sensor_id=3, flags=0, seq=7)]
    assert (dec.frames, dec.bad_frames, dec.garbage_bytes) == (1, 0, 0)


def test_hello_round_trip() -> None:
    _, out = _decode_all(framing.encode_hello(0, (1, 2, 3), 4, 100))
    assert out == [
        WireHello(firmware="1.2.3", protocol_version=1, sensor_id=4, period_ms=100, seq=0)
    ]


def test_invalid_flags_give_none() -> None:
    frame = framing.encode_reading(
        1, 0, framing.FLAG_OBJECT_INVALID | framing.FLAG_PEC_ERROR, 0, 2200
    )
    _, out = _decode_all(frame)
    assert out == [
        WireReading(
            object_c=None,
            ambient_c=22.0,
            flags=framing.FLAG_OBJECT_INVALID | framing.FLAG_PEC_ERROR,
            seq=1,
        )
    ]


def test_bad_crc_is_counted_and_next_frame_survives() -> None:
    good = framing.encode_reading(1, 0, 0, 3600, 2300)
    bad = bytearray(framing.encode_reading(2, 0, 0, 3600, 2300))
    bad[9] ^= 0x10
    dec, out = _decode_all(bytes(bad) + good)
    assert dec.bad_frames == 1
    assert [type(r) for r in out] == [WireFault, WireReading]
    assert isinstance(out[0], WireFault)
    assert out[0].kind == "checksum"


def test_sequence_gap_reports_lost_frames() -> None:
    data = b"".join(framing.encode_reading(s, 0, 0, 3600, 2300) for s in (10, 11, 14))
    dec, out = _decode_all(data)
    gaps = [r for r in out if isinstance(r, WireFault)]
    assert [(g.kind, g.lost) for g in gaps] == [("gap", 2)]
    assert dec.lost_frames == 2


def test_restart_is_not_a_gap() -> None:
    data = framing.encode_reading(500, 0, 0, 3600, 2300) + framing.encode_hello(
        0, (1, 0, 0), 0, 100
    )
    data += framing.encode_reading(1, 0, framing.FLAG_RESTARTED, 3600, 2300)
    dec, out = _decode_all(data)
    assert dec.lost_frames == 0
    assert not any(isinstance(r, WireFault) for r in out)


def test_sequence_wraps_without_gap() -> None:
    data = framing.encode_reading(0xFFFF, 0, 0, 3600, 2300) + framing.encode_reading(0, 0, 0, 1, 2)
    dec, _ = _decode_all(data)
    assert dec.lost_frames == 0


def test_unsupported_version_is_reported() -> None:
    body = bytes((2, 1, 0, 5, 6, 0, 0, 0x0E, 0x10, 0x08, 0xFC))
    crc = framing.crc16_ccitt_false(body)
    dec, out = _decode_all(b"\xaa\x55" + body + bytes((crc >> 8, crc & 0xFF)))
    assert dec.bad_frames == 1
    assert isinstance(out[0], WireFault)
    assert out[0].kind == "version"
    assert "version 2" in out[0].detail


@given(st.lists(readings, min_size=1, max_size=20), st.integers(1, 16))
def test_valid_frames_round_trip(items: list[tuple[int, int, int, int]], chunk: int) -> None:
    data = b"".join(framing.encode_reading(i, *item) for i, item in enumerate(items))
    dec, out = _decode_all(data, chunk)
    got = [r for r in out if isinstance(r, WireReading)]
    assert len(got) == len(items)
    for r, (sid, flags, obj, amb) in zip(got, items, strict=True):
        assert r.sensor_id == sid
        assert r.flags == flags
        if flags & framing.FLAG_OBJECT_INVALID:
            assert r.object_c is None
        else:
            assert r.object_c == pytest.approx(obj / 100)
        if flags & framing.FLAG_AMBIENT_INVALID:
            assert r.ambient_c is None
        else:
            assert r.ambient_c == pytest.approx(amb / 100)
    assert dec.bad_frames == 0
    assert dec.garbage_bytes == 0


@given(
    st.lists(st.tuples(readings, st.binary(max_size=40)), min_size=1, max_size=12),
    st.binary(max_size=40),
    st.integers(1, 32),
)
def test_garbage_between_frames_loses_none(
    items: list[tuple[tuple[int, int, int, int], bytes]], lead: bytes, chunk: int
) -> None:
    data = lead
    expected = []
    for i, (reading, garbage) in enumerate(items):
        frame = framing.encode_reading(i, *reading)
        data += frame + garbage
        expected.append(i)
    _, out = _decode_all(data, chunk)
    seqs = [r.seq for r in out if isinstance(r, WireReading)]
    # A garbage run could itself contain a valid frame (vanishingly unlikely); all ours are there.
    assert [s for s in seqs if s in expected] == expected


@given(st.binary(max_size=400), st.integers(1, 64))
def test_never_raises(data: bytes, chunk: int) -> None:
    dec, _ = _decode_all(data, chunk)
    assert dec.frames + dec.bad_frames <= len(data) // 15 + 1


@pytest.mark.slow
def test_fuzz_100k_random_byte_strings() -> None:
    rng = random.Random(1234)
    dec = BridgeDecoder()
    frame = framing.encode_reading(1, 0, 0, 3650, 2300)
    for k in range(100_000):
        n = rng.randrange(0, 64)
        data = bytes(rng.getrandbits(8) for _ in range(n))
        if k % 7 == 0:  # sync bytes and frame fragments make the decoder work harder
            data = data[: n // 2] + b"\xaa\x55" + frame[: rng.randrange(16)] + data[n // 2 :]
        dec.feed(data)
    assert len(dec._buf) < 15 + 64
    tail = dec.feed(b"\x00" * 15 + frame)
    assert any(isinstance(r, WireReading) and r.object_c == 36.5 for r in tail)
