"""District load test: thousands of simulated desks -> mosquitto -> two collectors sharing a
``$share`` subscription -> PostgreSQL. Loopback only, bounded in count and time.

    python -m tools.district_load [--desks 2000] [--events-per-desk 30] [--rate 2000]
                                  [--publishers 4] [--db postgresql+psycopg://...]

Every desk publishes real agent-encoded events (``agent.wire.contract.encode``) at a clinic-day mix
(screenings, occupancy and mask changes and windows, health, an alert raised and cleared, a
summary), its clock running at 12 s of clinic time per event (about 5 events per clinic minute,
~2,400 per desk per 8-hour day). Publisher processes each carry a slice of the desks over one MQTT
connection, paced to ``--rate`` events/s in total. Two ``triage-central collect`` processes share
``$share/district/triage/v1/#`` into one PostgreSQL database (a private server under /tmp unless
``--db`` is given). Reported: events/s sustained from the first publish to the last commit, events
lost (published and acked by the broker but not stored), events stored twice, each collector's CPU
seconds and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select, text

from agent.flow.events import (
    AlertEvent,
    Event,
    HealthEvent,
    MaskEvent,
    OccupancyEvent,
    SourceHealth,
    SummaryEvent,
    TemperatureEvent,
)
from agent.wire.contract import Identity, encode
from central.store.db import open_db
from central.store.tables import events
from tools.pgserver import Postgres, free_port, pg_bin

PREFIX = "triage/v1"
CLINIC_S_PER_EVENT = 12.0


def desk_events(index: int, n: int, start: float) -> list[Event]:
    """``n`` events of one desk in a clinic-day mix, 12 clinic seconds apart."""
    out: list[Event] = []
    for i in range(n):
        at = start + i * CLINIC_S_PER_EVENT + (index % 7) * 0.1
        slot = i % 10
        if i and i % 30 == 29:
            out.append(SummaryEvent(at, 360.0, 6, 0, 0, 9, 0, 4, {}))
        elif slot in (0, 5):
            out.append(TemperatureEvent(at, "normal", 34.4, 24.0, 36.6, 37.3, 1.1, 11))
        elif slot in (1, 6):
            out.append(OccupancyEvent(at, 1 + i % 4, 1 + i % 4, 5))
        elif slot in (2, 7):
            out.append(MaskEvent(at, "masked", 1, 1, 0))
        elif slot == 3:
            out.append(OccupancyEvent(at, 2, 4, 5, 60.0, 3))
        elif slot == 4:
            out.append(MaskEvent(at, "masked", 3, 3, 0, 60.0))
        elif slot == 8:
            src = {"thermometer": SourceHealth("ok", at - 600, fps=10.0)}
            out.append(HealthEvent(at, i * 12, "0.1.0", src, 0, None, 0, 0, 0))
        else:
            state = "raised" if (i // 10) % 2 == 0 else "cleared"
            aid = f"{index:08x}{i // 20:08x}"
            out.append(AlertEvent(at, "crowding", state, aid, "Crowding at the desk", 6.0))  # type: ignore[arg-type]
    return out


def publish(
    worker: int, desks: range, per_desk: int, rate: float, port: int, out: Any, start: float
) -> None:
    """One publisher process: its desks over one connection, paced to ``rate`` events/s."""
    messages = []
    for d in desks:
        ident = Identity(PREFIX, f"clinic-{d // 4:04d}", f"desk-{d % 4 + 1}", f"c{d:05d}")
        messages += [
            encode(e, ident, seq + 1) for seq, e in enumerate(desk_events(d, per_desk, start))
        ]
    # Interleave desks (each desk's own order kept) as a district would.
    messages.sort(key=lambda m: json.loads(m.payload)["ts"])
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"load-publisher-{worker}",
        protocol=mqtt.MQTTv5,
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    t0 = time.monotonic()
    infos = []
    for i, m in enumerate(messages):
        infos.append(client.publish(m.topic, m.payload, qos=1, retain=m.retain))
        if i % 200 == 0:
            ahead = i / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
    for info in infos:
        info.wait_for_publish(300)
    acked = sum(1 for info in infos if info.is_published())
    client.disconnect()
    client.loop_stop()
    ids = [json.loads(m.payload)["id"] for m in messages]
    out.put({"worker": worker, "ids": ids, "acked": acked, "seconds": time.monotonic() - t0})


def start_broker(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    conf = workdir / "mosquitto.conf"
    log = workdir / "mosquitto.log"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
        # Collectors' sessions must be able to hold a burst (the default queue is 1000 messages).
        "max_queued_messages 0\nmax_inflight_messages 1000\n"
        f"log_dest file {log}\nlog_type error\nlog_type warning\nlog_type notice\n"
    )
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([binary, "-c", str(conf)])
    for _ in range(100):
        if "mosquitto version" in (log.read_text() if log.exists() else ""):
            time.sleep(0.1)
            return proc
        time.sleep(0.05)
    return proc


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mib(pid: int) -> float:
    m = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(m.group(1)) / 1024 if m else 0.0


@dataclass
class Result:
    desks: int
    events: int
    publishers: int
    offered_rate: float
    publish_s: float
    store_s: float
    events_per_s: float
    lost: int
    stored_twice: int
    collector_received: list[int]
    collector_cpu_s: list[float]
    collector_peak_rss_mib: list[float]
    db_bytes_per_event: float | None
    collectors_killed: int


def run(
    desks: int,
    per_desk: int,
    rate: float,
    publishers: int,
    db: str | None,
    timeout: float,
    kill_after_s: float | None = None,
) -> Result:
    work = Path(tempfile.mkdtemp(prefix="district-load-"))
    pg: Postgres | None = None
    procs: list[subprocess.Popen[bytes]] = []
    port = free_port()
    broker = start_broker(work, port)
    try:
        if db is None:
            bindir = pg_bin()
            if bindir is None:
                raise SystemExit("PostgreSQL binaries missing: apt-get install postgresql")
            pg = Postgres(bindir, fsync=True).start()
            db = pg.create_database()
        engine = open_db(db)

        def collector(n: int) -> subprocess.Popen[bytes]:
            log = (work / f"collector-{n}.log").open("ab")
            return subprocess.Popen(
                [sys.executable, "-m", "central", "collect", "--db", db, "--port", str(port),
                 "--share-group", "district", "--client-id", f"load-collector-{n}"],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

        procs += [collector(1), collector(2)]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            broker_log = (work / "mosquitto.log").read_text()
            if all(f"as load-collector-{n}" in broker_log for n in (1, 2)):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("the collectors did not connect")
        time.sleep(0.5)  # subscriptions
        cpu0 = {p.pid: _cpu_s(p.pid) for p in procs}
        start_clock = time.time() - 8 * 3600
        queue: Any = mp.get_context("fork").Queue()
        slices = [range(w, desks, publishers) for w in range(publishers)]
        t0 = time.monotonic()
        workers = [
            mp.get_context("fork").Process(
                target=publish,
                args=(w, s, per_desk, rate / publishers, port, queue, start_clock),
            )
            for w, s in enumerate(slices)
        ]
        for w in workers:
            w.start()
        killed = 0
        if kill_after_s is not None:
            # A collector dies mid-stream (SIGKILL: no flush, no goodbye) and comes back.
            time.sleep(kill_after_s)
            procs[1].kill()
            procs[1].wait(10)
            killed = 1
            time.sleep(3.0)
            procs[1] = collector(2)
        reports = [queue.get(timeout=timeout) for _ in workers]
        publish_s = time.monotonic() - t0
        for w in workers:
            w.join(30)
        sent = {i for r in reports for i in r["ids"]}
        expected = desks * per_desk
        with engine.connect() as conn:
            stored = 0
            while time.monotonic() - t0 < timeout:
                stored = int(conn.execute(select(func.count()).select_from(events)).scalar_one())
                conn.rollback()
                if stored >= expected:
                    break
                time.sleep(0.2)
            store_s = time.monotonic() - t0
            ids = set(conn.execute(select(events.c.event_id)).scalars())
            distinct = int(
                conn.execute(select(func.count(func.distinct(events.c.event_id)))).scalar_one()
            )
            size = None
            if engine.dialect.name == "postgresql":
                total = conn.execute(text("SELECT pg_total_relation_size('events')")).scalar_one()
                size = round(int(total) / max(stored, 1), 1)
        cpu = [round(_cpu_s(p.pid) - cpu0.get(p.pid, 0.0), 1) for p in procs]
        rss = [round(_peak_rss_mib(p.pid), 1) for p in procs]
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(30)
        received = []
        for n in (1, 2):
            m = re.findall(r"stopped: received (\d+)", (work / f"collector-{n}.log").read_text())
            received.append(int(m[-1]) if m else -1)
        return Result(
            desks=desks,
            events=expected,
            publishers=publishers,
            offered_rate=rate,
            publish_s=round(publish_s, 2),
            store_s=round(store_s, 2),
            events_per_s=round(len(ids & sent) / store_s, 1),
            lost=len(sent - ids) + (expected - len(sent)),
            stored_twice=stored - distinct,
            collector_received=received,
            collector_cpu_s=cpu,
            collector_peak_rss_mib=rss,
            db_bytes_per_event=size,
            collectors_killed=killed,
        )
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        broker.terminate()
        broker.wait(10)
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--desks", type=int, default=2000)
    p.add_argument("--events-per-desk", type=int, default=30)
    p.add_argument("--rate", type=float, default=2000.0, help="offered events/s, all desks")
    p.add_argument("--publishers", type=int, default=4, help="publisher processes")
    p.add_argument("--db", help="PostgreSQL URL (default: a private server under /tmp)")
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument(
        "--kill-after", type=float, help="SIGKILL collector 2 this many s into the run, restart it"
    )
    a = p.parse_args(argv)
    if a.desks * a.events_per_desk > 500_000:
        p.error("bounded: at most 500,000 events per run")
    r = run(a.desks, a.events_per_desk, a.rate, a.publishers, a.db, a.timeout, a.kill_after)
    for k, v in asdict(r).items():
        print(f"{k:24} {v}")
    if a.json is not None:
        a.json.write_text(json.dumps(asdict(r), indent=2) + "\n")
    return 0 if r.lost == 0 and r.stored_twice == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
