"""Outbox figures: encode + durable append per event, and replaying a 10,000-event backlog.

- ``append_ms_per_event``: :meth:`Outbox.append` (encode + one ``synchronous=FULL`` transaction).
- ``replay_10k_s``: a backlog of 10,000 temperature events (written while "offline") is drained
  by the real :class:`~agent.publisher.Publisher` into a real mosquitto on a free port (QoS 1):
  seconds from ``Publisher.start()`` until the outbox is empty (every PUBACK received and the
  message deleted). Target <= 10 s (issue 12).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from agent.flow.events import TemperatureEvent
from agent.wire.config import MqttConfig
from agent.wire.contract import Identity, encode
from agent.wire.outbox import Outbox
from agent.wire.publisher import Publisher
from tests.broker import Broker

APPEND_N = 2000
BACKLOG = int(os.environ.get("BENCH_OUTBOX_BACKLOG", "10000"))


def main() -> dict[str, object]:
    ident = Identity("triage/v1", "bench-site", "desk-1", "bench-site-desk-1")
    event = TemperatureEvent(time.time(), "normal", 35.9, 24.0, 36.6, 37.3, 1.2, 12)
    with tempfile.TemporaryDirectory() as d:
        box = Outbox(Path(d) / "o.sqlite3")
        t0 = time.perf_counter()
        for _ in range(APPEND_N):
            box.append(lambda seq: encode(event, ident, seq))
        put = time.perf_counter() - t0
        for _ in range(BACKLOG - APPEND_N):
            box.append(lambda seq: encode(event, ident, seq))
        broker = Broker(Path(d)).start()
        try:
            publisher = Publisher(MqttConfig(port=broker.port), ident, box)
            t0 = time.perf_counter()
            publisher.start()
            while box.depth() > 0 and time.perf_counter() - t0 < 120:
                time.sleep(0.01)
            replay = time.perf_counter() - t0
            left = box.depth()
            publisher.stop(flush_timeout_s=1.0)
        finally:
            broker.stop()
        box.close()
    return {
        "append_ms_per_event": round(put / APPEND_N * 1000, 3),
        "payload_bytes": len(encode(event, ident, 1).payload),
        "backlog": BACKLOG,
        "replay_s": round(replay, 2),
        "replay_left": left,
    }


if __name__ == "__main__":
    print(main())
