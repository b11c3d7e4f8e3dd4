"""The district's pages and reports on PostgreSQL at 2,000 desks (issue 20 item 2).

The database is bench/central_district.py's (a full clinic day of ~4.8 M events, the week behind
it, 8 weeks of rollups; built once and kept in bench/out/central-pg). Measured as a page is served
(the route's function with a real request, rendering included; HTTP adds a few ms):

- ``fleet_p95_s``: the fleet page ``/``, 4 viewers at once, each loading it :data:`ROUNDS` times;
- ``day_page_s``: the daily notification ``/day`` (first page), ``day_csv_s`` ``/day.csv`` whole;
- ``report_date_s``/``report_date_rss_mb``: ``triage-central report --date`` in its own process
  (every clinic, written to a file), wall time and peak RSS;
- ``week_page_s``/``week_report_s``: ``/week`` and ``report --week`` over the full district week
  before the day;
- ``clinic_page_s``: one clinic's page (its two desks' day, timelines, checks).

``BENCH_SMOKE=1``: a 40-desk district in a temporary server, one round.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import uvicorn
from starlette.requests import Request

from bench import central_district as cd
from central.i18n import translator
from central.report.render import templates
from central.store.db import open_db
from central.web import district
from central.web.server import create_app
from tools.pgserver import free_port

ROUNDS = 5
VIEWERS = 4
REPO = Path(__file__).resolve().parents[1]


def _request(query: str = "") -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [],
                    "query_string": query.encode(), "state": {}})  # fmt: skip


_PEAK_RSS = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:])\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(usage.ru_maxrss, file=sys.stderr)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)
"""Runs its arguments and prints that process's peak RSS (KiB) on its last stderr line. A child
keeps the peak RSS of the process it was forked from (Linux folds the old memory's high-water mark
into ``ru_maxrss`` at ``exec``), so the report is started from this small launcher, never straight
from the benchmark (several hundred MiB by then), whose own size it would otherwise report."""


def run_measuring_peak_rss(cmd: list[str]) -> int:
    """Run ``cmd`` to its end; its own peak RSS in KiB."""
    proc = subprocess.run([sys.executable, "-c", _PEAK_RSS, *cmd], cwd=REPO, check=True,
                          stderr=subprocess.PIPE, text=True)  # fmt: skip
    *said, peak = proc.stderr.rstrip("\n").split("\n")
    sys.stderr.writelines(line + "\n" for line in said)
    return int(peak)


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> dict[str, Any]:
    smoke = os.environ.get("BENCH_SMOKE") == "1"
    d = cd.build(smoke)
    try:
        return _measure(d, smoke)
    finally:
        d.stop()


def _measure(d: cd.District, smoke: bool) -> dict[str, Any]:
    engine = open_db(d.url)
    t = translator("zh_CN")
    env = templates(t)
    for e in (env,):
        e.globals.setdefault("csrf_input", "")
    tz, day, now = cd.TZ, cd.DAY, cd.NOW
    rounds = 1 if smoke else ROUNDS

    def fleet() -> None:
        r = district.fleet_page(_request(), engine, tz, t, env, now=now)
        assert r.status_code == 200

    fleet()  # warm the caches once, as a served dashboard is
    with ThreadPoolExecutor(VIEWERS) as pool:
        times = list(pool.map(lambda _: _timed(fleet), range(VIEWERS * rounds)))
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]

    def day_page() -> None:
        r = district.day_page(_request(), engine, day, tz, t, now=now)
        assert r.status_code == 200

    day_s = statistics.median(_timed(day_page) for _ in range(rounds))

    def day_csv() -> None:
        r = district.day_csv(_request(), engine, day, tz, t, now=now)
        body = r.body_iterator  # type: ignore[attr-defined]

        async def drain() -> int:
            n = 0
            async for chunk in body:
                n += len(chunk)
            return n

        assert asyncio.run(drain()) > 0

    csv_s = statistics.median(_timed(day_csv) for _ in range(rounds))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(engine, tz, language="zh_CN"),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> None:
        with urllib.request.urlopen(base + path, timeout=120) as resp:
            assert resp.status == 200
            resp.read()

    try:
        week_s = statistics.median(
            _timed(lambda: get("/week?week=2026-W47")) for _ in range(rounds)
        )
        clinic_s = statistics.median(
            _timed(lambda: get(f"/clinic/clinic-0007?date={day}")) for _ in range(rounds)
        )
    finally:
        server.should_exit = True
        thread.join(10)
    out = Path(tempfile.mkdtemp()) / "day.txt"
    cmd = [sys.executable, "-m", "central", "report", "--db", d.url, "--tz", cd.TZ_NAME,
           "--date", day.isoformat(), "-o", str(out)]  # fmt: skip
    t0 = time.perf_counter()
    report_rss_kib = run_measuring_peak_rss(cmd)
    report_s = time.perf_counter() - t0
    lines = out.read_text(encoding="utf-8").count("\n")
    t0 = time.perf_counter()
    subprocess.run([*cmd[:6], "--week", "2026-W47", "-o", str(out)], cwd=REPO, check=True)
    week_report_s = time.perf_counter() - t0
    engine.dispose()
    return {
        "desks": d.desks,
        "events_day": d.events_day,
        "build_s": round(d.built_s, 1),
        "reconcile_day_s": round(d.reconcile_s or 0.0, 1),
        "reconcile_matched": d.reconciled,
        "fleet_p95_s": round(p95, 3),
        "fleet_median_s": round(statistics.median(times), 3),
        "day_page_s": round(day_s, 3),
        "day_csv_s": round(csv_s, 3),
        "report_date_s": round(report_s, 2),
        "report_date_rss_mb": round(report_rss_kib / 1024, 1),
        "report_date_lines": lines,
        "week_page_s": round(week_s, 3),
        "week_report_s": round(week_report_s, 2),
        "clinic_page_s": round(clinic_s, 3),
    }
