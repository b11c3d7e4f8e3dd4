"""District load test: thousands of simulated desks -> mosquitto -> two collectors sharing a
``$share`` subscription -> PostgreSQL, with the rollups written. Loopback only, bounded in count
and time. ``make bench`` runs it (bench/bench_central_ingest.py); by hand:

    python -m tools.district_load [--desks 2000] [--events-per-desk 30] [--rate 2000]
                                  [--publishers 4] [--collectors 2] [--kill-after S]
                                  [--db postgresql+psycopg://...] [--json FILE]

Every desk publishes real agent-encoded events (``agent.wire.contract.encode``) at a clinic-day mix:
its retained ``online`` status first, then screenings, occupancy and mask changes and windows,
health, an alert raised and cleared, a summary (with screening coverage figures: the coverage
rollup's upsert), its clock running at 12 s of clinic time per event
(about 5 events per clinic minute, ~2,400 per desk per 8-hour day): the day compressed in time.
Publisher processes each carry a slice of the desks over one MQTT connection at QoS 1, paced to
``--rate`` events/s in total; they encode everything first and start together. The broker runs
with the district settings of docs/CENTRAL.md (``tools.centralrun.DISTRICT_BROKER_SETTINGS``).
The collectors (``triage-central collect`` processes) share ``$share/district/triage/v1/#`` into
one PostgreSQL database (a private server under /tmp, fsync on, unless ``--db`` is given); each
also receives every retained status on its own subscription, so duplicates really arrive.

Reported (:class:`Result`): events/s sustained from the first publish to the last commit, and
between 10 % and 90 % of the events stored; events lost (distinct ids published and acked by the
broker but not stored), events stored twice (rows in ``events`` beyond the distinct ids); whether
the rollups the collectors wrote match a rebuild from the raw events (``reconcile``) and count
every stored event; each collector's CPU seconds and peak and final RSS; the CPU seconds of the
publishers, the broker and PostgreSQL over the same run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import pwd
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, func, select, text

from agent.flow.events import (
    AlertEvent,
    AvailabilityEvent,
    Event,
    HealthEvent,
    MaskEvent,
    OccupancyEvent,
    SourceHealth,
    SummaryEvent,
    TemperatureEvent,
)
from agent.wire.contract import Identity, encode
from central.store import rollups
from central.store.db import open_db
from central.store.tables import event_ids, events, rollup_days
from tools.centralrun import DISTRICT_BROKER_SETTINGS
from tools.pgserver import Postgres, free_port, pg_bin

PREFIX = "triage/v1"
CLINIC_S_PER_EVENT = 12.0
MAX_EVENTS = 2_000_000
"""Bounded: at most this many events per run."""
OUTSTANDING = 20_000
"""Messages a publisher has handed to paho and not yet had acknowledged, at most."""


def desk_events(index: int, n: int, start: float) -> list[Event]:
    """``n`` events of one desk in a clinic-day mix, 12 clinic seconds apart."""
    out: list[Event] = []
    for i in range(n):
        at = start + i * CLINIC_S_PER_EVENT + (index % 7) * 0.1
        slot = i % 10
        if i and i % 30 == 29:
            local = datetime.fromtimestamp(at - 360.0, UTC)  # a period with coverage figures
            out.append(SummaryEvent(at, 360.0, 6, 0, 0, 9, 0, 4, {}, period="15min",
                                    date=local.date().isoformat(), start=local.strftime("%H:%M"),
                                    arrivals_screened=6, arrivals_unscreened=3, scans=5))  # fmt: skip
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


def desk_day(index: int, n: int, start: float) -> list[Event]:
    """What one desk publishes in the load test: its retained ``online`` status, then ``n - 1``
    events of :func:`desk_events`."""
    online = AvailabilityEvent(start - 30.0, "online", health_every_s=60)
    return [online, *desk_events(index, n - 1, start)]


def identity(d: int) -> Identity:
    return Identity(PREFIX, f"clinic-{d // 4:04d}", f"desk-{d % 4 + 1}", f"c{d:05d}")


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def publish(
    worker: int,
    desks: range,
    per_desk: int,
    rate: float,
    port: int,
    out: Any,
    start: float,
    ready: Any,
    go: Any,
) -> None:
    """One publisher process: encodes its desks' events, says it is ready, waits for ``go``, then
    publishes them over one connection at QoS 1, paced to ``rate`` events/s."""
    messages = []
    for d in desks:
        ident = identity(d)
        messages += [
            encode(e, ident, seq + 1) for seq, e in enumerate(desk_day(d, per_desk, start))
        ]
    # Interleave desks (each desk's own order kept) as a district would.
    messages.sort(key=lambda m: json.loads(m.payload)["ts"])
    ids = [json.loads(m.payload)["id"] for m in messages]
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"load-publisher-{worker}",
        protocol=mqtt.MQTTv5,
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    done = [0]

    def on_publish(c: mqtt.Client, u: object, mid: int, rc: object, p: object) -> None:
        done[0] += 1

    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    ready.put(worker)
    go.wait()
    cpu0 = _cpu_self()
    first = time.time()
    t0 = time.monotonic()
    infos = []
    for i, m in enumerate(messages):
        # paho numbers messages 1..65535: never let more than OUTSTANDING wait for their PUBACK.
        while i - done[0] >= OUTSTANDING:
            time.sleep(0.005)
        infos.append(client.publish(m.topic, m.payload, qos=1, retain=m.retain))
        if i % 200 == 0:
            ahead = i / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
    for info in infos:
        info.wait_for_publish(300)
    acked_ids = [i for i, info in zip(ids, infos, strict=True) if info.is_published()]
    acked = len(acked_ids)
    last = time.time()
    client.disconnect()
    client.loop_stop()
    out.put(
        {"worker": worker, "ids": acked_ids, "acked": acked, "first": first, "last": last,
         "cpu_s": _cpu_self() - cpu0}
    )  # fmt: skip


def start_broker(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    """A private mosquitto with the district settings of docs/CENTRAL.md."""
    conf = workdir / "mosquitto.conf"
    log = workdir / "mosquitto.log"
    user = pwd.getpwuid(os.geteuid()).pw_name  # as root, mosquitto would switch users
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nuser {user}\n"
        f"persistence_location {workdir}/\n{DISTRICT_BROKER_SETTINGS}"
        f"log_dest file {log}\nlog_type error\nlog_type warning\nlog_type notice\n"
    )
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(100):
        if "mosquitto version" in (log.read_text() if log.exists() else ""):
            time.sleep(0.1)
            return proc
        time.sleep(0.05)
    return proc


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_kib(pid: int, name: str) -> int:
    try:
        m = re.search(rf"{name}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return 0
    return int(m.group(1)) if m else 0


def _children_cpu(parent: int) -> float:
    """CPU seconds of ``parent`` and its live children (the PostgreSQL server's processes)."""
    total = _cpu_s(parent)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            tail = stat.read_text().rsplit(")", 1)[1]
        except OSError:
            continue
        if int(tail.split()[1]) == parent:
            total += _cpu_s(int(stat.parent.name))
    return total


class RssSampler(threading.Thread):
    """Every 0.5 s, each collector's resident memory (MiB): its peak and its last value."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.pids: list[int] = []
        self.peak: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            for pid in list(self.pids):
                mib = _status_kib(pid, "VmRSS") / 1024
                if mib:
                    self.peak[pid] = max(self.peak.get(pid, 0.0), mib)
                    self.last[pid] = mib


@dataclass
class Result:
    desks: int
    events: int
    publishers: int
    collectors: int
    offered_rate: float
    publish_s: float
    """First publish to the last broker acknowledgement."""
    store_s: float
    """First publish to the last commit (every event stored)."""
    events_per_s: float
    """Events stored per second over ``store_s``: the sustained ingest rate."""
    steady_events_per_s: float
    """Between 10 % and 90 % of the events stored."""
    lost: int
    stored_twice: int
    rollups_match: bool
    """The rollups written by the collectors equal a rebuild from the raw events."""
    rollup_events: int
    """Events counted by the rollups (must equal the events stored)."""
    rollup_differences: list[str]
    collector_received: list[int]
    collector_duplicates: list[int]
    collector_cpu_s: list[float]
    collector_peak_rss_mib: list[float]
    collector_end_rss_mib: list[float]
    publisher_cpu_s: float
    broker_cpu_s: float
    postgres_cpu_s: float | None
    db_bytes_per_event: float | None
    collectors_killed: int
    progress: list[tuple[float, int]] = field(default_factory=list)
    """(seconds since the first publish, events stored), sampled."""


def _wait_connected(work: Path, names: list[str], procs: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        broker_log = (work / "mosquitto.log").read_text()
        if all(f"as {n}" in broker_log for n in names):
            time.sleep(0.5)  # subscriptions
            return
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.1)
    logs = "".join(p.read_text()[-2000:] for p in work.glob("collector-*.log"))
    raise RuntimeError(f"the collectors did not connect:\n{logs}")


def _rate_between(progress: list[tuple[float, int]], lo: float, hi: float) -> float:
    a = next((p for p in progress if p[1] >= lo), None)
    b = next((p for p in progress if p[1] >= hi), None)
    if a is None or b is None or b[0] <= a[0]:
        return 0.0
    return (b[1] - a[1]) / (b[0] - a[0])


def _days(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        lo, hi = conn.execute(select(func.min(events.c.ts), func.max(events.c.ts))).one()
    if lo is None:
        return []
    first = datetime.fromtimestamp(float(lo), UTC).date()
    last = datetime.fromtimestamp(float(hi), UTC).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def run(
    desks: int,
    per_desk: int,
    rate: float,
    publishers: int,
    db: str | None,
    timeout: float,
    kill_after_s: float | None = None,
    collectors: int = 2,
) -> Result:
    if desks * per_desk > MAX_EVENTS:
        raise ValueError(f"bounded: at most {MAX_EVENTS:,} events per run")
    work = Path(tempfile.mkdtemp(prefix="district-load-"))
    pg: Postgres | None = None
    procs: list[subprocess.Popen[bytes]] = []
    port = free_port()
    broker = start_broker(work, port)
    sampler = RssSampler()
    try:
        if db is None:
            bindir = pg_bin()
            if bindir is None:
                raise RuntimeError("PostgreSQL binaries missing: apt-get install postgresql")
            pg = Postgres(bindir, fsync=True).start()
            db = pg.create_database()
        engine = open_db(db)
        names = [f"load-collector-{n}" for n in range(1, collectors + 1)]

        def collector(n: int) -> subprocess.Popen[bytes]:
            log = (work / f"collector-{n}.log").open("ab")
            return subprocess.Popen(
                [sys.executable, "-m", "central", "collect", "--db", db, "--port", str(port),
                 "--tz", "UTC", "--share-group", "district", "--client-id", names[n - 1]],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

        procs += [collector(n) for n in range(1, collectors + 1)]
        sampler.pids = [p.pid for p in procs]
        sampler.start()
        _wait_connected(work, names, procs)
        ctx = mp.get_context("fork")
        out, ready, go = ctx.Queue(), ctx.Queue(), ctx.Event()
        start_clock = time.time() - 8 * 3600
        slices = [range(w, desks, publishers) for w in range(publishers)]
        workers = [
            ctx.Process(
                target=publish,
                args=(w, s, per_desk, rate / publishers, port, out, start_clock, ready, go),
            )
            for w, s in enumerate(slices)
        ]
        for w in workers:
            w.start()
        for _ in workers:
            ready.get(timeout=timeout)
        postmaster = None
        if pg is not None:
            postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
        cpu0 = {p.pid: _cpu_s(p.pid) for p in procs}
        broker0 = _cpu_s(broker.pid)
        pg0 = _children_cpu(postmaster) if postmaster else 0.0
        t0 = time.monotonic()
        go.set()
        expected = desks * per_desk
        killed = 0
        kill_at = None if kill_after_s is None else t0 + kill_after_s
        progress: list[tuple[float, int]] = []
        stored = 0
        with engine.connect() as conn:
            while time.monotonic() - t0 < timeout:
                stored = int(conn.execute(select(func.count()).select_from(event_ids)).scalar_one())
                conn.rollback()
                progress.append((round(time.monotonic() - t0, 3), stored))
                if stored >= expected:
                    break
                if kill_at is not None and time.monotonic() >= kill_at:
                    # A collector dies mid-stream (SIGKILL: no flush, no goodbye) and comes back.
                    kill_at = None
                    victim = procs[-1]
                    cpu0.pop(victim.pid, None)
                    victim.kill()
                    victim.wait(10)
                    killed += 1
                    time.sleep(3.0)
                    procs[-1] = collector(collectors)
                    sampler.pids = [p.pid for p in procs]
                    cpu0[procs[-1].pid] = 0.0
                time.sleep(0.1)
        store_s = progress[-1][0] if progress else time.monotonic() - t0
        cpu = [round(_cpu_s(p.pid) - cpu0.get(p.pid, 0.0), 1) for p in procs]
        broker_cpu = round(_cpu_s(broker.pid) - broker0, 1)
        pg_cpu = round(_children_cpu(postmaster) - pg0, 1) if postmaster else None
        reports = [out.get(timeout=timeout) for _ in workers]
        for w in workers:
            w.join(30)
        publish_s = max(r["last"] for r in reports) - min(r["first"] for r in reports)
        sent = {i for r in reports for i in r["ids"]}
        rss_peak = [round(_status_kib(p.pid, "VmHWM") / 1024, 1) for p in procs]
        rss_end = [round(sampler.last.get(p.pid, 0.0), 1) for p in procs]
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(30)
        sampler.stop.set()
        with engine.connect() as conn:
            ids = {str(i) for i in conn.execute(select(events.c.event_id)).scalars()}
            rows = int(conn.execute(select(func.count()).select_from(events)).scalar_one())
            counted = conn.execute(select(func.coalesce(func.sum(rollup_days.c.events), 0)))
            rollup_events = int(counted.scalar_one())
            size = None
            if engine.dialect.name == "postgresql":
                total = conn.execute(
                    text(
                        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                        "WHERE c.relname = 'event_ids' OR c.oid IN "
                        "(SELECT inhrelid FROM pg_inherits WHERE inhparent = 'events'::regclass)"
                    )
                ).scalar_one()
                size = round(int(total or 0) / max(rows, 1), 1)
        rec = rollups.reconcile(engine, _days(engine), "UTC")
        received, duplicates = [], []
        for n in range(1, collectors + 1):
            logged = (work / f"collector-{n}.log").read_text()
            m = re.findall(r"stopped: received (\d+), stored \d+, duplicates (\d+)", logged)
            # A killed collector logs nothing: count what its restarted self received.
            received.append(int(m[-1][0]) if m else -1)
            duplicates.append(int(m[-1][1]) if m else -1)
        return Result(
            desks=desks,
            events=expected,
            publishers=publishers,
            collectors=collectors,
            offered_rate=rate,
            publish_s=round(publish_s, 2),
            store_s=round(store_s, 2),
            events_per_s=round(len(ids & sent) / store_s, 1),
            steady_events_per_s=round(_rate_between(progress, 0.1 * expected, 0.9 * expected), 1),
            lost=len(sent - ids) + (expected - len(sent)),
            stored_twice=rows - len(ids),
            rollups_match=rec.matched,
            rollup_events=rollup_events,
            rollup_differences=list(rec.differences[:10]),
            collector_received=received,
            collector_duplicates=duplicates,
            collector_cpu_s=cpu,
            collector_peak_rss_mib=[max(a, sampler.peak.get(p.pid, 0.0)) for a, p in
                                    zip(rss_peak, procs, strict=True)],
            collector_end_rss_mib=rss_end,
            publisher_cpu_s=round(sum(r["cpu_s"] for r in reports), 1),
            broker_cpu_s=broker_cpu,
            postgres_cpu_s=pg_cpu,
            db_bytes_per_event=size,
            collectors_killed=killed,
            progress=progress[:: max(1, len(progress) // 40)] + progress[-1:],
        )  # fmt: skip
    finally:
        sampler.stop.set()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
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
    p.add_argument("--collectors", type=int, default=2, help="collectors sharing the stream")
    p.add_argument("--db", help="PostgreSQL URL (default: a private server under /tmp)")
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument(
        "--kill-after",
        type=float,
        help="SIGKILL the last collector this many s into the run, restart it 3 s later",
    )
    a = p.parse_args(argv)
    if a.desks * a.events_per_desk > MAX_EVENTS:
        p.error(f"bounded: at most {MAX_EVENTS:,} events per run")
    r = run(
        a.desks, a.events_per_desk, a.rate, a.publishers, a.db, a.timeout, a.kill_after,
        a.collectors,
    )  # fmt: skip
    for k, v in asdict(r).items():
        if k != "progress":
            print(f"{k:24} {v}")
    if a.json is not None:
        a.json.write_text(json.dumps(asdict(r), indent=2) + "\n")
    ok = r.lost == 0 and r.stored_twice == 0 and r.rollups_match and r.rollup_events == r.events
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
