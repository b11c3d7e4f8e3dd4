"""The database reads behind the district's fleet page (central/web/glance.py), and their sharing.

Per desk ever rolled up: its newest day, newest health time and the status that took effect last
(one pass over ``rollup_days``); the health and status events at exactly those times; today's
screened and fevers; the open alerts per clinic; the messages refused in the last 24 hours. These
are shared by every viewer of the same clinics for :data:`READS_TTL_S`; today's missing sequence
numbers (a scan of the day's events) are computed once and then refreshed in the background every
:data:`MISSING_TTL_S`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, Engine, and_, func, select

from central.report.days import Window
from central.report.problems import DayProblem, alert_events, collect
from central.store import reader
from central.store.reader import Stored
from central.store.tables import events, rollup_days


@dataclass(frozen=True, slots=True)
class _Last:
    """A desk's newest state in the rollups."""

    site: str
    desk: str
    last_day: date
    last_health: float | None
    status: str | None
    status_at: float | None


def _last_states(conn: Connection, sites: frozenset[str] | None) -> list[_Last]:
    """Per desk ever rolled up: its newest day, newest health time and the status that took
    effect last (one pass over ``rollup_days``)."""
    t = rollup_days
    scope = [t.c.site.in_(sorted(sites))] if sites is not None else []
    agg = (
        select(
            t.c.site,
            t.c.desk,
            func.max(t.c.day),
            func.max(t.c.last_health),
            func.max(t.c.last_status_at),
        )
        .where(*scope)
        .group_by(t.c.site, t.c.desk)
        .subquery()
    )
    cols = list(agg.c)
    stmt = (
        select(*cols, t.c.last_status)
        .select_from(
            agg.outerjoin(
                t,
                and_(t.c.site == cols[0], t.c.desk == cols[1], t.c.last_status_at == cols[4]),
            )
        )
        .order_by(cols[0], cols[1], t.c.last_status.desc())
    )
    out: dict[tuple[str, str], _Last] = {}
    for r in conn.execute(stmt):
        key = (r[0], r[1])
        if key not in out:  # ties at the same time: the greater state name (as the rollups)
            out[key] = _Last(r[0], r[1], r[2], r[3], r[5], r[4])
    return list(out.values())


def _docs_at(
    conn: Connection, kind: str, wanted: dict[tuple[str, str], float]
) -> dict[tuple[str, str], Stored]:
    """The ``kind`` event of each desk at exactly the time given (the rollups know it)."""
    out: dict[tuple[str, str], Stored] = {}
    times = sorted(set(wanted.values()))
    for i in range(0, len(times), 500):
        stmt = select(*reader.COLUMNS).where(
            events.c.kind == kind, events.c.ts.in_(times[i : i + 500]), reader.SANE
        )
        for e in reader.rows(conn, stmt):
            if wanted.get(e.key) == e.ts:
                out[e.key] = e
    return out


READS_TTL_S = 5.0
"""The fleet's reads are shared by every viewer of the same clinics for this long (the page
refreshes itself every 30 s; 4 viewers at once cost one set of reads)."""

_Reads = tuple[
    list[_Last],
    dict[tuple[str, str], Stored],
    dict[tuple[str, str], Stored],
    dict[tuple[str, str], tuple[int, int]],
    dict[str, tuple[DayProblem, ...]],
    dict[str, int],
]
_shared: dict[tuple[str, frozenset[str] | None, float, date], tuple[float, _Reads]] = {}
_shared_lock = threading.Lock()


def shared_reads(engine: Engine, sites: frozenset[str] | None, now: float, day: date) -> _Reads:
    """:func:`_reads`, computed once per :data:`READS_TTL_S` for the same engine and clinics (the
    others wait for it rather than read the same again)."""
    key = (str(engine.url), sites, round(now / READS_TTL_S), day)
    with _shared_lock:
        hit = _shared.get(key)
        if hit is not None and time.monotonic() - hit[0] < READS_TTL_S:
            return hit[1]
        reads = _reads(engine, sites, now, day)
        for k in [k for k, v in _shared.items() if time.monotonic() - v[0] >= READS_TTL_S]:
            del _shared[k]
        _shared[key] = (time.monotonic(), reads)
        return reads


MISSING_TTL_S = 60.0
"""Today's missing sequence numbers scan the day's events (seconds at 2,000 desks): computed at
most once a minute per set of clinics."""
_missing: dict[
    tuple[str, frozenset[str] | None, date], tuple[float, dict[tuple[str, str], int]]
] = {}
_missing_lock = threading.Lock()


_refreshing: set[tuple[str, frozenset[str] | None, date]] = set()


def shared_missing(
    engine: Engine, sites: frozenset[str] | None, window: Window
) -> dict[tuple[str, str], int]:
    """Computed on the first call; afterwards the last figure is answered at once and refreshed in
    the background when older than :data:`MISSING_TTL_S` (a page never waits for the scan again)."""
    key = (str(engine.url), sites, window.first)

    def compute() -> dict[tuple[str, str], int]:
        found = reader.missing_seq(engine, window.start, window.end)
        if sites is not None:
            found = {k: v for k, v in found.items() if k[0] in sites}
        return found

    def refresh() -> None:
        try:
            found = compute()
            with _missing_lock:
                _missing[key] = (time.monotonic(), found)
        finally:
            with _missing_lock:
                _refreshing.discard(key)

    with _missing_lock:
        hit = _missing.get(key)
        if hit is not None:
            if time.monotonic() - hit[0] >= MISSING_TTL_S and key not in _refreshing:
                _refreshing.add(key)
                threading.Thread(target=refresh, daemon=True, name="missing-seq").start()
            return hit[1]
    found = compute()
    with _missing_lock:
        for old in [k for k in _missing if k[2] != window.first]:  # yesterday's: forgotten
            del _missing[old]
        _missing[key] = (time.monotonic(), found)
    return found


def _reads(engine: Engine, sites: frozenset[str] | None, now: float, day: date) -> _Reads:
    with engine.connect() as conn:
        lasts = _last_states(conn, sites)
        health = _docs_at(conn, "health", {(x.site, x.desk): x.last_health for x in lasts
                                            if x.last_health is not None})  # fmt: skip
        statuses = _docs_at(conn, "status", {(x.site, x.desk): x.status_at for x in lasts
                                            if x.status_at is not None})  # fmt: skip
        t = rollup_days
        counts = {
            (r[0], r[1]): (int(r[2]), int(r[3]))
            for r in conn.execute(
                select(t.c.site, t.c.desk, t.c.screened, t.c.fevers).where(t.c.day == day)
            )
        }
        # Open alerts only: whether a desk is offline is its last status (the rollups); an
        # offline problem is added for it below.
        window = Window(date.min, date.max, now, now + 1.0)
        found = collect(alert_events(conn, window, sites), (), window, now)
    open_by_site = {
        site: kept
        for site, ps in found.items()
        if (kept := tuple(p for p in ps if p.end is None or p.end > now))
    }
    refused = reader.quarantined(engine, now - 86400) if sites is None else {}
    return lasts, health, statuses, counts, open_by_site, refused
