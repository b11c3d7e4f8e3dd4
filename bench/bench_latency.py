"""Thermometer serial byte -> broker: how long a temperature result takes to reach mosquitto.

``triage-agent run`` (pinned to CPU 0, all sources: the camera plays the busy benchmark video so
vision competes for the core) reads the bridge protocol from a pty this benchmark writes: the
samples of the ``queue`` trace (12 people in turn), :data:`SPEED` times faster than real time, looped
until :data:`EVENTS` temperature events have arrived. A subscriber on the same real mosquitto
receives each event; the broker forwards a QoS 1 PUBLISH when it has it, i.e. when it sends the
PUBACK, so the receive time stands for the PUBACK (loopback, both within a fraction of a
millisecond).

For each ``temperature`` event the frame that completed it is the last one written before the
event's ``at`` (the agent stamps a reading when it decodes its frame; frames are
``0.1 / SPEED`` s apart, so the match is unambiguous), and the latency is receive time minus the
time noted just before that frame was written (so that a reading decoded before the writer
thread noted its write is never taken for the next frame's). Reports p50, p99 and max in
milliseconds, and every latency.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import tempfile
import termios
import threading
import time
import tty
from datetime import datetime
from pathlib import Path

from paho.mqtt.client import MQTTMessage

from bench import videos
from bench.agent_process import AgentRun, config
from firmware_bridge.emulator import HELLO_EVERY_S
from firmware_bridge.framing import encode_hello, encode_reading
from firmware_bridge.trace import generate
from tests.broker import Broker, Collector

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
SPEED = 1.0
EVENTS = 3 if SMOKE else 12


class PtyWriter:
    """Writes bridge READING frames of a trace to a pty, noting when each frame was written."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave, termios.TCSANOW)
        os.set_blocking(self.master, False)  # never hang on a full pty when nobody reads
        self.path = os.ttyname(self.slave)
        self.written: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        trace = generate("queue", 1)
        seq = 0
        next_at = time.monotonic()
        next_hello = 0.0
        while not self._stop.is_set():
            for s in trace.samples:
                if time.monotonic() >= next_hello:  # as the firmware does: HELLO every few s
                    with contextlib.suppress(BlockingIOError):
                        os.write(self.master, encode_hello(seq, (1, 0, 0), 0, 100))
                    seq += 1
                    next_hello = time.monotonic() + HELLO_EVERY_S
                obj = round((s.object_c if s.object_c is not None else 0.0) * 100)
                flags = 0 if s.object_c is not None else 1
                frame = encode_reading(seq, 0, flags, obj, round(s.ambient_c * 100))
                seq += 1
                # noted before the write: the agent may decode the frame (and stamp its reading)
                # before this thread runs again, and a frame noted after its reading would be
                # taken for the next one (measured: +100 ms, one frame period, on some events)
                self.written.append(time.time())
                with contextlib.suppress(BlockingIOError):
                    os.write(self.master, frame)
                next_at += trace.period_s / SPEED
                delay = next_at - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        os.close(self.master)
        os.close(self.slave)


def _at(payload: bytes) -> float:
    doc = json.loads(payload)
    return datetime.fromisoformat(doc["ts"].replace("Z", "+00:00")).timestamp()


def main() -> dict[str, object]:
    if not (videos.SHARED / "data" / "scenes").is_dir():
        return {"skipped": f"{videos.SHARED / 'data' / 'scenes'} is absent (needs ../shared)"}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        busy, _ = videos.busy(tmp / "busy", seconds=10.0)
        broker = Broker(tmp).start()
        writer = PtyWriter()
        try:
            got = Collector(broker.port, "#")
            received: list[tuple[float, bytes]] = []

            def note(client: object, userdata: object, msg: MQTTMessage) -> None:
                if msg.topic.endswith("/temperature"):
                    received.append((time.time(), bytes(msg.payload)))

            got.client.on_message = note
            cfg = config(
                tmp,
                broker.port,
                thermometer={"enabled": True, "port": writer.path, "protocol": "bridge"},
                camera={"enabled": True, "source": str(busy), "loop": True},
            )
            with AgentRun(cfg) as agent:
                agent.wait_ready()
                writer.start()
                deadline = time.monotonic() + 30 + EVENTS * 20 / SPEED
                while len(received) < EVENTS and time.monotonic() < deadline:
                    time.sleep(0.1)
                log = agent.output()
            writer.stop()
        finally:
            broker.stop()
    written = writer.written
    latencies = []
    for recv, payload in received:
        at = _at(payload)
        before = [w for w in written if w <= at + 0.001]
        if before:
            latencies.append((recv - before[-1]) * 1000.0)
    if not latencies:
        return {"error": "no temperature events arrived", "agent_log_tail": log[-2000:]}
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    return {
        "events": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(latencies[-1], 1),
        "latencies_ms": [round(x, 1) for x in latencies],
        "conditions": "agent on taskset -c 0 with the camera on the busy video; bridge protocol "
        f"on a pty at {SPEED:g}x the sensor rate; subscriber receive time as PUBACK time",
    }


if __name__ == "__main__":
    print(main())
