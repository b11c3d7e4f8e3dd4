"""The whole agent as systemd runs it: start-up time, peak memory, and idle CPU.

Each run is ``triage-agent run`` (``python -m agent run``) pinned to CPU 0 with ``taskset -c 0``,
publishing to a real mosquitto on a free port, with ``NOTIFY_SOCKET`` set (:mod:`bench.agent_process`):

- ``startup_ready_s``: process start -> ``READY=1`` with every source configured (simulated
  thermometer, camera on the busy benchmark video, shipped models), median of :data:`STARTS`;
- ``rss_peak_mb``: ``VmHWM`` after :data:`BUSY_S` seconds with all sources active (the simulated
  thermometer plays its ``mixed`` scenario, the camera the busy desk video of up to four people),
  started with the page cache of the agent's libraries and models dropped (:mod:`bench.cold_cache`:
  a booted box's cold start, the same on every kernel); ``rss_anon_mb`` / ``rss_file_mb``: the
  process's own and its file-backed resident memory at that moment;
- ``payload_bytes_mean`` and ``traffic``: mean payload size per event kind as the broker
  delivered them during the busy run (kinds that did not occur in it: the real encoder on a typical
  event, listed in ``sizes_from_typical_events``), then :mod:`bench.traffic`'s clinic day;
- ``idle_cpu_pct``: CPU of the whole agent process (all threads) over :data:`IDLE_S` seconds, as a
  percentage of one core, with a static scene (noisy empty-desk video, looped) and the simulated
  thermometer's ``idle`` scenario, after a 5 s settle.

``BENCH_SMOKE=1`` shortens every window (figures then are indicative only).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from agent.flow.events import AlertEvent, Event, SummaryEvent
from agent.wire.contract import Identity, encode
from bench import cold_cache, traffic, videos
from bench.agent_process import REPO, AgentRun, config
from tests.broker import Broker, Collector

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
STARTS = 1 if SMOKE else 3
BUSY_S = 5.0 if SMOKE else 30.0
IDLE_S = 5.0 if SMOKE else 60.0
SETTLE_S = 2.0 if SMOKE else 5.0


IDENTITY = Identity("triage/v1", "bench-site", "desk-1", "bench-site-desk-1")
NOW = 1_795_000_000.0
REPRESENTATIVE: dict[str, Event] = {
    "alert": AlertEvent(
        NOW,
        "fever",
        "raised",
        "3f2b8c0e9d4a4e1f8b7c6d5e4f3a2b1c",
        "temperature 38.4 C: confirm with a clinical thermometer",
        38.4,
    ),
    "summary": SummaryEvent(
        NOW, 900.0, 7, 1, 1, 8, 1, 3, {"fever": 1, "unmasked": 1}, "15min", "2026-11-23", "10:45"
    ),
}
"""Typical events of the kinds a 30 s run may not produce (their payload size is then this)."""


def _run_config(tmp: Path, port: int, video: Path, scenario: str, short: bool = False) -> Path:
    periods: dict[str, dict[str, object]] = {}
    if short:  # every kind of event within the run, so each payload size is measured
        periods = {
            "reporting": {"health_interval_s": 5.0, "summary_interval_s": 10.0},
            "vision": {"models_dir": str(REPO / "models"), "compliance_window_s": 5.0},
        }
    return config(
        tmp,
        port,
        thermometer={"enabled": True, "port": "simulated", "simulated_scenario": scenario},
        camera={"enabled": True, "source": str(video), "loop": True},
        **periods,
    )


def main() -> dict[str, object]:
    if not (videos.SHARED / "data" / "scenes").is_dir():
        return {"skipped": f"{videos.SHARED / 'data' / 'scenes'} is absent (needs ../shared)"}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        busy, _ = videos.busy(tmp / "busy.avi", seconds=10.0)
        static = videos.static(tmp / "static.avi", seconds=4.0)
        broker = Broker(tmp).start()
        try:
            starts = []
            rss = 0.0
            sizes: dict[str, list[int]] = {}
            collector = Collector(broker.port, "#")
            mapped = cold_cache.agent_files(REPO)
            memory: dict[str, float] = {}
            for i in range(STARTS):
                run_dir = tmp / f"busy{i}"
                run_dir.mkdir()
                cfg = _run_config(run_dir, broker.port, busy, "mixed", short=i == 0)
                if i == 0:
                    cold_cache.evict(mapped)
                with AgentRun(cfg) as agent:
                    starts.append(agent.wait_ready())
                    if i == 0:
                        time.sleep(BUSY_S)
                        rss = agent.rss_peak_mb()
                        memory = agent.resident_mb()
                        for m in collector.messages:
                            kind = m.topic.rsplit("/", 1)[-1]
                            sizes.setdefault(kind, []).append(len(m.payload))
            collector.client.disconnect()
            idle_dir = tmp / "idle"
            idle_dir.mkdir()
            with AgentRun(_run_config(idle_dir, broker.port, static, "idle")) as agent:
                agent.wait_ready()
                time.sleep(SETTLE_S)
                cpu0, t0 = agent.cpu_s(), time.monotonic()
                time.sleep(IDLE_S)
                idle_pct = 100.0 * (agent.cpu_s() - cpu0) / (time.monotonic() - t0)
        finally:
            broker.stop()
    mean = {k: statistics.mean(v) for k, v in sizes.items()}
    synthetic = sorted(set(REPRESENTATIVE) - set(mean))
    for kind in synthetic:  # rare in a short run: the real encoder on a typical event
        mean[kind] = float(len(encode(REPRESENTATIVE[kind], IDENTITY, 123456).payload))
    try:
        wire: dict[str, object] = {
            **traffic.day_bytes(mean),
            "tls_ratio_vs_h264": traffic.day_bytes(mean, tls=True)["ratio_vs_h264"],
            "h264_bytes_per_hour": round(traffic.H264_BYTES_PER_HOUR),
            "day": traffic.DAY,
            "sizes_from_typical_events": synthetic,
        }
    except ValueError as exc:  # a kind never appeared in the run
        wire = {"error": str(exc)}
    return {
        "payload_bytes_mean": {k: round(v, 1) for k, v in sorted(mean.items())},
        "traffic": wire,
        "startup_ready_s": round(statistics.median(starts), 2),
        "startup_ready_s_all": [round(s, 2) for s in starts],
        "rss_peak_mb": round(rss, 1),
        **{f"{k}_mb": round(v, 1) for k, v in memory.items()},
        "busy_s": BUSY_S,
        "idle_cpu_pct": round(idle_pct, 2),
        "idle_s": IDLE_S,
        "cpu": "taskset -c 0",
    }


if __name__ == "__main__":
    print(main())
