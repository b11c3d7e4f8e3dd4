"""Thermometer decoder throughput (frames/s) for both wire protocols, and screening throughput.

Streams of valid frames with 2 % corrupted frames and some garbage, fed in 64-byte chunks (about
what one serial read returns). A Pi-class box needs only ~10 frames/s; the figures show headroom.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from agent.thermometer.config import ScreeningConfig
from agent.thermometer.protocols.bridge import BridgeDecoder
from agent.thermometer.protocols.gy_mcu90614 import GyDecoder, gy_frame
from agent.thermometer.reading import ThermoReading
from agent.thermometer.records import Decoder
from agent.thermometer.screening import ScreeningAnalyser
from firmware_bridge.framing import encode_reading
from firmware_bridge.trace import generate

FRAMES = 100_000
CHUNK = 64


def _stream(encode: Callable[[int], bytes], rng: random.Random) -> bytes:
    parts = []
    for i in range(FRAMES):
        frame = encode(i)
        if rng.random() < 0.02:
            frame = frame[:-1] + bytes(((frame[-1] ^ 0xFF),))
        parts.append(frame)
        if rng.random() < 0.01:
            parts.append(rng.randbytes(rng.randint(1, 20)))
    return b"".join(parts)


def _throughput(make: Callable[[], Decoder], data: bytes) -> tuple[float, int]:
    dec = make()
    t = time.perf_counter()
    for i in range(0, len(data), CHUNK):
        dec.feed(data[i : i + CHUNK])
    elapsed = time.perf_counter() - t
    return dec.frames / elapsed, dec.frames


def main() -> dict[str, object]:
    """Measure the figures (``python -m bench bench_thermometer`` prints them)."""
    rng = random.Random(7)
    bridge_data = _stream(lambda i: encode_reading(i, 0, 0, 3650 + i % 50, 2300), rng)
    gy_data = _stream(lambda i: gy_frame(36.5 + (i % 50) / 100, 23.0), rng)
    bridge_fps, bridge_n = _throughput(BridgeDecoder, bridge_data)
    gy_fps, gy_n = _throughput(GyDecoder, gy_data)
    trace = generate("queue", 1)
    readings = [
        ThermoReading(at=s.t, object_c=s.object_c, ambient_c=s.ambient_c)
        for s in trace.samples
        if s.object_c is not None
    ]
    analyser = ScreeningAnalyser(ScreeningConfig())
    t = time.perf_counter()
    for r in readings:
        analyser.feed(r)
    screening_rps = len(readings) / (time.perf_counter() - t)
    figures: dict[str, object] = {
        "bridge_decoder_frames_per_s": round(bridge_fps),
        "bridge_frames_decoded": bridge_n,
        "gy_decoder_frames_per_s": round(gy_fps),
        "gy_frames_decoded": gy_n,
        "screening_readings_per_s": round(screening_rps),
    }
    return figures


if __name__ == "__main__":
    print(main())
