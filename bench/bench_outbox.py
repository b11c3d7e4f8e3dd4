"""Outbox and contract throughput: encode + durable insert per event, and drain (peek + ack)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from agent.flow.events import TemperatureEvent
from agent.wire.contract import Identity, encode
from agent.wire.outbox import Outbox

N = 2000


def main() -> dict[str, object]:
    ident = Identity("triage/v1", "bench-site", "desk-1", "bench-site-desk-1")
    event = TemperatureEvent(time.time(), "normal", 35.9, 24.0, 36.6, 37.3, 1.2, 12)
    with tempfile.TemporaryDirectory() as d:
        box = Outbox(Path(d) / "o.sqlite3")
        t0 = time.perf_counter()
        for _ in range(N):
            box.append(lambda seq: encode(event, ident, seq))
        put = time.perf_counter() - t0
        t0 = time.perf_counter()
        after = 0
        while batch := box.peek(after=after, limit=20):
            for m in batch:
                box.ack(m.seq)
            after = batch[-1].seq
        drain = time.perf_counter() - t0
        size = (Path(d) / "o.sqlite3").stat().st_size
        box.close()
    return {
        "events": N,
        "append_ms_per_event": round(put / N * 1000, 3),
        "drain_ms_per_event": round(drain / N * 1000, 3),
        "payload_bytes": len(encode(event, ident, 1).payload),
        "db_bytes_after_drain": size,
    }
