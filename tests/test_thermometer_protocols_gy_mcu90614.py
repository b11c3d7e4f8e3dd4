"""GY-MCU90614 decoder: datasheet examples, emulator encoder cross-check, fuzz and properties."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.thermometer.protocols.gy_mcu90614 import GyDecoder, gy_frame
from agent.thermometer.records import WireFault, WireReading

# What the sensor can measure (object -70..380 °C, ambient -40..125 °C), without 0x7FFF (no reading).
objects = st.integers(-7000, 32766).map(lambda v: v / 100)
ambients = st.integers(-4000, 12500).map(lambda v: v / 100)


def _decode_all(data: bytes, chunk: int = 5) -> tuple[GyDecoder, list[object]]:
    dec = GyDecoder()
    out: list[object] = []
    for i in range(0, len(data), chunk):
        out += dec.feed(data[i : i + chunk])
    return dec, out


def test_hand_made_frame() -> None:
    # object 36.50 C = 0x0E42, ambient 23.00 C = 0x08FC
    body = bytes((0x5A, 0x5A, 0x45, 0x04, 0x0E, 0x42, 0x08, 0xFC))
    dec, out = _decode_all(body + bytes((sum(body) & 0xFF,)), chunk=1)
    assert out == [WireReading(object_c=36.5, ambient_c=23.0)]
    assert dec.frames == 1


def test_negative_ambient() -> None:
    _, out = _decode_all(gy_frame(-5.0, -12.34))
    assert out == [WireReading(object_c=-5.0, ambient_c=-12.34)]


def test_bad_checksum_counted_and_dropped() -> None:
    bad = bytearray(gy_frame(36.5, 23.0))
    bad[8] ^= 1
    dec, out = _decode_all(bytes(bad) + gy_frame(36.6, 23.0))
    assert dec.bad_frames == 1
    assert isinstance(out[0], WireFault)
    assert out[0].kind == "checksum"
    assert out[1] == WireReading(object_c=36.6, ambient_c=23.0)


@given(st.lists(st.tuples(objects, ambients), min_size=1, max_size=20), st.integers(1, 12))
def test_valid_frames_round_trip(items: list[tuple[float, float]], chunk: int) -> None:
    data = b"".join(gy_frame(o, a) for o, a in items)
    dec, out = _decode_all(data, chunk)
    assert out == [WireReading(object_c=o, ambient_c=a) for o, a in items]
    assert dec.bad_frames == 0
    assert dec.garbage_bytes == 0


@given(
    st.lists(st.tuples(objects, ambients, st.binary(max_size=30)), min_size=1, max_size=12),
    st.binary(max_size=30),
    st.integers(1, 32),
)
def test_garbage_between_frames_loses_none(
    items: list[tuple[float, float, bytes]], lead: bytes, chunk: int
) -> None:
    # Distinct marker in the object field so our frames can be told from lucky garbage.
    data = lead
    expected = []
    for i, (_, amb, garbage) in enumerate(items):
        obj = 300.0 + i
        data += gy_frame(obj, amb) + garbage
        expected.append(obj)
    _, out = _decode_all(data, chunk)
    got = [r.object_c for r in out if isinstance(r, WireReading)]
    assert [g for g in got if g in expected] == expected


@given(st.binary(max_size=400), st.integers(1, 64))
def test_never_raises(data: bytes, chunk: int) -> None:
    dec, out = _decode_all(data, chunk)
    assert dec.frames <= len(data) // 9
    for r in out:  # fuzzed bytes never become an impossible temperature
        if isinstance(r, WireReading):
            assert r.object_c is not None
            assert r.ambient_c is not None
            assert -70 <= r.object_c <= 380
            assert r.object_c != 327.67
            assert -40 <= r.ambient_c <= 125


@pytest.mark.parametrize(
    ("obj_raw", "amb_raw", "why"),
    [(0x7FFF, 2300, "object = 0x7FFF"), (3650, 0x7FFF, "ambient = 0x7FFF"), (3650, 20000, "range")],
)
def test_no_reading_and_impossible_values_are_rejected_frames(
    obj_raw: int, amb_raw: int, why: str
) -> None:
    body = bytes(
        (0x5A, 0x5A, 0x45, 0x04, obj_raw >> 8, obj_raw & 0xFF, amb_raw >> 8, amb_raw & 0xFF)
    )
    frame = body + bytes((sum(body) & 0xFF,))
    dec, out = _decode_all(frame + gy_frame(36.6, 23.0), chunk=4)
    assert isinstance(out[0], WireFault)
    assert out[0].kind == "range"
    assert why in out[0].detail
    assert out[1] == WireReading(object_c=36.6, ambient_c=23.0)  # the next frame is intact
    assert dec.bad_frames == 1


@pytest.mark.slow
def test_fuzz_100k_random_byte_strings() -> None:
    rng = random.Random(4321)
    dec = GyDecoder()
    frame = gy_frame(36.5, 23.0)
    for k in range(100_000):
        n = rng.randrange(0, 64)
        data = bytes(rng.getrandbits(8) for _ in range(n))
        if k % 7 == 0:
            data = (
                data[: n // 2] + b"\x5a\x5a\x45\x04" + frame[: rng.randrange(10)] + data[n // 2 :]
            )
        dec.feed(data)
    assert len(dec._buf) < 9 + 64
    tail = dec.feed(b"\x00" * 9 + frame)
    assert WireReading(object_c=36.5, ambient_c=23.0) in tail
