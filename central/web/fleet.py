"""The fleet at a glance: every desk's availability, last event, today's counts and open problems.

:func:`glance` is the dashboard's page for a district (2,000 desks and more): desks grouped by state
worst first (offline, silent, a source not ok, open problems, ok) with counts per group, paged and
searched on the server, each desk's box version and the models its status names,
built from the rollups, each desk's newest health and status read by their exact times, and the
open problems (central/report/problems.py). :func:`fleet` reads the raw events (a few desks: the
tests and the technician's detail).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, and_, func, select

from central.config import ConfigError
from central.report.counts import COUNTED_KINDS, Counts, per_desk
from central.report.daily import LOOKBACK_S, Problem, effective_time, problems
from central.report.days import Window, day_window, today
from central.report.kinds import NOT_WORKING, OFFLINE
from central.report.notification import Filters
from central.report.problems import DayProblem, alert_events, collect
from central.store import reader
from central.store.reader import Stored
from central.store.tables import events, rollup_days

SILENT_AFTER_S = 600.0
"""For boxes that do not say how often they send health: a desk whose status is ``online`` but whose
newest health is older than this is shown as silent."""


def silent_for(
    status: reader.Stored, health: reader.Stored | None, last_received: float, now: float
) -> float | None:
    """Seconds a desk whose retained status is ``online`` has been silent, or None if it is up.

    The contract's rule (docs/EVENTS.md, Availability): up while the newest ``health`` is at most
    3 x ``health_every_s`` old (given in the ``online`` status); without it, :data:`SILENT_AFTER_S`.
    """
    if status.state != "online":
        return None
    every = status.number("health_every_s")
    limit = 3 * every if every else SILENT_AFTER_S
    age = now - (health.ts if health is not None else last_received)
    return age if age > limit else None


@dataclass(frozen=True, slots=True)
class DeskState:
    """One desk on the fleet page."""

    site: str
    desk: str
    online: bool | None
    status_since: float | None
    last_seen: float
    counts: Counts
    open_problems: tuple[Problem, ...]
    sources: tuple[str, ...]
    """Sources not ``ok`` in the newest health event, e.g. ``camera: stale``."""
    outbox_depth: int | None
    silent_s: float | None = None
    """Seconds without any event while the status says online (past :data:`SILENT_AFTER_S`)."""
    missing_seq: int = 0
    """Sequence numbers missing among today's events: events lost between the box and here."""


@dataclass(frozen=True, slots=True)
class Fleet:
    window: Window
    generated: float
    desks: tuple[DeskState, ...]
    quarantined: dict[str, int] = field(default_factory=dict)
    """Messages refused in the last 24 hours, by reason."""

    @property
    def missing_seq(self) -> int:
        return sum(d.missing_seq for d in self.desks)

    @property
    def desks_missing(self) -> int:
        return sum(1 for d in self.desks if d.missing_seq)

    @property
    def open_problems(self) -> list[Problem]:
        """Every open problem, oldest first."""
        out = [p for d in self.desks for p in d.open_problems]
        return sorted(out, key=lambda p: p.raised or 0.0)

    @property
    def offline(self) -> int:
        return sum(1 for d in self.desks if d.online is False)

    @property
    def silent(self) -> int:
        return sum(1 for d in self.desks if d.silent_s is not None)


def _sources(doc: dict[str, object]) -> tuple[str, ...]:
    src = doc.get("sources")
    if not isinstance(src, dict):
        return ()
    out = []
    for name, v in sorted(src.items()):
        state = v.get("state") if isinstance(v, dict) else None
        if isinstance(state, str) and state != "ok":
            out.append(f"{name}: {state}")
    return tuple(out)


def fleet(engine: Engine, tz: ZoneInfo, site: str | None = None, now: float | None = None) -> Fleet:
    now = time.time() if now is None else now
    window = day_window(today(tz, now), tz)
    counts = per_desk(reader.query(engine, window.start, window.end, COUNTED_KINDS, site))
    statuses = reader.latest(engine, "status", site)
    health = reader.latest(engine, "health", site)
    alerts: dict[tuple[str, str], list[reader.Stored]] = {}
    for e in reader.query(engine, now - LOOKBACK_S, None, ["alert"], site):
        alerts.setdefault(e.key, []).append(e)
    everything = Window(window.first, window.last, now - LOOKBACK_S, now + 86400)
    missing = reader.missing_seq(engine, window.start, window.end, site)
    desks = []
    for seen in reader.desks(engine, site):
        key = (seen.site, seen.desk)
        st = statuses.get(key)
        h = health.get(key)
        open_p = [p for p in problems(alerts.get(key, []), everything) if p.is_open]
        depth = h.doc.get("outbox_depth") if h is not None else None
        desks.append(
            DeskState(
                site=seen.site,
                desk=seen.desk,
                online=None if st is None else st.state == "online",
                status_since=None if st is None else effective_time(st),
                last_seen=seen.last_ts,
                counts=counts.get(key, Counts()),
                open_problems=tuple(open_p),
                sources=_sources(h.doc) if h is not None else (),
                outbox_depth=depth if isinstance(depth, int) else None,
                silent_s=None if st is None else silent_for(st, h, seen.last_received, now),
                missing_seq=missing.get(key, 0),
            )
        )
    refused = reader.quarantined(engine, now - 86400) if site is None else {}
    return Fleet(window, now, tuple(desks), refused)


# --- the fleet at a glance for a district (from the rollups) ------------------------------------
GROUPS: tuple[str, ...] = ("offline", "silent", "sources", "problems", "ok")
"""Desk states, worst first: offline; silent (says online, sends nothing); a source (camera,
thermometer, vision) not ok; open problems; ok."""

GLANCE_PER_PAGE = 100


@dataclass(frozen=True, slots=True)
class GlanceFilters:
    """``/?group=offline&q=east&kind=crowding&page=2``."""

    group: str | None = None
    q: str = ""
    kind: str | None = None
    page: int = 1
    per_page: int = GLANCE_PER_PAGE

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> GlanceFilters:
        group = params.get("group") or None
        if group is not None and group not in GROUPS:
            raise ConfigError(f"group: {group[:20]!r} is not one of {', '.join(GROUPS)}")
        base = Filters.from_query(
            {k: v for k, v in params.items() if k in ("q", "kind", "page", "per_page")}
        )
        per_page = base.per_page if "per_page" in params else GLANCE_PER_PAGE
        return cls(group, base.q, base.kind, base.page, per_page)

    def query(self, **change: object) -> str:
        values = {"group": self.group or "", "q": self.q, "kind": self.kind or "",
                  "page": str(self.page) if self.page != 1 else ""}  # fmt: skip
        for k, v in change.items():
            values[k] = "" if v is None else str(v)
        return urlencode({k: v for k, v in values.items() if v})


@dataclass(frozen=True, slots=True)
class DeskGlance:
    """One desk on the district's fleet page."""

    site: str
    desk: str
    name: str | None
    group: str
    online: bool | None
    status_since: float | None
    last_seen: float | None
    """The newest health or status that took effect (from the rollups)."""
    version: str | None
    models: tuple[tuple[str, str], ...]
    """Task -> model (``<name>@<sha256 prefix>``), from the desk's newest status (``models``)."""
    sources: tuple[str, ...]
    outbox_depth: int | None
    silent_s: float | None
    screened: int
    fevers: int
    open_problems: tuple[DayProblem, ...]


@dataclass(frozen=True, slots=True)
class Glance:
    """The fleet page: counts per group, one page of desks (worst first), open problems."""

    window: Window
    generated: float
    filters: GlanceFilters
    groups: dict[str, int]
    """Desks per group (the viewer's clinics, before filters)."""
    desks: tuple[DeskGlance, ...]
    matched: int
    open_problems: tuple[DayProblem, ...]
    """Every open problem of the viewer's clinics (offline desks included), oldest first."""
    versions: dict[str, int]
    """Box version -> desks."""
    quarantined: dict[str, int] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    missing: dict[tuple[str, str], int] = field(default_factory=dict)
    """Sequence numbers missing among today's events per desk (events lost between the box and
    here; the technician's line)."""

    @property
    def missing_seq(self) -> int:
        return sum(self.missing.values())

    @property
    def desks_missing(self) -> int:
        return sum(1 for v in self.missing.values() if v)

    @property
    def total(self) -> int:
        return sum(self.groups.values())

    @property
    def pages(self) -> int:
        return max(1, -(-self.matched // self.filters.per_page))


@dataclass(frozen=True, slots=True)
class _Last:
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


MAX_MODELS = 3
"""Models shown per desk (the contract names three tasks: face, mask, person)."""
_SHORT = re.compile(r"[ -~]{1,40}")
"""A model's task or label as shown: 1 to 40 printable ASCII characters."""


def _models(doc: dict[str, object]) -> tuple[tuple[str, str], ...]:
    """The models a desk's status names (``models``: task -> ``<name>@<sha256 prefix>``), read as
    untrusted input: only string tasks and labels of 1 to 40 printable ASCII characters, at most
    :data:`MAX_MODELS` of them (of the first 16 entries), sorted; anything else is left out."""
    m = doc.get("models")
    if not isinstance(m, dict):
        return ()
    kept = [
        (k, v)
        for k, v in islice(m.items(), 16)
        if isinstance(k, str) and isinstance(v, str) and _SHORT.fullmatch(k) and _SHORT.fullmatch(v)
    ]
    return tuple(sorted(kept)[:MAX_MODELS])


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


def _shared_reads(engine: Engine, sites: frozenset[str] | None, now: float, day: date) -> _Reads:
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


def _shared_missing(
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


def glance(
    engine: Engine,
    tz: ZoneInfo,
    sites: frozenset[str] | None = None,
    filters: GlanceFilters | None = None,
    names: Mapping[str, str] | None = None,
    now: float | None = None,
) -> Glance:
    """The fleet page for the viewer's clinics ``sites`` (None = all), from the rollups, the
    newest health and status of each desk (read by their exact times) and the open problems."""
    f = filters or GlanceFilters()
    names = names or {}
    now = time.time() if now is None else now
    window = day_window(today(tz, now), tz)
    missing = _shared_missing(engine, sites, window)
    lasts, health, statuses, counts, open_by_site, refused = _shared_reads(
        engine, sites, now, window.first
    )
    open_by_desk: dict[tuple[str, str], list[DayProblem]] = {}
    for ps in open_by_site.values():
        for p in ps:
            open_by_desk.setdefault((p.site, p.desk), []).append(p)
    desks: list[DeskGlance] = []
    for x in lasts:
        key = (x.site, x.desk)
        h = health.get(key)
        st = statuses.get(key)
        is_online = None if x.status is None else x.status == "online"
        silent = None
        if is_online:
            every = st.number("health_every_s") if st is not None else None
            limit = 3 * every if every else SILENT_AFTER_S
            age = now - (x.last_health if x.last_health is not None else (x.status_at or now))
            silent = age if age > limit else None
        sources = _sources(h.doc) if h is not None else ()
        problems_here = list(open_by_desk.get(key, []))
        if is_online is False and not any(p.alert == OFFLINE for p in problems_here):
            problems_here.append(DayProblem(x.site, x.desk, NOT_WORKING, OFFLINE, None,
                                            x.status_at, None, now - (x.status_at or now)))  # fmt: skip
        if is_online is False:
            group = "offline"
        elif silent is not None:
            group = "silent"
        elif sources:
            group = "sources"
        elif problems_here:
            group = "problems"
        else:
            group = "ok"
        depth = h.doc.get("outbox_depth") if h is not None else None
        version = h.doc.get("version") if h is not None else None
        desks.append(
            DeskGlance(
                site=x.site,
                desk=x.desk,
                name=names.get(x.site),
                group=group,
                online=is_online,
                status_since=x.status_at,
                last_seen=max(
                    (v for v in (x.last_health, x.status_at) if v is not None), default=None
                ),
                version=version[:32] if isinstance(version, str) else None,
                models=_models(st.doc) if st is not None else (),
                sources=sources,
                outbox_depth=depth if isinstance(depth, int) else None,
                silent_s=silent,
                screened=counts.get(key, (0, 0))[0],
                fevers=counts.get(key, (0, 0))[1],
                open_problems=tuple(sorted(problems_here, key=lambda p: p.start or 0.0)),
            )
        )
    groups = {g: 0 for g in GROUPS}
    versions: dict[str, int] = {}
    for d in desks:
        groups[d.group] += 1
        versions[d.version or "?"] = versions.get(d.version or "?", 0) + 1
    every_open = sorted((p for d in desks for p in d.open_problems), key=lambda p: p.start or 0.0)
    rank = {g: i for i, g in enumerate(GROUPS)}

    def keep(d: DeskGlance) -> bool:
        if f.group is not None and d.group != f.group:
            return False
        if f.kind is not None and not any(p.kind == f.kind for p in d.open_problems):
            return False
        if f.q:
            q = f.q.casefold()
            return q in d.site.casefold() or q in (d.name or "").casefold()
        return True

    matched = sorted((d for d in desks if keep(d)), key=lambda d: (rank[d.group], d.site, d.desk))
    start = (f.page - 1) * f.per_page
    return Glance(
        window, now, f, groups, tuple(matched[start : start + f.per_page]), len(matched),
        tuple(every_open), dict(sorted(versions.items(), key=lambda kv: -kv[1])), refused, names,
        missing,
    )  # fmt: skip
