"""Screening coverage per desk, clinic and day for the district's reports (issue 23 item 3): the
arrivals the box matched to a temperature result against those it did not, and registration scans,
from the boxes' ``summary`` events (central/store/coverage.py says how a day is read).

What it reads is the collector's rollup ``rollup_coverage`` (central/store/rollups.py): one row per
desk, local date (the summary's own ``date``), period and start, the highest ``seq`` kept. A desk's
day is its ``day`` row when the box sent its day summary, else the sum of its periodic rows so far:
one query by the ``(date, site)`` index, summed in the database, whatever the hour (a full district
day late in the day: ~96,000 rows, 2,000 back), never the day's raw events.

``None`` figures mean "not reported" (a box before issue 23, no camera or no thermometer): shown as
a dash, never as 0 %. No arrival at all is "no arrivals", not 0 % either.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, case, func, select

from central.i18n import N_, Translator
from central.report.days import Window
from central.store.coverage import Coverage
from central.store.tables import rollup_coverage

Desk = tuple[str, str]


def _sums() -> list[Any]:
    c = rollup_coverage.c
    is_day = c.period == "day"
    cols = (c.screened, c.unscreened, c.scans)
    return [
        func.max(case((is_day, 1), else_=0)),
        *(func.sum(case((is_day, col))) for col in cols),
        *(func.sum(col) for col in cols),
    ]


def _figures(values: Iterable[object]) -> Coverage:
    return Coverage(*(None if v is None else int(v) for v in values))  # type: ignore[call-overload]


def desk_coverage(
    conn: Connection,
    day: date,
    tz: ZoneInfo,
    sites: Collection[str] | None = None,
    desks: Iterable[Desk] = (),
    window: Window | None = None,
) -> dict[Desk, Coverage]:
    """Each desk's figures for local ``day`` (desks with none reported left out); ``sites``: the
    viewer's clinics (None = all). ``tz``, ``desks`` and ``window`` are not needed any more (the
    rollup is keyed by the box's own local date and knows the desks): kept for the callers."""
    c = rollup_coverage.c
    stmt = select(c.site, c.desk, *_sums()).where(c.date == day).group_by(c.site, c.desk)
    if sites is not None:
        stmt = stmt.where(c.site.in_(sorted(sites)))
    out: dict[Desk, Coverage] = {}
    for row in conn.execute(stmt):
        site, desk, has_day, sums = row[0], row[1], row[2], tuple(row[3:])
        cov = _figures(sums[:3] if has_day else sums[3:])
        if cov != Coverage():
            out[(site, desk)] = cov
    return out


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
    the rollup)."""
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
