"""A district's database for the central benchmarks: 2,000 desks, a full clinic day of raw events
(about 4.8 M) on PostgreSQL, with the week behind it and 8 weeks of rollups.

What is generated (times in Asia/Shanghai; the bench "now" is :data:`NOW`, the evening of
:data:`DAY`):

- :data:`DAY`: every desk's full clinic day, 08:00-20:00, as a box of the current contract sends it
  (docs/EVENTS.md): ``occupancy`` each 60 s and on changes, ``mask`` each 60 s, ``health`` each
  180 s, ``temperature`` per screening, 15-min ``summary``, ``status``, and alerts of every kind
  (fevers, patients and staff unmasked, crowding, desk unattended, camera and thermometer
  problems; a few left open; some desks go offline, a few stay offline).
- the 7 days before: the same desks' ``alert``, ``status`` and day ``summary`` events (what the
  pages read back from raw events: problems open across midnight, offline periods); their other
  raw events are not generated (no page reads them: counts come from the rollups).
- the screening coverage rollup: every summary carries coverage figures (the week's day summaries'
  rows added from them, :data:`DAY`'s 48 periodic rows a desk by ``reconcile``);
- the rollups: :data:`DAY`'s built by ``reconcile`` (central/store/rollups.py) from its raw events
  (and proved to match); the 55 days before from per-desk-day counts drawn the same way (what the
  weekly page and 8-week trend read).

Rows go straight in with ``COPY`` (events, event_ids). The server's data directory is kept in
``bench/out/central-pg`` between runs (``BENCH_CENTRAL_FRESH=1`` rebuilds it); ``BENCH_SMOKE=1``
builds a small district (:data:`SMOKE_DESKS` desks) in a temporary directory.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from central.store import partitions, reader, rollups
from central.store.db import open_db
from central.store.rollups import DayRollup
from tools.pgserver import Postgres, free_port, pg_bin

TZ_NAME = "Asia/Shanghai"
TZ = ZoneInfo(TZ_NAME)
DAY = date(2026, 11, 23)
"""The full clinic day (a Monday)."""
NOW = datetime(2026, 11, 23, 20, 30, tzinfo=TZ).timestamp()
BACK_DAYS = 7
ROLLUP_DAYS = 55
DESKS = 2000
SMOKE_DESKS = 40
DESKS_PER_CLINIC = 2
VERSION = "v4"
"""Bump when the generated data changes (the cached database is rebuilt)."""
OUT = Path(__file__).resolve().parent / "out"

ALERT_MIX = (
    ("fever", "screening", 1.2),
    ("unmasked", "mask", 2.0),
    ("staff_unmasked", "mask", 0.5),
    ("crowding", "occupancy", 1.0),
    ("desk_unattended", "setup", 0.5),
    ("camera_covered", "setup", 0.1),
    ("camera_lost", "setup", 0.05),
    ("thermometer_lost", "setup", 0.05),
    ("screening_skipped", "setup", 0.2),
)
"""Alert name, family, raises per desk-day (mean)."""


@dataclass
class District:
    """A running server with the district database."""

    url: str
    desks: int
    server: Postgres
    built_s: float
    reconcile_s: float | None
    reconciled: bool | None
    events_day: int
    keep: bool

    def stop(self) -> None:
        if self.keep:
            _pg_ctl(self.server, "stop", "-m", "fast")
        else:
            self.server.stop()


def sites(desks: int) -> list[tuple[str, str]]:
    return [
        (f"clinic-{i // DESKS_PER_CLINIC + 1:04d}", f"desk-{i % DESKS_PER_CLINIC + 1}")
        for i in range(desks)
    ]


def _iso(ts: float) -> str:
    return (
        datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{int(ts * 1000) % 1000:03d}Z"
    )


def _at(d: date, hh: float) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=TZ).timestamp() + hh * 3600.0


class _Rows:
    """COPY text for ``events`` and ``event_ids``."""

    def __init__(self) -> None:
        self.events = io.StringIO()
        self.ids = io.StringIO()
        self.n = 0

    def add(
        self, site: str, desk: str, kind: str, seq: int, ts: float, fields: str,
        alert: str = "\\N", state: str = "\\N", alert_id: str = "\\N", received: float | None = None,
    ) -> None:  # fmt: skip
        eid = f"{random.getrandbits(128):032x}"
        dev = f"{site}-{desk}"
        payload = (
            f'{{"v":1,"id":"{eid}","seq":{seq},"ts":"{_iso(ts)}","device":"{dev}",'
            f'"kind":"{kind}"{fields}}}'
        )
        rec = ts + 0.2 if received is None else received
        self.events.write(
            f"{eid}\t{site}\t{desk}\t{kind}\t{dev}\t{seq}\t{ts!r}\t{rec!r}\t{alert}\t{state}\t"
            f"{alert_id}\t{payload}\n"
        )
        self.ids.write(f"{eid}\t{ts!r}\n")
        self.n += 1


def _alert_pair(
    rows: _Rows, site: str, desk: str, seq: int, name: str, family: str, raised: float,
    cleared: float | None,
) -> int:  # fmt: skip
    aid = f"{random.getrandbits(64):016x}{random.getrandbits(64):016x}"
    value = {"fever": 38.4, "crowding": 9, "unmasked": 40, "staff_unmasked": 60,
             "desk_unattended": 3}.get(name)  # fmt: skip
    v = f',"value":{value}' if value is not None else ""
    zone = ',"zone":"desk"' if name == "staff_unmasked" else ""
    common = f',"alert":"{name}","family":"{family}","alert_id":"{aid}"{zone}'
    rows.add(site, desk, "alert", seq, raised,
             f'{common},"state":"raised","message":"{name}"{v}', name, "raised", aid)  # fmt: skip
    seq += 1
    if cleared is not None:
        rows.add(site, desk, "alert", seq, cleared,
                 f'{common},"state":"cleared","message":"{name} cleared"', name, "cleared", aid)  # fmt: skip
        seq += 1
    return seq


def _problems_and_status(
    rows: _Rows, rng: random.Random, site: str, desk: str, d: date, seq: int, full: bool
) -> int:
    """A day's status, alerts and (a few desks) offline periods."""
    open_t, close_t = _at(d, 8.0), _at(d, 20.0)
    rows.add(site, desk, "status", seq, open_t - 300, ',"state":"online","health_every_s":180',
             state="online")  # fmt: skip
    seq += 1
    for name, family, mean in ALERT_MIX:
        n = int(mean) + (1 if rng.random() < mean - int(mean) else 0)
        for _ in range(n):
            raised = rng.uniform(open_t, close_t - 600)
            cleared = None if (d == DAY and rng.random() < 0.04) else raised + rng.uniform(30, 1800)
            seq = _alert_pair(rows, site, desk, seq, name, family, raised, cleared)
    if rng.random() < 0.03:  # connection lost for a while
        lost = rng.uniform(open_t, close_t - 3600)
        back = None if (d == DAY and rng.random() < 0.3) else lost + rng.uniform(300, 3000)
        rows.add(site, desk, "status", seq, open_t - 300, ',"state":"offline","reason":"lost"',
                 state="offline", received=lost)  # fmt: skip
        seq += 1
        if back is not None:
            rows.add(site, desk, "status", seq, back, ',"state":"online","health_every_s":180',
                     state="online")  # fmt: skip
            seq += 1
    if not full:
        rows.add(site, desk, "summary", seq, _at(d + timedelta(days=1), 0.0),
                 f',"window_s":86400.0,"screened":150,"fevers":1,"invalid":3,"people":160,'
                 f'"mask_violations":2,"max_occupancy":9,"alerts":{{}},"period":"day",'
                 f'"date":"{d.isoformat()}","start":"00:00","arrivals_screened":150,'
                 f'"arrivals_unscreened":10,"scans":120')  # fmt: skip
        seq += 1
    return seq


def _full_day(rows: _Rows, rng: random.Random, site: str, desk: str, seq: int) -> int:
    d = DAY
    open_t = _at(d, 8.0)
    seq = _problems_and_status(rows, rng, site, desk, d, seq, True)
    version = "1.4.2" if rng.random() < 0.9 else "1.3.9"
    cam = "ok" if rng.random() < 0.97 else "stale"
    count = 0
    for minute in range(720):
        t = open_t + minute * 60.0
        people = rng.randint(0, 3)
        rows.add(site, desk, "occupancy", seq, t + 59.5,
                 f',"count":{count},"max":{count + 1},"limit":8,"window_s":60.0,"people":{people}')  # fmt: skip
        seq += 1
        rows.add(site, desk, "mask", seq, t + 59.6,
                 ',"state":"masked","faces":2,"masked":2,"unmasked":0,"window_s":60.0',
                 state="masked")  # fmt: skip
        seq += 1
        if minute % 3 == 0:
            rows.add(site, desk, "health", seq, t + 30.0,
                     f',"uptime_s":{int(t - open_t) + 600},"version":"{version}","sources":'
                     f'{{"thermometer":{{"state":"ok"}},"camera":{{"state":"{cam}"}},'
                     f'"vision":{{"state":"ok"}}}},"outbox_depth":0,"rejected":0,"dropped":0,'
                     f'"evicted":0,"models":{{"face":"yunet-2023mar","mask":"aizoo-1.2"}}')  # fmt: skip
            seq += 1
        for _ in range(rng.choice((0, 0, 1))):  # a temperature result now and then (~240/day)
            result = (
                "fever"
                if rng.random() < 0.008
                else ("invalid" if rng.random() < 0.02 else "normal")
            )
            rows.add(site, desk, "temperature", seq, t + rng.uniform(0, 59),
                     f',"result":"{result}","object_c":34.1,"ambient_c":24.0,"estimate_c":36.6,'
                     f'"threshold_c":37.3,"plateau_s":1.2,"samples":9')  # fmt: skip
            seq += 1
        for _ in range(rng.choice((0, 0, 1, 1, 1))):  # occupancy changes
            count = max(0, min(9, count + rng.choice((-1, 1))))
            rows.add(site, desk, "occupancy", seq, t + rng.uniform(0, 59),
                     f',"count":{count},"max":{count},"limit":8')  # fmt: skip
            seq += 1
        if minute % 15 == 14:
            start = datetime.fromtimestamp(t - 840, TZ).strftime("%H:%M")
            rows.add(site, desk, "summary", seq, t + 60.0,
                     f',"window_s":900.0,"screened":3,"fevers":0,"invalid":0,"people":20,'
                     f'"mask_violations":0,"max_occupancy":4,"alerts":{{}},"period":"15min",'
                     f'"date":"{d.isoformat()}","start":"{start}","arrivals_screened":3,'
                 f'"arrivals_unscreened":1,"scans":2')  # fmt: skip
            seq += 1
    return seq


def _rollup_rows(rng: random.Random, desk_keys: list[tuple[str, str]]) -> list[DayRollup]:
    """Per desk-day counts for the :data:`ROLLUP_DAYS` days before :data:`DAY` (problem rates
    drift over the weeks, for a trend)."""
    out = []
    for back in range(1, ROLLUP_DAYS + 1):
        d = DAY - timedelta(days=back)
        drift = 1.0 + 0.5 * (back / ROLLUP_DAYS)
        for site, desk in desk_keys:
            raised = {}
            for name, _family, mean in ALERT_MIX:
                n = int(mean * drift) + (1 if rng.random() < (mean * drift) % 1 else 0)
                if n:
                    raised[name] = n
            out.append(
                DayRollup(
                    site,
                    desk,
                    d,
                    events=2400,
                    screened=rng.randint(120, 200),
                    fevers=rng.randint(0, 3),
                    invalid=rng.randint(0, 6),
                    arrivals=rng.randint(140, 220),
                    peak=rng.randint(3, 10),
                    raised=raised,
                    last_status="online",
                    last_status_at=_at(d, 8.0) - 300,
                    last_health=_at(d, 20.0) - 90,
                )
            )
    return out


def _pg_ctl(server: Postgres, *args: str) -> None:
    server._run(str(server.bindir / "pg_ctl"), "-D", str(server.data), "-w", *args)


def _start_kept(root: Path) -> Postgres | None:
    """The cached server in ``root``, started; None when there is none of this :data:`VERSION`."""
    bindir = pg_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL binaries are missing: run `make setup`")
    if not (root / f"ready-{VERSION}").exists():
        return None
    server = Postgres(bindir, port=free_port(), root=root)
    if os.geteuid() == 0:
        server.proc_user = "nobody"
    r = server._run(
        str(bindir / "pg_ctl"), "-D", str(server.data), "-l", str(root / "server.log"),
        "-o", f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
        "-w", "start",
    )  # fmt: skip
    if r.returncode != 0:
        raise RuntimeError(f"pg_ctl start failed: {r.stderr}")
    return server


def build(smoke: bool | None = None) -> District:
    """The district database, from the cache when it is there."""
    smoke = os.environ.get("BENCH_SMOKE") == "1" if smoke is None else smoke
    desks = SMOKE_DESKS if smoke else DESKS
    root = OUT / "central-pg"
    keep = not smoke
    if keep and os.environ.get("BENCH_CENTRAL_FRESH") == "1" and root.exists():
        subprocess.run(["rm", "-rf", str(root)], check=False)
    if keep:
        server = _start_kept(root)
        if server is not None:
            meta = (root / f"ready-{VERSION}").read_text().split()
            return District(server.url("district"), desks, server, float(meta[0]),
                            float(meta[1]), meta[2] == "True", int(meta[3]), keep)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        bindir = pg_bin()
        assert bindir is not None
        server = Postgres(bindir, root=root).start()
    else:
        bindir = pg_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL binaries are missing: run `make setup`")
        server = Postgres(bindir).start()
    t0 = time.perf_counter()
    with psycopg.connect(host="127.0.0.1", port=server.port, user="postgres",
                         dbname="postgres", autocommit=True) as c:  # fmt: skip
        c.execute('CREATE DATABASE "district"')
    url = server.url("district")
    engine = open_db(url)
    rollups.ensure_tz(engine, TZ_NAME)
    first = DAY - timedelta(days=BACK_DAYS + 1)
    with engine.begin() as conn:
        d = first
        while d <= DAY + timedelta(days=2):
            partitions.create_partition(conn, d)
            d += timedelta(days=1)
    rng = random.Random(20)
    keys = sites(desks)
    events_day = 0
    raw = psycopg.connect(host="127.0.0.1", port=server.port, user="postgres", dbname="district")
    cols = "event_id, site, desk, kind, device, seq, ts, received, alert, state, alert_id, payload"
    for chunk in _chunks(keys, 100):
        rows = _Rows()
        for site, desk in chunk:
            seq = 1
            for back in range(BACK_DAYS, 0, -1):
                seq = _problems_and_status(rows, rng, site, desk, DAY - timedelta(days=back),
                                           seq, False)  # fmt: skip
            before = rows.n
            seq = _full_day(rows, rng, site, desk, seq)
            events_day += rows.n - before
        with raw.cursor() as cur:
            with cur.copy(f"COPY events ({cols}) FROM STDIN") as cp:
                cp.write(rows.events.getvalue())
            with cur.copy("COPY event_ids (event_id, ts) FROM STDIN") as cp:
                cp.write(rows.ids.getvalue())
        raw.commit()
    raw.execute("ANALYZE")
    raw.commit()
    raw.close()
    with engine.begin() as conn:
        rollups.add(conn, _rollup_rows(rng, keys))
        # The week's screening coverage rollup, from its day summaries (DAY's: by reconcile).
        summaries = reader.query(engine, rollups.day_bounds(first, TZ)[0],
                                 rollups.day_bounds(DAY, TZ)[0] + 1.0, kinds=["summary"])  # fmt: skip
        rollups.add_coverage(conn, list(rollups.compute_coverage(summaries).values()))
    r0 = time.perf_counter()
    rec = rollups.reconcile(engine, [DAY], TZ_NAME)
    reconcile_s = time.perf_counter() - r0
    # Reconcile found nothing stored for DAY: it rebuilt every desk-day (each a "difference").
    again = rollups.reconcile(engine, [DAY], TZ_NAME)
    built = time.perf_counter() - t0
    engine.dispose()
    with psycopg.connect(host="127.0.0.1", port=server.port, user="postgres",
                         dbname="district", autocommit=True) as c:  # fmt: skip
        c.execute("VACUUM ANALYZE")
    assert rec.desk_days == desks
    if keep:
        (root / f"ready-{VERSION}").write_text(
            f"{built:.1f} {reconcile_s:.1f} {again.matched} {events_day}\n"
        )
    return District(url, desks, server, built, reconcile_s, again.matched, events_day, keep)


def _chunks(items: list[tuple[str, str]], n: int) -> Iterator[list[tuple[str, str]]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
