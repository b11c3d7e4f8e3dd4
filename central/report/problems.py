"""A day's problems per clinic, by the district's kinds (central/report/kinds.py): the facts a
notice, the daily notification and the fleet's open problems are drafted from.

A problem is an alert from its raise to its clear (tied by ``alert_id``) or a period the box was
offline (from its ``status`` events; central/report/daily.py says how a Will is timed). Fevers are
screening results and never problems. What is read, all restricted to the viewer's clinics
(``sites``; None = every clinic) and by the ``(kind, ts)`` index, so a day of a district costs the
day's alert and status events, not its millions of other events:

- the alert events dated in the day;
- raises from the :data:`LOOKBACK_S` before the day with no clear before the day (still open at
  its start);
- clears after the day of problems still open at its end (a past day: "put right later");
- status events from the :data:`LOOKBACK_S` before the day to its end (offline periods).

A desk offline for longer than :data:`LOOKBACK_S` before the day is not listed as offline that day
(its status history is not read that far back); the fleet page still shows it offline.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Engine, exists, select

from central.report.daily import Problem, offline_periods, problems
from central.report.days import Window, day_window
from central.report.kinds import NOT_WORKING, OFFLINE, kind_of
from central.store import reader
from central.store.reader import Stored
from central.store.tables import events

LOOKBACK_S = 14 * 86400
"""How far before a day a problem still open at its start (or an offline period) is looked for."""

T = TypeVar("T")

_CHUNK = 500
"""Alert ids per ``IN (...)`` when reading the later clears."""


@dataclass(frozen=True, slots=True)
class DayProblem:
    """One problem at one desk: a raised alert or an offline period."""

    site: str
    desk: str
    kind: str
    """A key of central/report/kinds.py (``not_working``, ``staff``, ``crowding``, ``unmasked``,
    ``other``)."""
    alert: str
    """The alert name, or ``offline`` (central/report/kinds.py OFFLINE)."""
    alert_id: str | None
    """None for an offline period."""
    start: float | None
    """Raised / went offline, POSIX s; None when only the clear was received."""
    end: float | None
    """Cleared / back online, POSIX s (may be after the day); None while still open."""
    duration_s: float | None
    """``end - start``, or up to the time of the reading while open; None without a start."""
    value: float | None = None
    zone: str | None = None
    reason: str | None = None
    """Why it was cleared (the box's ``reason``), or for an offline period ``connection lost``
    or ``stopped``."""
    message: str = ""
    cause: str | None = None
    """Why a mask alert was raised: ``no_mask`` or ``worn_wrong`` (a mask worn wrong)."""

    @property
    def is_open(self) -> bool:
        return self.end is None

    @property
    def is_offline(self) -> bool:
        return self.alert == OFFLINE

    def began_before(self, day_start: float) -> bool:
        return self.start is not None and self.start < day_start


def _scope(sites: frozenset[str] | None) -> list[ColumnElement[bool]]:
    if sites is None:
        return []
    return [events.c.site.in_(sorted(sites))]


def _on(conn: Connection | Engine, fn: Callable[[Connection], T]) -> T:
    if isinstance(conn, Connection):
        return fn(conn)
    with conn.connect() as c:
        return fn(c)


def alert_events(conn: Connection, window: Window, sites: frozenset[str] | None) -> list[Stored]:
    """The alert events that make up the problems overlapping ``window`` (see the module)."""
    scope = _scope(sites)
    alert = [events.c.kind == "alert", reader.SANE, *scope]
    in_day = select(*reader.COLUMNS).where(
        *alert, events.c.ts >= window.start, events.c.ts < window.end
    )
    found = list(reader.rows(conn, in_day))
    later = events.alias("later")
    still_open = select(*reader.COLUMNS).where(
        *alert,
        events.c.state == "raised",
        events.c.ts >= window.start - LOOKBACK_S,
        events.c.ts < window.start,
        ~exists().where(
            later.c.kind == "alert",
            later.c.alert_id == events.c.alert_id,
            later.c.state == "cleared",
            later.c.ts >= window.start - LOOKBACK_S,
            later.c.ts < window.start,
        ),
    )
    found += reader.rows(conn, still_open)
    cleared = {e.alert_id for e in found if e.state == "cleared" and e.alert_id}
    open_ids = sorted({e.alert_id for e in found if e.state == "raised" and e.alert_id} - cleared)
    for i in range(0, len(open_ids), _CHUNK):
        after = select(*reader.COLUMNS).where(
            *alert,
            events.c.state == "cleared",
            events.c.ts >= window.end,
            events.c.alert_id.in_(open_ids[i : i + _CHUNK]),
        )
        found += reader.rows(conn, after)
    return found


def status_events(conn: Connection, window: Window, sites: frozenset[str] | None) -> list[Stored]:
    """Status events from :data:`LOOKBACK_S` before ``window`` to its end."""
    stmt = select(*reader.COLUMNS).where(
        events.c.kind == "status",
        reader.SANE,
        *_scope(sites),
        events.c.ts >= window.start - LOOKBACK_S,
        events.c.ts < window.end,
    )
    return list(reader.rows(conn, stmt))


def _from_alert(p: Problem, now: float) -> DayProblem | None:
    kind = kind_of(p.alert, p.family)
    if kind is None:
        return None
    return DayProblem(
        site=p.site, desk=p.desk, kind=kind, alert=p.alert, alert_id=p.alert_id,
        start=p.raised, end=p.cleared, duration_s=p.duration(now), value=p.value, zone=p.zone,
        reason=p.reason, message=p.message, cause=p.cause,
    )  # fmt: skip


def collect(
    alerts: Iterable[Stored], statuses: Iterable[Stored], window: Window, now: float
) -> dict[str, tuple[DayProblem, ...]]:
    """Pair ``alerts`` into problems and ``statuses`` into offline periods overlapping ``window``,
    per site, each site's sorted by start then desk."""
    out: dict[str, list[DayProblem]] = defaultdict(list)
    for p in problems(alerts, window):
        dp = _from_alert(p, now)
        if dp is not None:
            out[dp.site].append(dp)
    by_desk: dict[tuple[str, str], list[Stored]] = defaultdict(list)
    for e in statuses:
        by_desk[e.key].append(e)
    for (site, desk), sts in by_desk.items():
        for o in offline_periods(sts, window):
            out[site].append(
                DayProblem(
                    site=site,
                    desk=desk,
                    kind=NOT_WORKING,
                    alert=OFFLINE,
                    alert_id=None,
                    start=o.start,
                    end=o.end,
                    duration_s=o.duration(now),
                    reason=o.how,
                )
            )
    return {site: tuple(sorted(ps, key=_order)) for site, ps in sorted(out.items())}


def _order(p: DayProblem) -> tuple[float, str, str]:
    return (p.start if p.start is not None else p.end or 0.0, p.desk, p.alert)


def day_problems(
    conn: Connection | Engine,
    day: date,
    tz: ZoneInfo,
    sites: frozenset[str] | None = None,
    now: float | None = None,
) -> dict[str, tuple[DayProblem, ...]]:
    """The problems of local ``day`` per clinic (site id -> its problems, oldest first): every
    alert that is a problem (not a fever) raised during the day, or raised before and still open
    at its start, and every offline period overlapping the day; with kind, start, end (None while
    open), duration (open ones up to ``now``, default the time of the call) and desk. Clinics
    without problems are absent. ``sites``: the viewer's clinics (None = all)."""
    window = day_window(day, tz)
    now = time.time() if now is None else now
    return _on(
        conn,
        lambda c: collect(
            alert_events(c, window, sites), status_events(c, window, sites), window, now
        ),
    )


def open_now(
    conn: Connection | Engine,
    now: float,
    sites: frozenset[str] | None = None,
) -> dict[str, tuple[DayProblem, ...]]:
    """Problems open at ``now`` (raised in the :data:`LOOKBACK_S` before, not cleared; offline
    desks), per clinic, oldest first."""
    window = Window(date.min, date.max, now, now + 1.0)
    found = _on(
        conn,
        lambda c: collect(
            alert_events(c, window, sites), status_events(c, window, sites), window, now
        ),
    )
    return {
        site: kept
        for site, ps in found.items()
        if (kept := tuple(p for p in ps if p.end is None or p.end > now))
    }


def count_by_kind(found: Iterable[DayProblem]) -> dict[str, int]:
    """Problems per kind key."""
    out: dict[str, int] = defaultdict(int)
    for p in found:
        out[p.kind] += 1
    return dict(out)


def flatten(per_site: Mapping[str, Sequence[DayProblem]]) -> list[DayProblem]:
    return [p for ps in per_site.values() for p in ps]
