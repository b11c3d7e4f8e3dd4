"""Screening coverage per desk, clinic and day for the district's reports (issue 23 item 3): the
arrivals the box matched to a temperature result against those it did not, and registration scans,
read from the boxes' stored ``summary`` events (central/store/coverage.py says how a day is read).

What it reads, by the ``(kind, ts)`` index only (never a day's millions of counted events):

- the **day summaries**: a box publishes the summary of local date D with ``ts`` the end of D
  (local midnight), also when it sends it later after being off (docs/EVENTS.md), so the summaries
  stored at the day's end are a desk's whole day: two a desk (the day and the last 15-min period);
- for the desks of the day (``desks``: those in the rollups) that sent no day summary (the current
  day, or a box off since midnight), the day's periodic summaries that carry coverage figures
  (selected in the database by the field names, so old boxes' summaries are not even fetched),
  summed once per period. The district's time zone is the boxes' (their local dates are its days).

``None`` figures mean "not reported" (a box before issue 23, no camera or no thermometer): shown as
a dash, never as 0 %. No arrival at all is "no arrivals", not 0 % either.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, or_, select
from sqlalchemy import text as sql
from sqlalchemy.exc import DBAPIError

from central.i18n import N_, Translator
from central.report.days import Window, day_window
from central.store.coverage import FIELDS, Coverage, day_coverage
from central.store.reader import SANE
from central.store.records import TS_MAX, TS_MIN, strict_json
from central.store.tables import events

Desk = tuple[str, str]
SLACK_S = 1.0
"""Around the day's end, for a day summary's ``ts`` (the end of the local day)."""
SITE_FILTER_MAX = 500
"""Desks missing their day summary up to which the periodic read is narrowed to their clinics."""


def _load(text: str) -> dict[str, Any]:
    try:
        doc = strict_json(text)
    except Exception:  # not strict JSON: read as empty (central/store/reader.py)
        return {}
    return doc if isinstance(doc, dict) else {}


def _summaries(
    conn: Connection, start: float, end: float, sites: Collection[str] | None, coverage_only: bool
) -> Iterator[tuple[Desk, dict[str, Any]]]:
    """``summary`` payloads with ``start <= ts <= end`` by the (kind, ts) index."""
    stmt = select(events.c.site, events.c.desk, events.c.payload).where(
        events.c.kind == "summary", events.c.ts >= start, events.c.ts <= end, SANE
    )
    if sites is not None:
        stmt = stmt.where(events.c.site.in_(sorted(sites)))
    if coverage_only:
        stmt = stmt.where(
            or_(*(events.c.payload.contains(f'"{f}"', autoescape=True) for f in FIELDS))
        )
    for site, desk, payload in conn.execute(stmt, execution_options={"yield_per": 2000}):
        yield (site, desk), _load(payload)


def desk_coverage(
    conn: Connection,
    day: date,
    tz: ZoneInfo,
    sites: Collection[str] | None = None,
    desks: Iterable[Desk] = (),
    window: Window | None = None,
) -> dict[Desk, Coverage]:
    """Each desk's figures for local ``day`` (desks with none reported left out); ``sites``: the
    viewer's clinics (None = all); ``desks``: the day's desks, read from their periodic summaries
    when they sent no day summary."""
    w = window or day_window(day, tz)
    iso = day.isoformat()
    found: dict[Desk, list[dict[str, Any]]] = defaultdict(list)
    for key, doc in _summaries(conn, w.end - SLACK_S, w.end + SLACK_S, sites, False):
        if doc.get("period") == "day" and doc.get("date") == iso:
            found[key].append(doc)
    out = {k: day_coverage(docs, iso) for k, docs in found.items()}
    missing = {k for k in desks if k not in found and (sites is None or k[0] in sites)}
    if missing:
        narrow = {s for s, _ in missing} if len(missing) <= SITE_FILTER_MAX else sites
        periods = _periods_in_database(conn, w, narrow, iso)
        if periods is None:
            docs: dict[Desk, list[dict[str, Any]]] = defaultdict(list)
            for key, doc in _summaries(conn, w.start, w.end + SLACK_S, narrow, True):
                if key in missing and doc.get("period") != "day":
                    docs[key].append(doc)
            periods = {k: day_coverage(d, iso) for k, d in docs.items()}
        out.update((k, c) for k, c in periods.items() if k in missing)
    return {k: c for k, c in out.items() if c != Coverage()}


_PERIODS_SQL = sql(
    """
SELECT site, desk,
  SUM(CASE WHEN a ~ '^[0-9]{1,15}$' THEN CAST(a AS bigint) END),
  SUM(CASE WHEN u ~ '^[0-9]{1,15}$' THEN CAST(u AS bigint) END),
  SUM(CASE WHEN n ~ '^[0-9]{1,15}$' THEN CAST(n AS bigint) END)
FROM (
  SELECT DISTINCT ON (site, desk, period, start) site, desk, a, u, n
  FROM (
    SELECT site, desk, seq, j->>'start' AS start,
      CASE WHEN jsonb_typeof(j->'period') = 'string' THEN j->>'period' END AS period,
      CASE WHEN jsonb_typeof(j->'date') = 'string' THEN j->>'date' END AS date,
      CASE WHEN jsonb_typeof(j->'arrivals_screened') = 'number' THEN j->>'arrivals_screened' END AS a,
      CASE WHEN jsonb_typeof(j->'arrivals_unscreened') = 'number' THEN j->>'arrivals_unscreened' END AS u,
      CASE WHEN jsonb_typeof(j->'scans') = 'number' THEN j->>'scans' END AS n
    FROM (
      SELECT site, desk, seq, payload::jsonb AS j FROM events
      WHERE kind = 'summary' AND ts >= :start AND ts <= :end AND ts >= :ts_min AND ts < :ts_max
        AND (payload LIKE '%"arrivals_screened"%' OR payload LIKE '%"arrivals_unscreened"%'
             OR payload LIKE '%"scans"%')
        AND (CAST(:sites AS text[]) IS NULL OR site = ANY(CAST(:sites AS text[])))
      OFFSET 0
    ) parsed
    WHERE jsonb_typeof(j) = 'object'
    OFFSET 0
  ) fields
  WHERE period IS NOT NULL AND period <> 'day' AND date = :date
  ORDER BY site, desk, period, start, seq DESC NULLS LAST
) periods
GROUP BY site, desk
"""
)


def _periods_in_database(
    conn: Connection, w: Window, sites: Collection[str] | None, iso: str
) -> dict[Desk, Coverage] | None:
    """On PostgreSQL, the day's periodic figures per desk parsed, kept once per period (the highest
    ``seq``) and summed in the database (a full district day: ~96,000 summaries, 2,000 rows back);
    None elsewhere, or when a stored payload is not JSON PostgreSQL reads (then Python reads them,
    defensively). Counts that are not non-negative integers add nothing, as in
    central/store/coverage.py."""
    if conn.dialect.name != "postgresql":
        return None
    params = {"start": w.start, "end": w.end + SLACK_S, "ts_min": TS_MIN, "ts_max": TS_MAX,
              "sites": None if sites is None else sorted(sites), "date": iso}  # fmt: skip
    try:  # on a connection of its own: a failed statement leaves the caller's one usable
        with conn.engine.connect() as own:
            rows = own.execute(_PERIODS_SQL, params).all()
    except DBAPIError:
        return None
    return {(r[0], r[1]): Coverage(*(None if v is None else int(v) for v in r[2:])) for r in rows}


def per_site(per_desk: Mapping[Desk, Coverage]) -> dict[str, Coverage]:
    """The desks' figures summed per clinic."""
    out: dict[str, Coverage] = {}
    for (site, _), c in per_desk.items():
        out[site] = out.get(site, Coverage()) + c
    return out


def total(covs: Iterable[Coverage]) -> Coverage:
    out = Coverage()
    for c in covs:
        out = out + c
    return out


def days_coverage(
    conn: Connection,
    first: date,
    last: date,
    tz: ZoneInfo,
    sites: Collection[str] | None,
    desks_by_day: Mapping[date, Iterable[Desk]],
) -> dict[str, Coverage]:
    """Per clinic, the figures of the local days ``first``..``last`` summed (a week: 7 reads of
    the day summaries, plus the periodic ones of desks without theirs)."""
    out: dict[str, Coverage] = {}
    d = first
    while d <= last:
        for site, c in per_site(desk_coverage(conn, d, tz, sites, desks_by_day.get(d, ()))).items():
            out[site] = out.get(site, Coverage()) + c
        d += timedelta(days=1)
    return out


# --- words ---------------------------------------------------------------------------------------
NOT_REPORTED = "\u2013"
"""A figure the box did not send (never 0)."""
LABEL = N_("Screening coverage")
SCANS = N_("Registration scans")


def percent(c: Coverage, t: Translator) -> str:
    """``80%`` / ``76.9%``; a dash when not reported, "no arrivals" when nobody arrived."""
    if c.arrivals is None:
        return NOT_REPORTED
    if c.percent is None:
        return t.gettext("no arrivals")
    return f"{t.number(c.percent)}%"


def count(v: int | None, t: Translator) -> str:
    """A count, or a dash when not reported."""
    return NOT_REPORTED if v is None else t.number(v)


def value(c: Coverage, t: Translator) -> str:
    """``80% (40 of 50 arrivals screened)``, "not reported" or "no arrivals"."""
    if c.arrivals is None:
        return t.gettext("not reported")
    if c.percent is None:
        return t.gettext("no arrivals")
    return t.gettext("%(pct)s (%(screened)s of %(arrivals)s arrivals screened)") % {
        "pct": percent(c, t),
        "screened": t.number(c.screened or 0),
        "arrivals": t.number(c.arrivals),
    }


def text(c: Coverage, t: Translator) -> str:
    """One line: "Screening coverage: 80% (40 of 50 arrivals screened); registration scans 30"."""
    line = f"{t.gettext(LABEL)}: {value(c, t)}"
    if c.scans is not None:
        line += t.gettext("; registration scans %(n)s") % {"n": t.number(c.scans)}
    return line


def change(this: Coverage, last: Coverage, t: Translator) -> str:
    """The change in percentage points (``+5.0 pt``), a dash unless both weeks have a percentage."""
    if this.percent is None or last.percent is None:
        return NOT_REPORTED
    return t.gettext("%(points)s pt") % {"points": f"{this.percent - last.percent:+.1f}"}
