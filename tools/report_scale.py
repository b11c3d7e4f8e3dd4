"""How long reports take on a district-sized store: ``python -m tools.report_scale [--events N]``.

Fills a private PostgreSQL (tools/pgserver.py) with N events (default 500,000) from 2,000 desks
spread over ISO week 2026-W48 (temperature, periodic occupancy, mask, health, crowding alerts
raised and cleared), then times the weekly report, the daily notification for every desk and for
one clinic, and the fleet page's query. Loopback only; the server is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Callable
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from central.report.daily import daily_report
from central.report.days import day_window
from central.report.weekly import weekly_report
from central.store.db import open_db
from central.store.records import Row, to_row
from central.store.writer import store
from central.web.fleet import fleet
from tools.pgserver import Postgres, pg_bin

TZ = ZoneInfo("UTC")
DESKS = 2000
KINDS = ("temperature", "occupancy", "mask", "health", "alert")


def _row(i: int, n: int, start: float) -> Row:
    d, kind = i % DESKS, KINDS[i % len(KINDS)]
    ts = start + (i / n) * 7 * 86400
    doc: dict[str, object] = {
        "v": 1, "id": uuid.uuid4().hex, "seq": i // DESKS + 1, "device": f"c{d:05d}", "kind": kind,
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts)),
    }  # fmt: skip
    if kind == "temperature":
        doc.update(result="normal", estimate_c=36.6)
    elif kind == "occupancy":
        doc.update(count=3, max=4, limit=5, window_s=60.0, people=2)
    elif kind == "alert":
        state = "raised" if (i // 5) % 2 == 0 else "cleared"
        doc.update(alert="crowding", state=state, alert_id=f"{d:08x}{i // 10:08x}", message="x")
    topic = f"triage/v1/clinic-{d // 4:04d}/desk-{d % 4 + 1}/{kind}"
    return to_row("triage/v1", topic, json.dumps(doc).encode(), ts)


def fill(engine: Engine, n: int, start: float) -> None:
    batch: list[Row] = []
    for i in range(n):
        batch.append(_row(i, n, start))
        if len(batch) == 5000:
            store(engine, batch)
            batch = []
    store(engine, batch)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--events", type=int, default=500_000)
    a = p.parse_args(argv)
    if a.events > 5_000_000:
        p.error("bounded: at most 5,000,000 events")
    bindir = pg_bin()
    if bindir is None:
        raise SystemExit("PostgreSQL binaries missing: apt-get install postgresql")
    pg = Postgres(bindir).start()
    try:
        engine = open_db(pg.create_database())
        monday = date(2026, 11, 23)
        start = day_window(monday, TZ).start
        t0 = time.monotonic()
        fill(engine, a.events, start)
        print(f"stored {a.events} events from {DESKS} desks in {time.monotonic() - t0:.1f} s")
        wednesday = date(2026, 11, 25)
        now = start + 3 * 86400
        runs: list[tuple[str, Callable[[], object]]] = [
            ("weekly report, all clinics", lambda: weekly_report(engine, 2026, 48, TZ)),
            ("daily notification, all desks", lambda: daily_report(engine, wednesday, TZ, now=now)),
            (
                "daily notification, one clinic",
                lambda: daily_report(engine, wednesday, TZ, "clinic-0007", now=now),
            ),
            ("fleet page data", lambda: fleet(engine, TZ, now=now)),
        ]
        for name, fn in runs:
            t = time.monotonic()
            fn()
            print(f"{name:32} {time.monotonic() - t:.2f} s")
    finally:
        pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
