"""The daily notification from the rollups: per clinic, the day's problems by the district's kinds,
with the day's screening counts; filtered, searched and paged on the server.

What it reads (never the day's millions of raw counts): ``rollup_days`` (counts per desk and day),
the day's problems from central/report/problems.py (the day's alert and status events only) and
the boxes' day summaries (screening coverage and scans: central/report/coverage.py).
Fevers are screening results: counted (``fevers``) and listed apart, never problems. Offline time is
a "triage point not working" problem, in the headline with its minutes. The technician's lines
(sequence numbers, the box's own counts against the stored ones) are on the clinic page
(central/report/daily.py), not here.

Every reading takes the viewer's clinics (``sites``; None = all). :func:`notification` gives one
page for the dashboard; :func:`all_clinics` streams every clinic for the CSV and the CLI report.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select

from central.config import ConfigError
from central.report.coverage import desk_coverage
from central.report.days import Window, day_window
from central.report.kinds import KINDS, OFFLINE, parse_kind
from central.report.problems import DayProblem, alert_events, collect, status_events
from central.store.coverage import Coverage
from central.store.reader import Stored
from central.store.records import NAME
from central.store.tables import rollup_days

PER_PAGE = 50
"""Clinics per page on the dashboard."""
MAX_PER_PAGE = 500
SEARCH_MAX = 64


@dataclass(frozen=True, slots=True)
class Filters:
    """What the reader asked for (``/day?kind=crowding&open=1&q=east&page=2``)."""

    kind: str | None = None
    """Only problems of this kind (and clinics that have one)."""
    q: str = ""
    """Clinic id or registry name containing this (case-insensitive)."""
    only_problems: bool = False
    only_open: bool = False
    """Only problems still open (and clinics that have one)."""
    offline: bool = False
    """Only clinics with offline time that day."""
    page: int = 1
    per_page: int = PER_PAGE

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> Filters:
        """From a query string; :class:`ConfigError` naming the parameter for a bad value."""
        kind = params.get("kind") or None
        q = (params.get("q") or "").strip()
        if len(q) > SEARCH_MAX:
            raise ConfigError(f"q: a search is at most {SEARCH_MAX} characters")
        return cls(
            kind=parse_kind(kind) if kind else None,
            q=q,
            only_problems=_flag(params, "problems"),
            only_open=_flag(params, "open"),
            offline=_flag(params, "offline"),
            page=_int(params, "page", 1, 1, 1_000_000),
            per_page=_int(params, "per_page", PER_PAGE, 1, MAX_PER_PAGE),
        )

    def query(self, **change: object) -> str:
        """The query string of these filters with ``change`` applied (for links)."""
        values = {
            "kind": self.kind or "", "q": self.q, "problems": "1" if self.only_problems else "",
            "open": "1" if self.only_open else "", "offline": "1" if self.offline else "",
            "page": str(self.page) if self.page != 1 else "",
            "per_page": str(self.per_page) if self.per_page != PER_PAGE else "",
        }  # fmt: skip
        for k, v in change.items():
            values[k] = "" if v is None or v is False else ("1" if v is True else str(v))
        return urlencode({k: v for k, v in values.items() if v})

    @property
    def narrowed(self) -> bool:
        return bool(self.kind or self.q or self.only_problems or self.only_open or self.offline)


def _flag(params: Mapping[str, str], name: str) -> bool:
    v = params.get(name, "")
    if v in ("", "0"):
        return False
    if v in ("1", "on", "true", "yes"):
        return True
    raise ConfigError(f"{name}: {v[:20]!r} is not 1 or 0")


def _int(params: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    v = params.get(name, "")
    if not v:
        return default
    if not v.isdigit() or not lo <= int(v) <= hi:
        raise ConfigError(f"{name}: {v[:20]!r} is not a number from {lo} to {hi}")
    return int(v)


@dataclass(frozen=True, slots=True)
class DeskCounts:
    """One desk's counts of the day (from ``rollup_days``)."""

    desk: str
    screened: int = 0
    fevers: int = 0
    invalid: int = 0
    arrivals: int = 0
    peak: int = 0
    last_status: str | None = None
    coverage: Coverage = field(default_factory=Coverage)


@dataclass(frozen=True, slots=True)
class Fever:
    """A fever alert: a screening result (the person was sent to the fever clinic)."""

    site: str
    desk: str
    at: float
    value: float | None


@dataclass(frozen=True, slots=True)
class ClinicDay:
    """One clinic's day on the notification."""

    site: str
    name: str | None
    desks: tuple[DeskCounts, ...]
    problems: tuple[DayProblem, ...]
    fever_list: tuple[Fever, ...] = ()

    @property
    def screened(self) -> int:
        return sum(d.screened for d in self.desks)

    @property
    def fevers(self) -> int:
        return sum(d.fevers for d in self.desks)

    @property
    def invalid(self) -> int:
        return sum(d.invalid for d in self.desks)

    @property
    def arrivals(self) -> int:
        return sum(d.arrivals for d in self.desks)

    @property
    def coverage(self) -> Coverage:
        return sum((d.coverage for d in self.desks), Coverage())

    @property
    def open(self) -> int:
        return sum(1 for p in self.problems if p.is_open)

    @property
    def offline_s(self) -> float:
        return sum(p.duration_s or 0.0 for p in self.problems if p.alert == OFFLINE)

    def by_kind(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for p in self.problems:
            out[p.kind] += 1
        return dict(out)


@dataclass(frozen=True, slots=True)
class Headline:
    """The district's day (the viewer's clinics, before filters)."""

    clinics: int
    desks: int
    clinics_with_problems: int
    problems: dict[str, int]
    """Per kind key, every kind present (0 too)."""
    open: int
    offline_periods: int
    offline_s: float
    screened: int
    fevers: int
    coverage: Coverage = field(default_factory=Coverage)

    @property
    def total(self) -> int:
        return sum(self.problems.values())


@dataclass(frozen=True, slots=True)
class Notification:
    """One page of the daily notification."""

    day: date
    tz: ZoneInfo
    window: Window
    generated: float
    filters: Filters
    headline: Headline
    matched: int
    """Clinics matching the filters (all pages)."""
    clinics: tuple[ClinicDay, ...]
    names: Mapping[str, str] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.matched / self.filters.per_page))


# --- reading -----------------------------------------------------------------------------------
def _desk_counts(
    conn: Connection, day: date, sites: frozenset[str] | None
) -> dict[str, list[DeskCounts]]:
    t = rollup_days
    stmt = select(
        t.c.site, t.c.desk, t.c.screened, t.c.fevers, t.c.invalid, t.c.arrivals, t.c.peak,
        t.c.last_status,
    ).where(t.c.day == day)  # fmt: skip
    if sites is not None:
        stmt = stmt.where(t.c.site.in_(sorted(sites)))
    out: dict[str, list[DeskCounts]] = defaultdict(list)
    for r in conn.execute(stmt.order_by(t.c.site, t.c.desk)):
        out[r[0]].append(DeskCounts(r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]),
                                    r[7]))  # fmt: skip
    return out


def _fevers(alerts: list[Stored], window: Window) -> dict[str, list[Fever]]:
    out: dict[str, list[Fever]] = defaultdict(list)
    for e in alerts:
        if e.alert == "fever" and e.state == "raised" and window.contains(e.ts):
            out[e.site].append(Fever(e.site, e.desk, e.ts, e.number("value")))
    return out


@dataclass(frozen=True, slots=True)
class _Day:
    window: Window
    generated: float
    counts: dict[str, list[DeskCounts]]
    problems: dict[str, tuple[DayProblem, ...]]
    fevers: dict[str, list[Fever]]

    def clinic(self, site: str, names: Mapping[str, str]) -> ClinicDay:
        return ClinicDay(site, names.get(site), tuple(self.counts.get(site, ())),
                         self.problems.get(site, ()), tuple(self.fevers.get(site, ())))  # fmt: skip


def _read(
    conn: Connection, day: date, tz: ZoneInfo, sites: frozenset[str] | None, now: float
) -> _Day:
    window = day_window(day, tz)
    alerts = alert_events(conn, window, sites)
    found = collect(alerts, status_events(conn, window, sites), window, now)
    counts = _desk_counts(conn, day, sites)
    keys = [(s, d.desk) for s, desks in counts.items() for d in desks]
    cov = desk_coverage(conn, day, tz, sites, keys, window)
    for s, desks in counts.items():
        desks[:] = [replace(d, coverage=cov[(s, d.desk)]) if (s, d.desk) in cov else d
                    for d in desks]  # fmt: skip
    return _Day(window, now, counts, found, _fevers(alerts, window))


def _matches(c: ClinicDay, f: Filters, names: Mapping[str, str]) -> ClinicDay | None:
    """``c`` narrowed to the filters' problems, or None when it does not match."""
    if f.q:
        q = f.q.casefold()
        if q not in c.site.casefold() and q not in (names.get(c.site) or "").casefold():
            return None
    problems = c.problems
    if f.kind is not None:
        problems = tuple(p for p in problems if p.kind == f.kind)
    if f.only_open:
        problems = tuple(p for p in problems if p.is_open)
    if (f.kind is not None or f.only_open or f.only_problems) and not problems:
        return None
    if f.offline and not any(p.alert == OFFLINE for p in c.problems):
        return None
    return ClinicDay(c.site, c.name, c.desks, problems, c.fever_list)


def _order(c: ClinicDay) -> tuple[int, int, str]:
    """Clinics with open problems first, then by problems, then by id."""
    return (-c.open, -len(c.problems), c.site)


def _headline(d: _Day, clinics: list[ClinicDay]) -> Headline:
    per_kind = {k.key: 0 for k in KINDS}
    offline_n, offline_s, open_n = 0, 0.0, 0
    for c in clinics:
        for p in c.problems:
            per_kind[p.kind] = per_kind.get(p.kind, 0) + 1
            open_n += p.is_open
            if p.alert == OFFLINE:
                offline_n += 1
                offline_s += p.duration_s or 0.0
    return Headline(
        clinics=len(clinics),
        desks=sum(len(c.desks) for c in clinics),
        clinics_with_problems=sum(1 for c in clinics if c.problems),
        problems=per_kind,
        open=open_n,
        offline_periods=offline_n,
        offline_s=offline_s,
        screened=sum(c.screened for c in clinics),
        fevers=sum(c.fevers for c in clinics),
        coverage=sum((c.coverage for c in clinics), Coverage()),
    )


def _on(conn: Connection | Engine) -> tuple[Connection, bool]:
    if isinstance(conn, Connection):
        return conn, False
    return conn.connect(), True


def notification(
    conn: Connection | Engine,
    day: date,
    tz: ZoneInfo,
    sites: frozenset[str] | None = None,
    filters: Filters | None = None,
    names: Mapping[str, str] | None = None,
    now: float | None = None,
) -> Notification:
    """One page of local ``day``'s notification for the viewer's clinics ``sites`` (None = all);
    ``names``: registry names by site id (searched and shown when given)."""
    f = filters or Filters()
    names = names or {}
    now = time.time() if now is None else now
    c, close = _on(conn)
    try:
        d = _read(c, day, tz, sites, now)
    finally:
        if close:
            c.close()
    every = [d.clinic(s, names) for s in sorted(set(d.counts) | set(d.problems))]
    matched = sorted((m for c_ in every if (m := _matches(c_, f, names))), key=_order)
    start = (f.page - 1) * f.per_page
    return Notification(
        day, tz, d.window, now, f, _headline(d, every), len(matched),
        tuple(matched[start : start + f.per_page]), names,
    )  # fmt: skip


def all_clinics(
    conn: Connection | Engine,
    day: date,
    tz: ZoneInfo,
    sites: frozenset[str] | None = None,
    filters: Filters | None = None,
    names: Mapping[str, str] | None = None,
    now: float | None = None,
) -> tuple[Notification, Iterator[ClinicDay]]:
    """The notification's headline (no clinic on it) and every matching clinic by id, for a CSV
    or a report written as it is read."""
    f = filters or Filters()
    names = names or {}
    now = time.time() if now is None else now
    c, close = _on(conn)
    try:
        d = _read(c, day, tz, sites, now)
    finally:
        if close:
            c.close()
    keys = sorted(set(d.counts) | set(d.problems))
    every = [d.clinic(s, names) for s in keys]
    head = Notification(day, tz, d.window, now, f, _headline(d, every), 0, (), names)

    def gen() -> Iterator[ClinicDay]:
        for cd in every:
            m = _matches(cd, f, names)
            if m is not None:
                yield m

    return head, gen()


def check_site(site: str) -> str:
    """A clinic id from a URL; :class:`ConfigError` when it cannot be one."""
    if not NAME.match(site):
        raise ConfigError(f"clinic: {site[:40]!r} is not a clinic id")
    return site


def count_desks(conn: Connection, day: date) -> int:
    return int(conn.execute(select(func.count()).where(rollup_days.c.day == day)).scalar_one())
