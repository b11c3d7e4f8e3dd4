"""Rollups: per desk and local day, the day's counts, kept up to date as events are stored.

The collector adds the events that were new in a batch to ``rollup_days`` and ``rollup_alerts``
in the same transaction as the events (central/store/writer.py), so a rollup never counts an event
that is not stored, nor one twice (a redelivered event is not new). ``triage-central reconcile``
rebuilds them from the raw events (:func:`reconcile`) and says whether they matched.

What a day's counts are is what the reports count (central/report/counts.py, checked by a test):
``screened`` = temperature results normal + fever, ``fevers``, ``invalid``; ``arrivals`` = the sum
of ``people`` in periodic occupancy events (those with ``window_s``); ``peak`` = the highest
occupancy ``count``/``max``; alerts raised by name, and of those, how many a mask alert (``unmasked``,
``staff_unmasked``) raised for a mask worn wrong (``worn_wrong``: the raise's ``cause`` is exactly
``worn_wrong``; another value, or the field on another alert, counts nothing: box input is
untrusted). Besides: ``events`` (every kind stored),
``last_status`` (the state of the day's status that took effect last: a Will, ``offline`` not
``stopped``, takes effect when it was received, every other status at its ``ts``; ties go to the
greater state name) and ``last_health`` (the newest ``health`` ts). The day is the local date of the
event's ``ts`` in the district time zone, which the database records (``central_meta.rollup_tz``)
so every collector and every rebuild uses the same days.

``rollup_coverage`` keeps the screening coverage figures of the boxes' ``summary`` events
(central/store/coverage.py): one row per desk, local date (the summary's own ``date`` field, not
its ``ts``), ``period`` and ``start``, the summary with the highest ``seq`` kept (a period sent
again with a higher ``seq`` replaces it, a lower one does not: ``ON CONFLICT ... DO UPDATE ...
WHERE excluded.seq > rollup_coverage.seq``). Only summaries carrying one of the coverage fields
write a row (a box from before issue 23 writes none); a count that is absent, negative or not an
integer is NULL. :func:`reconcile` rebuilds it for the days it reconciles, from the summaries
stored around them, which is also how a database migrated with stored summaries fills it.

Problem minutes are not rolled up: a problem's minutes need its raise and its clear, which may
arrive in any order and in different batches; the daily notification computes them.

One module because the day, alert and coverage rollups are one unit: written in the same
transaction by :func:`add` and the coverage upsert, rebuilt by one :func:`reconcile` that locks the
three tables in one order; split, that lock order and the shared day arithmetic would be spread
over modules that must change together.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Insert, Table, and_, case, delete, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite

from central.config import ConfigError, zone
from central.store import bulk, reader
from central.store.coverage import FIELDS, of_summary
from central.store.partitions import get_meta, horizon
from central.store.reader import Stored
from central.store.records import strict_json
from central.store.tables import central_meta, events, rollup_alerts, rollup_coverage, rollup_days

Key = tuple[str, str, date]
"""(site, desk, local day)"""


def is_worn_wrong(e: Stored) -> bool:
    """A mask alert whose ``cause`` is ``worn_wrong`` (a mask worn wrong: nose or mouth uncovered,
    :attr:`Stored.cause`); any other value, or a ``cause`` on another alert, is not."""
    return e.cause == "worn_wrong"


@dataclass(frozen=True, slots=True)
class DayRollup:
    """One desk's local day."""

    site: str
    desk: str
    day: date
    events: int = 0
    screened: int = 0
    fevers: int = 0
    invalid: int = 0
    arrivals: int = 0
    peak: int = 0
    raised: dict[str, int] = field(default_factory=dict)
    """Alerts raised, by name."""
    worn_wrong: dict[str, int] = field(default_factory=dict)
    """Of those, raised for a mask worn wrong (:func:`is_worn_wrong`), by name (names with none are
    absent)."""
    last_status: str | None = None
    last_status_at: float | None = None
    last_health: float | None = None

    @property
    def key(self) -> Key:
        return (self.site, self.desk, self.day)

    @property
    def problems(self) -> int:
        return sum(self.raised.values())

    def differences(self, other: DayRollup) -> list[str]:
        """``name: self X, other Y`` for each value that differs."""
        out = []
        for name in ("events", "screened", "fevers", "invalid", "arrivals", "peak",
                     "last_status", "last_status_at", "last_health"):  # fmt: skip
            a, b = getattr(self, name), getattr(other, name)
            if a != b:
                out.append(f"{name} {a}/{b}")
        for alert in sorted(set(self.raised) | set(other.raised)):
            a, b = self.raised.get(alert, 0), other.raised.get(alert, 0)
            if a != b:
                out.append(f"raised:{alert} {a}/{b}")
        for alert in sorted(set(self.worn_wrong) | set(other.worn_wrong)):
            a, b = self.worn_wrong.get(alert, 0), other.worn_wrong.get(alert, 0)
            if a != b:
                out.append(f"worn_wrong:{alert} {a}/{b}")
        return out


def is_will(e: Stored) -> bool:
    """An ``offline`` status that is the MQTT Will (not a clean stop)."""
    return e.state == "offline" and e.doc.get("reason") != "stopped"


class _Tally:
    """Accumulates one desk-day (the rules of central/report/counts.py's Tally, and more)."""

    def __init__(self) -> None:
        self.events = 0
        self.results: Counter[str] = Counter()
        self.arrivals = 0
        self.peak = 0
        self.raised: Counter[str] = Counter()
        self.worn_wrong: Counter[str] = Counter()
        self.status: tuple[float, str] | None = None
        self.health: float | None = None

    def add(self, e: Stored) -> None:
        self.events += 1
        if e.kind == "temperature":
            result = e.doc.get("result")
            self.results[result if isinstance(result, str) else "unknown"] += 1
        elif e.kind == "occupancy":
            self.peak = max(self.peak, e.integer("count"), e.integer("max"))
            if e.number("window_s") is not None:
                self.arrivals += e.integer("people")
        elif e.kind == "alert" and e.state == "raised" and e.alert:
            self.raised[e.alert] += 1
            if is_worn_wrong(e):
                self.worn_wrong[e.alert] += 1
        elif e.kind == "status" and e.state:
            at = (e.received if is_will(e) else e.ts, e.state)
            if self.status is None or at > self.status:
                self.status = at
        elif e.kind == "health" and (self.health is None or e.ts > self.health):
            self.health = e.ts

    def rollup(self, key: Key) -> DayRollup:
        return DayRollup(
            *key,
            events=self.events,
            screened=self.results["normal"] + self.results["fever"],
            fevers=self.results["fever"],
            invalid=self.results["invalid"],
            arrivals=self.arrivals,
            peak=self.peak,
            raised=dict(sorted(self.raised.items())),
            worn_wrong=dict(sorted(self.worn_wrong.items())),
            last_status=self.status[1] if self.status else None,
            last_status_at=self.status[0] if self.status else None,
            last_health=self.health,
        )


def local_day(ts: float, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(ts, tz).date()


def day_bounds(day: date, tz: ZoneInfo) -> tuple[float, float]:
    """Local midnight to the next local midnight, POSIX seconds (as central/report/days.py)."""
    start = datetime.combine(day, time(0), tz).timestamp()
    end = datetime.combine(day + timedelta(days=1), time(0), tz).timestamp()
    return start, end


def compute(stored: Iterable[Stored], tz: ZoneInfo) -> dict[Key, DayRollup]:
    """The rollups of ``stored`` events, per (site, desk, local day)."""
    tallies: dict[Key, _Tally] = {}
    for e in stored:
        key = (e.site, e.desk, local_day(e.ts, tz))
        tallies.setdefault(key, _Tally()).add(e)
    return {k: t.rollup(k) for k, t in sorted(tallies.items())}


# --- the district time zone the rollups are kept in ------------------------------------------------
def check_tz(conn: Connection, tz: str) -> None:
    """Record ``tz`` as the rollups' time zone if none is recorded; :class:`ConfigError` when
    another one is (days would not be the same days)."""
    zone(tz)
    kept = get_meta(conn, "rollup_tz")
    if kept is None:
        ins = _insert(conn, central_meta).values(key="rollup_tz", value=tz)
        conn.execute(ins.on_conflict_do_nothing())  # type: ignore[attr-defined]
        kept = get_meta(conn, "rollup_tz")
    if kept != tz:
        raise ConfigError(
            f"tz: the database keeps its daily rollups in {kept!r}, not {tz!r}; run with "
            f"--tz {kept} (or rebuild them: triage-central reconcile --retz --since <first day> "
            f"--tz {tz})"
        )


def ensure_tz(engine: Engine, tz: str) -> None:
    """:func:`check_tz` in its own transaction."""
    with engine.begin() as conn:
        check_tz(conn, tz)


def kept_tz(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return get_meta(conn, "rollup_tz")


# --- writing ---------------------------------------------------------------------------------------
def _insert(conn: Connection, table: Table) -> Insert:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _day_row(r: DayRollup) -> dict[str, object]:
    return {
        "site": r.site, "desk": r.desk, "day": r.day, "events": r.events,
        "screened": r.screened, "fevers": r.fevers, "invalid": r.invalid,
        "arrivals": r.arrivals, "peak": r.peak, "last_status": r.last_status,
        "last_status_at": r.last_status_at, "last_health": r.last_health,
    }  # fmt: skip


def _alert_rows(rollups: Iterable[DayRollup]) -> list[dict[str, object]]:
    return [
        {
            "site": r.site,
            "desk": r.desk,
            "day": r.day,
            "alert": a,
            "raised": n,
            "worn_wrong": r.worn_wrong.get(a, 0),
        }
        for r in rollups
        for a, n in sorted(r.raised.items())
    ]


def _days_upsert(ins: Insert) -> Insert:
    t = rollup_days
    ex = ins.excluded  # type: ignore[attr-defined]
    newer = and_(
        ex.last_status_at.is_not(None),
        or_(
            t.c.last_status_at.is_(None),
            ex.last_status_at > t.c.last_status_at,
            and_(ex.last_status_at == t.c.last_status_at, ex.last_status > t.c.last_status),
        ),
    )
    later_health = or_(t.c.last_health.is_(None), ex.last_health > t.c.last_health)
    return ins.on_conflict_do_update(  # type: ignore[attr-defined,no-any-return]
        index_elements=[t.c.site, t.c.desk, t.c.day],
        set_={
            "events": t.c.events + ex.events,
            "screened": t.c.screened + ex.screened,
            "fevers": t.c.fevers + ex.fevers,
            "invalid": t.c.invalid + ex.invalid,
            "arrivals": t.c.arrivals + ex.arrivals,
            "peak": case((ex.peak > t.c.peak, ex.peak), else_=t.c.peak),
            "last_status": case((newer, ex.last_status), else_=t.c.last_status),
            "last_status_at": case((newer, ex.last_status_at), else_=t.c.last_status_at),
            "last_health": case((later_health, ex.last_health), else_=t.c.last_health),
        },
    )


def _alerts_upsert(ins: Insert) -> Insert:
    a = rollup_alerts
    ex = ins.excluded  # type: ignore[attr-defined]
    return ins.on_conflict_do_update(  # type: ignore[attr-defined,no-any-return]
        index_elements=[a.c.site, a.c.desk, a.c.day, a.c.alert],
        set_={"raised": a.c.raised + ex.raised, "worn_wrong": a.c.worn_wrong + ex.worn_wrong},
    )


_DAY_COLUMNS = tuple(c.name for c in rollup_days.c)
_ALERT_COLUMNS = tuple(c.name for c in rollup_alerts.c)
_PG_DAYS = _days_upsert(
    postgresql.insert(rollup_days).from_select(
        _DAY_COLUMNS, bulk.unnest_select(rollup_days, _DAY_COLUMNS)
    )
)
_PG_ALERTS = _alerts_upsert(
    postgresql.insert(rollup_alerts).from_select(
        _ALERT_COLUMNS, bulk.unnest_select(rollup_alerts, _ALERT_COLUMNS)
    )
)


def add(conn: Connection, rollups: Sequence[DayRollup]) -> None:
    """Add ``rollups`` (of events that were new) to the stored ones, in key order (two collectors
    updating the same desks lock the rows in the same order: no deadlock). On PostgreSQL each
    table is one statement (central/store/bulk.py)."""
    if not rollups:
        return
    ordered = sorted(rollups, key=lambda r: r.key)
    days = [_day_row(r) for r in ordered]
    alerts = _alert_rows(ordered)
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_DAYS, bulk.arrays(days, _DAY_COLUMNS))
        if alerts:
            conn.execute(_PG_ALERTS, bulk.arrays(alerts, _ALERT_COLUMNS))
        return
    conn.execute(_days_upsert(_insert(conn, rollup_days)), days)
    if alerts:
        conn.execute(_alerts_upsert(_insert(conn, rollup_alerts)), alerts)


# --- screening coverage ------------------------------------------------------------------------------
CoverageKey = tuple[str, str, date, str, str]
"""(site, desk, local date, period, start)"""
COUNT_MAX = 2**62
"""A coverage count above this reads as not reported (no column holds it; no box counts so far)."""
_SUMMARY_SLACK_S = 86400.0
"""Around a reconciled day: the summaries of local date D are read with ``ts`` within a day of it
(a day summary's ``ts`` is the day's end; a box's clock or zone may be a little off)."""


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """One summary's coverage figures, as ``rollup_coverage`` keeps them."""

    site: str
    desk: str
    date: date
    period: str
    start: str
    seq: int
    screened: int | None
    unscreened: int | None
    scans: int | None

    @property
    def key(self) -> CoverageKey:
        return (self.site, self.desk, self.date, self.period, self.start)

    @property
    def figures(self) -> tuple[int, int | None, int | None, int | None]:
        return (self.seq, self.screened, self.unscreened, self.scans)


def _count(v: int | None) -> int | None:
    return None if v is None or v > COUNT_MAX else v


def coverage_row(e: Stored) -> CoverageRow | None:
    """The coverage row of a stored ``summary``, None for another kind, a summary without any of
    the coverage fields (an old box), or one without a ``period`` or a ``YYYY-MM-DD`` ``date``."""
    doc = e.doc
    if e.kind != "summary" or not any(f in doc for f in FIELDS):
        return None
    period, iso, start = doc.get("period"), doc.get("date"), doc.get("start")
    if not isinstance(period, str) or not period or not isinstance(iso, str) or len(iso) != 10:
        return None
    try:
        day = date.fromisoformat(iso)
    except ValueError:
        return None
    c = of_summary(doc)
    return CoverageRow(
        e.site, e.desk, day, period[:16], start[:16] if isinstance(start, str) else "",
        e.seq if e.seq is not None else -1,
        _count(c.screened), _count(c.unscreened), _count(c.scans),
    )  # fmt: skip


def compute_coverage(stored: Iterable[Stored]) -> dict[CoverageKey, CoverageRow]:
    """The coverage rows of ``stored`` events, each key once (the highest ``seq``; the first of
    equal ones, as the upsert keeps the row stored first)."""
    out: dict[CoverageKey, CoverageRow] = {}
    for e in stored:
        row = coverage_row(e)
        if row is None:
            continue
        kept = out.get(row.key)
        if kept is None or row.seq > kept.seq:
            out[row.key] = row
    return dict(sorted(out.items()))


def _coverage_upsert(ins: Insert) -> Insert:
    t = rollup_coverage
    ex = ins.excluded  # type: ignore[attr-defined]
    return ins.on_conflict_do_update(  # type: ignore[attr-defined,no-any-return]
        index_elements=[t.c.site, t.c.desk, t.c.date, t.c.period, t.c.start],
        set_={
            "seq": ex.seq,
            "screened": ex.screened,
            "unscreened": ex.unscreened,
            "scans": ex.scans,
        },
        where=ex.seq > t.c.seq,
    )


_COVERAGE_COLUMNS = tuple(c.name for c in rollup_coverage.c)
_PG_COVERAGE = _coverage_upsert(
    postgresql.insert(rollup_coverage).from_select(
        _COVERAGE_COLUMNS, bulk.unnest_select(rollup_coverage, _COVERAGE_COLUMNS)
    )
)


def add_coverage(conn: Connection, rows: Sequence[CoverageRow]) -> None:
    """Upsert ``rows`` (each key once: :func:`compute_coverage`) in key order, keeping the highest
    ``seq``; on PostgreSQL in one statement (central/store/bulk.py)."""
    if not rows:
        return
    values = [
        {c: getattr(r, c) for c in _COVERAGE_COLUMNS} for r in sorted(rows, key=lambda r: r.key)
    ]
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_COVERAGE, bulk.arrays(values, _COVERAGE_COLUMNS))
        return
    conn.execute(_coverage_upsert(_insert(conn, rollup_coverage)), values)


def read_coverage(conn: Connection, day: date) -> dict[CoverageKey, CoverageRow]:
    """The stored coverage rows of local date ``day``."""
    stmt = select(rollup_coverage).where(rollup_coverage.c.date == day)
    out = {}
    for r in conn.execute(stmt).mappings():
        row = CoverageRow(**{c: r[c] for c in _COVERAGE_COLUMNS})
        out[row.key] = row
    return out


def _doc(payload: str) -> dict[str, Any]:
    """A stored payload read as central/store/reader.py reads it (not strict JSON: empty)."""
    try:
        doc = strict_json(payload)
    except Exception:
        return {}
    return doc if isinstance(doc, dict) else {}


def _summaries_around(conn: Connection, start: float, end: float) -> Iterator[Stored]:
    """The stored ``summary`` events with ``ts`` within :data:`_SUMMARY_SLACK_S` of a day."""
    stmt = (
        select(*reader.COLUMNS)
        .where(events.c.kind == "summary", reader.SANE,
               events.c.ts >= start - _SUMMARY_SLACK_S, events.c.ts <= end + _SUMMARY_SLACK_S)
        .order_by(events.c.ts)
    )  # fmt: skip
    # Not reader.rows: its yield_per would stay on ``conn`` (a server cursor for every statement).
    for r in conn.execute(stmt, execution_options={"yield_per": 2000}):
        seq = r[3] if isinstance(r[3], int) and 0 < r[3] <= reader.PLAUSIBLE else None
        yield Stored(r[0], r[1], r[2], seq, r[4], r[5], r[6], r[7], r[8], _doc(r[9]))


def _reconcile_coverage(conn: Connection, day: date, start: float, end: float) -> list[str]:
    """Rebuild ``day``'s coverage rows from the stored summaries; the differences found."""
    stored = read_coverage(conn, day)
    rebuilt = {k: r for k, r in compute_coverage(_summaries_around(conn, start, end)).items()
               if k[2] == day}  # fmt: skip
    conn.execute(delete(rollup_coverage).where(rollup_coverage.c.date == day))
    add_coverage(conn, list(rebuilt.values()))
    out = []
    for key in sorted(set(stored) | set(rebuilt)):
        a, b = stored.get(key), rebuilt.get(key)
        fa, fb = (None if r is None else r.figures for r in (a, b))
        if fa != fb:
            out.append(f"{day} {key[0]}/{key[1]}: coverage {key[3]} {key[4]} (seq, screened, "
                       f"unscreened, scans) {fa}/{fb}")  # fmt: skip
    return out


# --- reading ---------------------------------------------------------------------------------------
def read(
    conn_or_engine: Engine | Connection,
    first: date,
    last: date | None = None,
    site: str | None = None,
) -> dict[Key, DayRollup]:
    """The stored rollups of the local days ``first`` to ``last`` (inclusive; default ``first``)."""
    last = first if last is None else last
    cond_d = [rollup_days.c.day >= first, rollup_days.c.day <= last]
    cond_a = [rollup_alerts.c.day >= first, rollup_alerts.c.day <= last]
    if site is not None:
        cond_d.append(rollup_days.c.site == site)
        cond_a.append(rollup_alerts.c.site == site)
    days_q = (
        select(rollup_days)
        .where(*cond_d)
        .order_by(rollup_days.c.site, rollup_days.c.desk, rollup_days.c.day)
    )
    alerts_q = select(rollup_alerts).where(*cond_a)

    def run(conn: Connection) -> dict[Key, DayRollup]:
        raised: dict[Key, dict[str, int]] = {}
        worn_wrong: dict[Key, dict[str, int]] = {}
        for a in conn.execute(alerts_q).mappings():
            akey = (a["site"], a["desk"], a["day"])
            raised.setdefault(akey, {})[a["alert"]] = int(a["raised"])
            if a["worn_wrong"]:
                worn_wrong.setdefault(akey, {})[a["alert"]] = int(a["worn_wrong"])
        out: dict[Key, DayRollup] = {}
        for r in conn.execute(days_q).mappings():
            key = (str(r["site"]), str(r["desk"]), r["day"])
            out[key] = DayRollup(
                *key,
                events=int(r["events"]), screened=int(r["screened"]), fevers=int(r["fevers"]),
                invalid=int(r["invalid"]), arrivals=int(r["arrivals"]), peak=int(r["peak"]),
                raised=dict(sorted(raised.get(key, {}).items())),
                worn_wrong=dict(sorted(worn_wrong.get(key, {}).items())),
                last_status=r["last_status"], last_status_at=r["last_status_at"],
                last_health=r["last_health"],
            )  # fmt: skip
        return out

    if isinstance(conn_or_engine, Connection):
        return run(conn_or_engine)
    with conn_or_engine.connect() as conn:
        return run(conn)


def day_counts(
    engine: Engine, day: date, site: str | None = None
) -> dict[tuple[str, str], DayRollup]:
    """Per (site, desk): the rollup of local ``day`` (what a report's per-desk counts are; desks
    with no event that day are absent). For the reports to read instead of the raw events."""
    return {(k[0], k[1]): r for k, r in read(engine, day, day, site).items()}


# --- rebuilding ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reconciled:
    """What :func:`reconcile` found and did."""

    days: tuple[date, ...]
    desk_days: int
    """Desk-days rebuilt (with at least one event)."""
    differences: tuple[str, ...]
    """``<day> <site>/<desk>: <name> stored X/rebuilt Y``, one per desk-day that differed."""
    skipped: tuple[date, ...] = ()
    """Days before the retention's horizon: their raw events are gone, their rollups are kept."""

    @property
    def matched(self) -> bool:
        return not self.differences


def reconcile(engine: Engine, days: Sequence[date], tz: str) -> Reconciled:
    """Rebuild the rollups of local ``days`` from the raw events and compare them with what was
    stored (``rollup_coverage`` too: the rows of the summaries whose own ``date`` is the day). Each day in its own transaction; on PostgreSQL the rollup tables are locked against
    the collectors' writes meanwhile (they wait, then add their new events on top), on SQLite the
    rebuild holds the write lock."""
    zi = zone(tz)
    differences: list[str] = []
    rebuilt_rows = 0
    kept_from = horizon(engine)
    skipped = tuple(d for d in days if day_bounds(d, zi)[0] < kept_from)
    for day in days:
        start, end = day_bounds(day, zi)
        if start < kept_from:
            continue  # its raw events are (partly) gone with the retention: the rollup stays
        with engine.begin() as conn:
            check_tz(conn, tz)
            if conn.dialect.name == "postgresql":
                conn.execute(
                    text(
                        "LOCK TABLE rollup_days, rollup_alerts, rollup_coverage "
                        "IN SHARE ROW EXCLUSIVE MODE"
                    )
                )
            stored = read(conn, day)
            conn.execute(delete(rollup_alerts).where(rollup_alerts.c.day == day))
            conn.execute(delete(rollup_days).where(rollup_days.c.day == day))
            # The raw events as committed now: a collector waiting on the lock has not committed.
            rebuilt = compute(reader.query(engine, start, end), zi)
            rebuilt = {k: r for k, r in rebuilt.items() if k[2] == day}
            for key in sorted(set(stored) | set(rebuilt)):
                a = stored.get(key, DayRollup(*key))
                b = rebuilt.get(key, DayRollup(*key))
                diff = a.differences(b)
                if diff:
                    differences.append(f"{day} {key[0]}/{key[1]}: " + ", ".join(diff))
            add(conn, list(rebuilt.values()))
            rebuilt_rows += len(rebuilt)
            differences.extend(_reconcile_coverage(conn, day, start, end))
    return Reconciled(
        tuple(d for d in days if d not in skipped), rebuilt_rows, tuple(differences), skipped
    )


def retz(engine: Engine, tz: str) -> None:
    """Forget every rollup and record ``tz`` as their time zone (then :func:`reconcile` the days
    wanted): for a district whose time zone was set wrong."""
    zone(tz)
    with engine.begin() as conn:
        conn.execute(delete(rollup_alerts))
        conn.execute(delete(rollup_days))
        conn.execute(delete(central_meta).where(central_meta.c.key == "rollup_tz"))
        conn.execute(central_meta.insert().values(key="rollup_tz", value=tz))
